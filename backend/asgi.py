"""ASGI entry point (gunicorn + uvicorn workers): /graphql on its lean stack (kept answers replayed
in front of it, schema.replay), the rest on Django's."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

# First: it sets Django up, and what follows imports models.
django_application = get_asgi_application()

from django.conf import settings  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from backend.graphql_handler import PATH, GraphQLHandler  # noqa: E402
from backend.keepalive import RequestsPerConnectionLimit  # noqa: E402
from backend.routing import PathRouter  # noqa: E402
from schema.replay import ReplayMiddleware  # noqa: E402

# The URL map, and with it the schema, built now rather than by the worker's first request (a few
# hundred milliseconds on the event loop, which every request arriving meanwhile would wait for).
get_resolver().url_patterns  # noqa: B018

application = RequestsPerConnectionLimit(
    PathRouter({PATH: ReplayMiddleware(GraphQLHandler())}, default=django_application),
    settings.KEEPALIVE_MAX_REQUESTS,
)
