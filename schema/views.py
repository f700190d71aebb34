"""The /graphql endpoint: GraphQL over HTTP on strawberry's async Django view, with our request context.

One request, in order: GraphiQL for a browser's bare GET; the request read
(schema.http) and its persisted query resolved (schema.persisted_queries);
a mutation over GET refused; a signed-in catalog query answered from its
viewer-independent answer with the viewer's fields spliced in
(schema.viewer_fields); an anonymous query answered from a few seconds'
memory (schema.response_cache) or executed; then the answer's status, media
type and caching headers. Every request error is a coded JSON body.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from graphql import OperationType
from strawberry.django.views import AsyncGraphQLView, TemporalHttpResponse
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType as StrawberryOperationType

from accounts import auth, services, viewer_state
from backend import single_flight
from movies.catalog import locale
from schema import cost, http, operations, persisted_queries, response_cache, viewer_fields
from schema.context import Context
from schema.errors import INTERNAL_SERVER_ERROR, coded

logger = logging.getLogger(__name__)

# Root fields whose signed-in answer depends on nothing but the viewer's data (its generation) and the
# recommender's model: schema.replay may replay it to that viewer under a key naming both.
VIEWER_ANSWER_ROOTS = frozenset({"recommendations"})

ALLOWED_OPERATIONS = {
    "GET": {StrawberryOperationType.QUERY},
    "POST": {StrawberryOperationType.QUERY, StrawberryOperationType.MUTATION},
}


def _is_request_error(result: ExecutionResult) -> bool:
    """Nothing was executed: the document did not parse or validate, or its variables did not fit."""
    return result.data is None and bool(result.errors) and all(e.path is None for e in result.errors)


def _retry_after(body: GraphQLHTTPResponse) -> int | None:
    """The longest ``retryAfter`` among RATE_LIMITED errors, for the HTTP header."""
    waits = [
        error.get("extensions", {}).get("retryAfter")
        for error in body.get("errors") or []
        if isinstance(error, dict) and error.get("extensions", {}).get("code") == "RATE_LIMITED"
    ]
    numbers = [wait for wait in waits if isinstance(wait, int | float)]
    return max(math.ceil(wait) for wait in numbers) if numbers else None


def _viewer_state_among(user_id: int, template: viewer_fields.Template) -> viewer_fields.State:
    """For a history too long to keep in the shared cache (or Redis not answering): the viewer's state
    among the template's movies (one query per kind)."""
    ids = sorted({movie_id for _, movie_id in template.holes if isinstance(movie_id, int)})
    kinds = {kind for kind, _ in template.holes}
    among = services.viewer_state(user_id, ids, kinds)
    return viewer_state.ViewerState(
        0,
        frozenset(among.get("favorite", ())),
        frozenset(among.get("watchlist", ())),
        among.get("rating", {}),
    )


def _public(request: HttpRequest, answer: http.Answer, executed: bool, max_age: int | None) -> http.Answer:
    """An anonymous GET's answer that every field of allows it: cacheable by anyone for ``max_age``."""
    if executed and not answer.has_errors and request.method == "GET" and max_age:
        return dataclasses.replace(answer, cache_control=f"public, max-age={max_age}")
    return answer


