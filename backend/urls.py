"""URL routes: the GraphQL endpoint, probes, metrics and the admin."""

from django.conf import settings
from django.contrib import admin
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from accounts.admin import login as admin_login
from backend.health import healthz, readyz
from backend.metrics import metrics_view
from schema.schema import schema
from schema.views import GraphQLView

urlpatterns = [
    # Token-authenticated API: no cookies are trusted for writes, so CSRF does not apply.
    path(
        "graphql",
        csrf_exempt(
            GraphQLView.as_view(schema=schema, graphql_ide="graphiql" if settings.GRAPHIQL_ENABLED else None)
        ),
    ),
    path("healthz", healthz),
    path("readyz", readyz),
    path("metrics", metrics_view),
    # The admin's sign-in counts against the same attempt limits as tokenAuth.
    path("admin/login/", admin_login),
    path("admin/", admin.site.urls),
]
