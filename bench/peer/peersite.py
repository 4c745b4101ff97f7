"""Settings of the benchmark's peer: django-oauth-toolkit on SQLite under gunicorn.

Same hash strength as Gatehouse for passwords (PBKDF2-HMAC-SHA256, PEER_PASSWORD_ROUNDS,
Gatehouse's PasswordHasher.defaultRounds); refresh tokens are not rotated, as in Gatehouse.
"""
import os

SECRET_KEY = "bench-peer-settings-key-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "oauth2_provider"]
MIDDLEWARE = []
ROOT_URLCONF = "peerurls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ.get("PEER_DB", "/tmp/peer.sqlite3"),
                         # WAL as Gatehouse's SQLite; writers take the lock at BEGIN (Django 5.1+), so
                         # that concurrent refresh grants queue instead of failing "database is locked"
                         # on a read-to-write upgrade.
                         "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE",
                                     "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}}}
PASSWORD_HASHERS = ["peerhashers.BenchPBKDF2PasswordHasher"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGGING_CONFIG = None
OAUTH2_PROVIDER = {"SCOPES": {"read": "read", "write": "write"}, "ACCESS_TOKEN_EXPIRE_SECONDS": 43200, "ROTATE_REFRESH_TOKEN": False}
