"""The peer's password hasher: Django's PBKDF2-SHA256 at Gatehouse's iteration count."""
import os

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class BenchPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = int(os.environ.get("PEER_PASSWORD_ROUNDS", "600000"))
