"""ASGI entry point (gunicorn + uvicorn workers)."""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

from backend.keepalive import RequestsPerConnectionLimit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

application = RequestsPerConnectionLimit(get_asgi_application(), settings.KEEPALIVE_MAX_REQUESTS)
