"""ASGI entry point (gunicorn + uvicorn workers): /graphql on its lean stack (kept anonymous answers
replayed in front of it, schema.replay), the rest on Django's."""

import os

from django.conf import settings
from django.core.asgi import get_asgi_application

from backend.graphql_handler import PATH, GraphQLHandler
from backend.keepalive import RequestsPerConnectionLimit
from backend.routing import PathRouter
from schema.replay import ReplayMiddleware

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

django_application = get_asgi_application()
application = RequestsPerConnectionLimit(
    PathRouter({PATH: ReplayMiddleware(GraphQLHandler())}, default=django_application),
    settings.KEEPALIVE_MAX_REQUESTS,
)