class GraphQLView(AsyncGraphQLView[Context, None]):
    """Builds the typed context, authenticating the request once (JWT in the Authorization header)."""

    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        media_type = http.JSON
        try:
            media_type = http.response_media_type(request)
            return await self._respond(request, media_type)
        except http.RequestError as error:
            return http.response(request, http.error_answer(error, media_type))
        except Exception:
            logger.exception("unexpected error answering a GraphQL request")
            error = http.RequestError(500, "Internal server error.", code=INTERNAL_SERVER_ERROR)
            return http.response(request, http.error_answer(error, media_type))

    async def _respond(self, request: HttpRequest, media_type: str) -> HttpResponseBase:
        if request.method not in ALLOWED_OPERATIONS:
            raise http.RequestError(405, "Use GET or POST.", headers={"Allow": "GET, POST"})
        # A persisted query's GET has no `query` either: only a bare GET opens the IDE.
        if "extensions" not in request.GET and self.should_render_graphql_ide(
            self.request_adapter_class(request)
        ):
            if self.graphql_ide:
                return await self.render_graphql_ide(request)
            raise http.RequestError(400, "No GraphQL query found in the request.")
        graphql_request = http.read_request(request)
        # Catalog fields follow the request's language where the source translates (TMDb);
        # set before the replay key, which depends on it.
        locale.use_language(locale.from_accept_language(request.headers.get("Accept-Language", "")))
        query, to_register = persisted_queries.resolve(graphql_request)
        operation = operations.describe(self.schema._schema, query, graphql_request.operation_name)
        if request.method == "GET" and operation.kind not in (None, OperationType.QUERY):
            raise http.RequestError(405, "Mutations are sent with POST.", headers={"Allow": "POST"})
        anonymous = "Authorization" not in request.headers
        if not anonymous and operation.kind is OperationType.QUERY and not to_register:
            spliced = await self._spliced(request, media_type, query, graphql_request)
            if spliced is not None:
                return http.response(request, spliced)
        key = None
        if anonymous and operation.kind is OperationType.QUERY:
            key = response_cache.key_for(
                request.method or "",
                media_type,
                query,
                graphql_request.variables,
                graphql_request.operation_name,
                locale.language(),
            )
        if key is not None and (kept := response_cache.get(key)) is not None:
            return http.response(request, kept)
        if key is not None:
            answer, executed = await self._anonymous(
                request, media_type, query, graphql_request, key, operation.max_age
            )
        else:
            answer, executed = await self._execute(request, media_type, query, graphql_request)
            if anonymous:
                answer = _public(request, answer, executed, operation.max_age)
        if (
            not anonymous
            and operation.roots & VIEWER_ANSWER_ROOTS
            and operation.roots <= VIEWER_ANSWER_ROOTS | {"__typename"}
            and executed
            and not answer.has_errors
            and answer.status == 200
            and request.user.is_authenticated
        ):
            response_cache.keep_viewer_answer(request.user.pk)
        if executed and to_register:
            persisted_queries.register(to_register, query)
        return http.response(request, answer)

    async def _anonymous(
        self,
        request: HttpRequest,
        media_type: str,
        query: str,
        graphql_request: http.GraphQLRequest,
        key: str,
        max_age: int | None,
        context: Context | None = None,
    ) -> tuple[http.Answer, bool]:
        """An anonymous query's answer, kept; executed once for all the requests asking for ``key``
        meanwhile (a burst after the kept answer expired, a cold start)."""

        async def execute() -> tuple[http.Answer, bool]:
            answer, executed = await self._execute(request, media_type, query, graphql_request, context)
            answer = _public(request, answer, executed, max_age)
            return response_cache.put(key, answer) or answer, executed

        return await single_flight.shared(key, execute)

    async def _spliced(
        self, request: HttpRequest, media_type: str, query: str, graphql_request: http.GraphQLRequest
    ) -> http.Answer | None:
        """A signed-in catalog query answered from its viewer-independent answer (schema.viewer_fields),
        or None to execute it as it is."""
        schema = self.schema._schema
        plan = viewer_fields.split(schema, query, graphql_request.operation_name)
        if plan is None:
            return None
        price = cost.cost_of(schema, query, None, graphql_request.operation_name, graphql_request.variables)
        if price is None or price > settings.GRAPHQL_MAX_COST:
            return None  # refused (or failed) by the usual path, with its error
        context = await self.get_context(request, response=TemporalHttpResponse())
        if context.user is None:
            return None
        key = response_cache.key_for(
            request.method or "",
            media_type,
            plan.query,
            graphql_request.variables,
            graphql_request.operation_name,
            locale.language(),
        )
        kept = response_cache.get(key) if key is not None else None
        if kept is None:
            anonymous = Context(request=request, response=context.response)
            if key is not None:
                max_age = operations.describe(schema, plan.query, graphql_request.operation_name).max_age
                answer, executed = await self._anonymous(
                    request, media_type, plan.query, graphql_request, key, max_age, anonymous
                )
            else:
                answer, executed = await self._execute(
                    request, media_type, plan.query, graphql_request, anonymous
                )
            if not executed or answer.has_errors or answer.status != 200:
                return None
            kept = answer
        template = self._template(key, plan, kept)
        if template is None:
            return None
        try:
            state = await self._viewer_state(context.user.pk, template)
        except DatabaseError:
            return None  # executed as usual: the viewer's fields fail with their own coded errors
        response_cache.keep_template(template)
        return http.Answer(status=200, media_type=media_type, body=template.fill(state), has_errors=False)

    def _template(
        self, key: str | None, plan: viewer_fields.Split, kept: http.Answer
    ) -> viewer_fields.Template | None:
        """The kept answer's template for ``plan``, made once per kept answer."""
        made = response_cache.get_template(key, plan, kept) if key is not None else None
        if made is not None:
            return made
        body = json.loads(kept.body)
        if set(body) != {"data"}:
            return None
        template = viewer_fields.template(plan.root, body["data"], self.encode_json_string, kept.kept_until)
        if template is not None and key is not None:
            response_cache.put_template(key, plan, template)
        return template

    @staticmethod
    async def _viewer_state(user_id: int, template: viewer_fields.Template) -> viewer_fields.State:
        """The viewer's lists: as schema.replay read them with the token, else from the database."""
        known = auth.verified.get()
        if isinstance(known, auth.Verified) and known.user.pk == user_id and known.state is not None:
            return known.state
        if not template.holes:
            return viewer_state.ViewerState(0, frozenset(), frozenset(), {})
        # Redis did not answer schema.replay's check: it is not waited for again, the database answers.
        if isinstance(known, auth.Unanswered):
            return await sync_to_async(_viewer_state_among)(user_id, template)
        # One read of the lists for all of this viewer's requests that need them meanwhile.
        whole = await single_flight.shared(
            f"viewer-state:{user_id}", lambda: sync_to_async(viewer_state.load)(user_id)
        )
        return whole or await sync_to_async(_viewer_state_among)(user_id, template)

    async def _execute(
        self,
        request: HttpRequest,
        media_type: str,
        query: str,
        graphql_request: http.GraphQLRequest,
        context: Context | None = None,
    ) -> tuple[http.Answer, bool]:
        """The answer, and whether the document got past parsing and validation."""
        if context is None:
            context = await self.get_context(request, response=TemporalHttpResponse())
        try:
            result = await self.schema.execute(
                query,
                variable_values=graphql_request.variables,
                context_value=context,
                operation_name=graphql_request.operation_name,
                allowed_operation_types=ALLOWED_OPERATIONS[request.method or "POST"],
                operation_extensions=graphql_request.extensions,
            )
        except CannotGetOperationTypeError as error:
            raise http.RequestError(400, error.as_http_error_reason()) from None
        except InvalidOperationTypeError:
            raise http.RequestError(405, "Mutations are sent with POST.", headers={"Allow": "POST"}) from None
        body = await self.process_result(request, result)
        request_error = _is_request_error(result)
        if request_error:
            body.pop("data", None)
        status = 400 if request_error and media_type == http.GRAPHQL_RESPONSE_JSON else 200
        answer = http.Answer(
            status=status,
            media_type=media_type,
            body=self.encode_json_string(body).encode(),
            has_errors=bool(result.errors),
            retry_after=_retry_after(body),
        )
        return answer, not request_error

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
