"""Error codes of the public contract, and the extension that stamps them.

Resolvers raise the exceptions below; anything else that escapes a resolver
is logged once with the request id and reaches the client only as
INTERNAL_SERVER_ERROR, so stack traces, SQL, upstream URLs and keys never leak.
The GraphQL view applies ``coded`` to every error of every result, parse and
validation errors included (they never reach a schema extension's result).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from graphql import GraphQLError

from movies.records import UpstreamUnavailable

logger = logging.getLogger("schema.errors")


class CodedError(Exception):
    """An error the client may see, with its contract code."""

    code: ClassVar[str] = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions = extensions


class BadUserInput(CodedError):
    code = "BAD_USER_INPUT"


class Unauthenticated(CodedError):
    code = "UNAUTHENTICATED"

    def __init__(self, message: str = "You must be signed in.", **extensions: Any) -> None:
        super().__init__(message, **extensions)


class Forbidden(CodedError):
    code = "FORBIDDEN"


class NotFound(CodedError):
    code = "NOT_FOUND"


class RateLimited(CodedError):
    code = "RATE_LIMITED"


class UpstreamError(CodedError):
    code = "UPSTREAM_UNAVAILABLE"


def coded(error: GraphQLError) -> GraphQLError:
    """Return ``error`` with ``extensions.code`` set, masking unexpected ones."""
    original = error.original_error
    if isinstance(original, CodedError):
        return _with_code(error, original.message, original.code, original.extensions)
    if isinstance(original, UpstreamUnavailable):
        # The source's message may name hosts; the client only learns the cause class.
        logger.warning("catalog upstream unavailable: %s", original)
        return _with_code(
            error, "The movie catalog is unavailable right now; try again later.", UpstreamError.code, {}
        )
    if original is None or (isinstance(original, GraphQLError) and error.path is None):
        # Parse and validation errors (the query limits too) and variables that do not
        # fit their types: the request itself is wrong, nothing failed on our side.
        code = (error.extensions or {}).get("code") or BadUserInput.code
        return _with_code(error, error.message, code, {})
    logger.error(
        "unexpected error in %s", ".".join(map(str, error.path or [])) or "operation", exc_info=original
    )
    return _with_code(error, "Internal server error.", "INTERNAL_SERVER_ERROR", {})


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
