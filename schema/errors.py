"""Error codes of the public contract: the one place domain errors become coded GraphQL errors.

Resolvers and the domain below them raise ``backend.errors`` classes; anything
else that escapes a resolver is logged once with the request id and reaches
the client only as INTERNAL_SERVER_ERROR, so stack traces, SQL, upstream URLs
and keys never leak. The GraphQL view applies ``coded`` to every error of
every result, parse and validation errors included (they never reach a schema
extension's result).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import OperationalError
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from backend.errors import (
    DomainError,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RateLimited,
    TemporarilyUnavailable,
    UpstreamUnavailable,
)

logger = logging.getLogger("schema.errors")

BAD_USER_INPUT = "BAD_USER_INPUT"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"

# Most specific class first: the first match names the code.
CODES: tuple[tuple[type[DomainError], str], ...] = (
    (InvalidInput, BAD_USER_INPUT),
    (NotFound, "NOT_FOUND"),
    (NotAuthenticated, "UNAUTHENTICATED"),
    (PermissionDenied, "FORBIDDEN"),
    (RateLimited, "RATE_LIMITED"),
    (TemporarilyUnavailable, INTERNAL_SERVER_ERROR),
)


def code_of(error: DomainError) -> str:
    """The contract code of a domain error."""
    for cls, code in CODES:
        if isinstance(error, cls):
            return code
    return INTERNAL_SERVER_ERROR


def coded(error: GraphQLError) -> GraphQLError:
    """Return ``error`` with ``extensions.code`` set, masking unexpected ones."""
    original = error.original_error
    if isinstance(original, DomainError):
        return _with_code(error, original.message, code_of(original), original.details)
    if isinstance(original, UpstreamUnavailable):
        # The source's message may name hosts; the client only learns the cause class.
        logger.warning("catalog upstream unavailable: %s", original)
        return _with_code(
            error, "The movie catalog is unavailable right now; try again later.", UPSTREAM_UNAVAILABLE, {}
        )
    if isinstance(original, OperationalError):
        # The database is down, restarting or timed a statement out: nothing the client
        # did; no trace, no SQL. One line each, not a traceback per request of an outage.
        logger.warning("database unavailable in %s: %s", _where(error), type(original).__name__)
        return _with_code(error, "The service is briefly unavailable; try again.", INTERNAL_SERVER_ERROR, {})
    if original is None or (isinstance(original, GraphQLError) and error.path is None):
        # Parse and validation errors (the query limits too) and variables that do not
        # fit their types: the request itself is wrong, nothing failed on our side.
        code = (error.extensions or {}).get("code") or BAD_USER_INPUT
        return _with_code(error, error.message, code, {})
    logger.error("unexpected error in %s", _where(error), exc_info=original)
    return _with_code(error, "Internal server error.", INTERNAL_SERVER_ERROR, {})


def _where(error: GraphQLError) -> str:
    return ".".join(map(str, error.path or [])) or "operation"


def _with_code(error: GraphQLError, message: str, code: str, extra: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={**extra, "code": code},
    )


def refuse(execution_context: ExecutionContext, error: DomainError) -> None:
    """Answers the operation with ``error`` instead of executing it (from a schema extension's
    ``on_execute``, before it yields: strawberry then skips execution, so no resolver or SQL runs)."""
    execution_context.result = GraphQLExecutionResult(
        data=None, errors=[GraphQLError(error.message, original_error=error)]
    )
