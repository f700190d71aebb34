"""Errors the domain raises, in its own terms.

Catalog sources, the recommender and account services raise these; they know
nothing of GraphQL. ``schema.errors`` is the one place that turns each class
into a coded GraphQL error (``extensions.code``), so this module imports
nothing of ours and every layer may use it.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """An error whose message is safe to show a client, with optional details.

    ``details`` become extra ``extensions`` of the GraphQL error (for example
    the input ``field`` that was wrong, or ``retryAfter`` in seconds).
    """

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(DomainError):
    """The caller sent a value the operation cannot accept."""


class NotFound(DomainError):
    """What the caller named does not exist."""


class NotAuthenticated(DomainError):
    """No valid credentials: a bad password, or a token that is invalid, expired or revoked."""

    def __init__(self, message: str = "You must be signed in.", **details: Any) -> None:
        super().__init__(message, **details)


class PermissionDenied(DomainError):
    """Signed in, but not allowed to do this."""


class RateLimited(DomainError):
    """Too many attempts; ``retry_after`` seconds until the next one may succeed."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retryAfter=retry_after)
        self.retry_after = retry_after


class TemporarilyUnavailable(DomainError):
    """Our own side could not answer right now (a database hiccup); the caller may retry."""


class UpstreamUnavailable(Exception):
    """The catalog source could not answer (network, 5xx, 429, bad key).

    Not a ``DomainError``: its text may name hosts, so clients only ever see a
    fixed message (``schema.errors``).
    """
