"""GraphQL over HTTP (the GraphQL Foundation's spec): reading a request, naming the media type, request errors.

A request error (the body is not JSON, not an object, has no query; the
method is wrong) never reaches execution: it is answered with a JSON body
``{"errors": [{"message", "extensions": {"code"}}]}`` and a 4xx status, like
every other error of this API, never with plain text or an HTML page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response, patch_vary_headers, set_response_etag

from schema.errors import BAD_USER_INPUT

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
# Preference order on a tie; the first is also the answer to a client that sends no Accept.
# Offered with a charset too: Django matches an Accept entry's parameters exactly.
MEDIA_TYPES = (
    JSON,
    GRAPHQL_RESPONSE_JSON,
    f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8",
    f"{JSON}; charset=utf-8",
)


class RequestError(Exception):
    """A request that cannot be executed; answered with ``status`` and a coded JSON error."""

    def __init__(
        self, status: int, message: str, code: str = BAD_USER_INPUT, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


@dataclass(frozen=True)
class GraphQLRequest:
    """The parameters of one GraphQL request, from a JSON body or a GET query string."""

    query: str | None
    variables: dict[str, Any] | None = None
    operation_name: str | None = None
    extensions: dict[str, Any] = field(default_factory=dict)


def error_body(message: str, code: str) -> dict[str, Any]:
    """The body of a request error: no ``data`` entry, as the spec asks when nothing was executed."""
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def response_media_type(request: HttpRequest) -> str:
    """``application/graphql-response+json`` when the client prefers it, else ``application/json``.

    A client that accepts neither still gets ``application/json``: the spec
    allows that instead of a 406, and it is the more useful answer.
    """
    preferred = request.get_preferred_type(MEDIA_TYPES) or JSON
    return preferred.partition(";")[0]


def _json(text: str | bytes, what: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        # The C decoder recurses once per nesting level: a body of 100,000 '[' ends here.
        raise RequestError(400, f"The {what} nests too deeply.") from None
    except ValueError:  # JSONDecodeError and undecodable bytes alike
        raise RequestError(400, f"The {what} is not valid JSON.") from None


def _object_or_null(value: Any, name: str) -> dict[str, Any] | None:
    if value is not None and not isinstance(value, dict):
        raise RequestError(400, f"`{name}` must be a JSON object.")
    return value


def _string_or_null(value: Any, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise RequestError(400, f"`{name}` must be a string.")
    return value


def _body(request: HttpRequest) -> dict[str, Any]:
    content_type = request.content_type or ""
    if content_type != JSON:
        raise RequestError(415, "Send the request body as application/json.")
    try:
        raw = request.body
    except RequestDataTooBig:
        raise RequestError(413, "The request body is too large.") from None
    payload = _json(raw, "request body")
    if isinstance(payload, list):
        raise RequestError(400, "Batched requests are not supported: send one operation per request.")
    if not isinstance(payload, dict):
        raise RequestError(400, "The request body must be a JSON object with a `query`.")
    return payload


def _params(request: HttpRequest) -> dict[str, Any]:
    params: dict[str, Any] = {name: request.GET.get(name) for name in ("query", "operationName")}
    for name in ("variables", "extensions"):
        text = request.GET.get(name)
        params[name] = _json(text, f"`{name}` parameter") if text else None
    return params


def read_request(request: HttpRequest) -> GraphQLRequest:
    """The request's GraphQL parameters (POST: a JSON object body; GET: the query string)."""
    payload = _params(request) if request.method == "GET" else _body(request)
    return GraphQLRequest(
        query=_string_or_null(payload.get("query"), "query"),
        variables=_object_or_null(payload.get("variables"), "variables"),
        operation_name=_string_or_null(payload.get("operationName"), "operationName"),
        extensions=_object_or_null(payload.get("extensions"), "extensions") or {},
    )


PRIVATE = "private, no-store"


@dataclass(frozen=True)
class Answer:
    """A finished answer, kept whole by schema.response_cache and turned into a response per request."""

    status: int
    media_type: str
    body: bytes
    has_errors: bool
    cache_control: str = PRIVATE
    retry_after: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    # Until when schema.response_cache keeps it (time.monotonic); 0 when it is not kept.
    kept_until: float = 0.0


def response(request: HttpRequest, answer: Answer) -> HttpResponse:
    """The HTTP response of an answer: caching headers, ``Retry-After``, and ``304`` for a matching ETag."""
    result = HttpResponse(answer.body, status=answer.status, content_type=answer.media_type)
    for name, value in answer.headers:
        result[name] = value
    result["Cache-Control"] = answer.cache_control
    # The answer depends on who asks and which media type they accept.
    patch_vary_headers(result, ("Accept", "Accept-Language", "Authorization"))
    if answer.retry_after is not None:
        result["Retry-After"] = str(answer.retry_after)
    if answer.cache_control != PRIVATE and request.method == "GET":
        set_response_etag(result)
        return get_conditional_response(request, etag=result["ETag"], response=result) or result
    return result


def error_answer(error: RequestError, media_type: str) -> Answer:
    """The answer to a request error: its status, and the coded JSON body."""
    body = json.dumps(error_body(error.message, error.code), separators=(",", ":")).encode()
    return Answer(
        status=error.status,
        media_type=media_type,
        body=body,
        has_errors=True,
        headers=tuple(error.headers.items()),
    )
