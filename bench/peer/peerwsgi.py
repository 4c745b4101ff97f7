"""WSGI entry of the peer for gunicorn."""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peersite")
from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
