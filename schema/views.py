"""The /graphql endpoint: strawberry's async Django view with our request context."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from strawberry.django.views import AsyncGraphQLView
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.types import ExecutionResult

from movies.catalog import locale
from schema import response_cache
from schema.context import Context
from schema.errors import coded


class GraphQLView(AsyncGraphQLView[Context, None]):
    """Builds the typed context, authenticating the request once (JWT in the Authorization header)."""

    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Anonymous read-only queries may be answered from a few seconds' memory (schema.response_cache)."""
        key = response_cache.key_for(request)
        if key is not None and (content := response_cache.get(key)) is not None:
            return HttpResponse(content, content_type="application/json")
        response = await super().dispatch(request, *args, **kwargs)
        if key is not None and response.status_code == 200 and isinstance(response, HttpResponse):
            response_cache.put(key, response.content)
        return response

    async def get_context(self, request: HttpRequest, response: HttpResponse) -> Context:
        from accounts.auth import authenticate_request

        # Catalog fields follow the request's language where the source translates (TMDb).
        locale.use_language(locale.from_accept_language(request.headers.get("Accept-Language", "")))
        user, error = await authenticate_request(request)
        # The JWT decides who is asking, never a session cookie (this view is CSRF-exempt).
        request.user = user if user is not None else AnonymousUser()
        return Context(request=request, response=response, user=user, auth_error=error)

    async def process_result(self, request: HttpRequest, result: ExecutionResult) -> GraphQLHTTPResponse:
        """Every error leaves with a contract code, unexpected ones masked (schema.errors)."""
        if result.errors:
            result.errors = [coded(error) for error in result.errors]
        return process_result(result)
