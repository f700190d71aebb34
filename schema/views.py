"""The /graphql endpoint: strawberry's async Django view with our request context."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from strawberry.django.views import AsyncGraphQLView
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.types import ExecutionResult

from schema.context import Context
from schema.errors import coded


class GraphQLView(AsyncGraphQLView[Context, None]):
    """Builds the typed context, authenticating the request once (JWT in the Authorization header)."""

    async def get_context(self, request: HttpRequest, response: HttpResponse) -> Context:
        from accounts.auth import authenticate_request

        user, error = await authenticate_request(request)
        # The JWT decides who is asking, never a session cookie (this view is CSRF-exempt).
        request.user = user if user is not None else AnonymousUser()
        return Context(request=request, response=response, user=user, auth_error=error)

    async def process_result(self, request: HttpRequest, result: ExecutionResult) -> GraphQLHTTPResponse:
        """Every error leaves with a contract code, unexpected ones masked (schema.errors)."""
        if result.errors:
            result.errors = [coded(error) for error in result.errors]
        return process_result(result)
