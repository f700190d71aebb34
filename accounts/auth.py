"""Authenticates a GraphQL request from its JWT, once, when the context is built.

Tokens are djangorestframework-simplejwt access tokens, sent as
``Authorization: JWT <token>`` (django-graphql-jwt's prefix) or ``Bearer <token>``.
The token's user and version come from the shared cache when it holds them
(accounts.user_cache: no thread hop, no query), else from the database.
"""

from __future__ import annotations

import functools
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.db import DatabaseError
from django.http import HttpRequest
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken

from accounts import user_cache, viewer_state
from accounts.models import User
from accounts.tokens import VERSION_CLAIM
from accounts.viewer_state import ViewerState
from backend import single_flight
from backend.errors import DomainError, NotAuthenticated, TemporarilyUnavailable

logger = logging.getLogger(__name__)

PREFIXES = {prefix.lower() for prefix in api_settings.AUTH_HEADER_TYPES}


REVOKED = "The access token was revoked; sign in again."


def _user_for(token: AccessToken, outdated_entry: bool = False) -> tuple[User | None, DomainError | None]:
    user_id = token.get(api_settings.USER_ID_CLAIM)
    if outdated_entry:
        # A token newer than the entry: the change that issued it was never dropped from the
        # cache (Redis unreachable then), so older tokens would still pass. Retire the entry.
        user_cache.forget(int(user_id))
    try:
        user = User.objects.filter(pk=user_id, is_active=True).first()
    except DatabaseError:
        # The request goes on (anonymous reads still work); fields that need the
        # user fail with a server error, not UNAUTHENTICATED: clients drop their
        # tokens on that, and the token is fine.
        logger.exception("could not load the token's user")
        return None, TemporarilyUnavailable("The access token could not be checked right now; try again.")
    if user is None:
        return None, NotAuthenticated("The access token's account no longer exists.")
    user_cache.store(user)
    if token.get(VERSION_CLAIM, 0) != user.token_version:
        return None, NotAuthenticated(REVOKED)
    return user, None


@dataclass(frozen=True)
class Verified:
    """A token accepted on the shared cache alone: its user, and the generation and lists of their data
    (accounts.viewer_state; None when not cached for the current generation)."""

    header: str
    user: User
    generation: int | None
    # The lists as Redis holds them: decoded (up to MAX_ITEMS of them, on the event loop) only
    # for an answer that needs them.
    raw_state: bytes | None

    @functools.cached_property
    def state(self) -> ViewerState | None:
        """The viewer's lists for ``generation``, or None."""
        return viewer_state.parse(self.raw_state, self.generation)


@dataclass(frozen=True)
class Unanswered:
    """The shared cache did not answer the check of ``header``: this request does not wait for it again."""

    header: str


# Set by schema.replay for the request it passes on: the view need not check the same header again.
verified: ContextVar[Verified | Unanswered | None] = ContextVar("verified_token", default=None)


def _decode(header: str) -> AccessToken | DomainError:
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() not in PREFIXES:
        return NotAuthenticated("The Authorization header must be 'JWT <token>' or 'Bearer <token>'.")
    try:
        return AccessToken(parts[1])  # type: ignore[arg-type]
    except TokenError:
        return NotAuthenticated("The access token is invalid or expired.")


def _user_id(token: AccessToken) -> int | None:
    user_id = str(token.get(api_settings.USER_ID_CLAIM, ""))
    return int(user_id) if user_id.isdigit() else None


def _cached(token: AccessToken, entry: dict[str, Any] | None) -> User | None:
    """The entry's user when the token's version is the entry's."""
    if entry is not None and entry[user_cache.VERSION] == token.get(VERSION_CLAIM, 0):
        return user_cache.user_from(entry)
    return None


async def verify(header: str) -> Verified | Unanswered | None:
    """The token of an Authorization header accepted on the shared cache alone, with the viewer's lists,
    in one round trip on the event loop; else None (no shared cache to ask, or no entry it vouches
    for) or Unanswered (it did not answer) when only ``authenticate_request`` can decide."""
    if not user_cache.enabled():
        return None
    token = _decode(header)
    if isinstance(token, DomainError) or (user_id := _user_id(token)) is None:
        return None
    raws = await user_cache.read_raw(
        [user_cache.key(user_id), viewer_state.generation_key(user_id), viewer_state.key(user_id)]
    )
    if raws is None:
        return Unanswered(header)
    user = _cached(token, user_cache.parse(raws[0]))
    if user is None:
        return None
    return Verified(header, user, viewer_state.parse_generation(raws[1]), raws[2])


async def authenticate_request(request: HttpRequest) -> tuple[User | None, DomainError | None]:
    """The signed-in user, or None; plus the error for fields that need a user, if a sent token failed."""
    header = request.headers.get("Authorization")
    if not header:
        return None, None
    known = verified.get()
    if isinstance(known, Verified) and known.header == header:
        return known.user, None
    token = _decode(header)
    if isinstance(token, DomainError):
        return None, token
    user_id = _user_id(token)
    # A cache that did not answer schema.replay's check of this header is not waited for twice.
    asked = isinstance(known, Unanswered) and known.header == header
    entry = await user_cache.read(user_id) if user_id is not None and not asked else None
    if (cached := _cached(token, entry)) is not None:
        return cached, None
    if entry is not None and entry[user_cache.VERSION] > token.get(VERSION_CLAIM, 0):
        return None, NotAuthenticated(REVOKED)
    # No entry, or a token newer than it: the database decides (and refills the entry), once for all
    # of this user's requests asking meanwhile with tokens of this version (a page's queries at once).
    outdated = entry is not None
    if user_id is None:
        return await sync_to_async(_user_for)(token, outdated_entry=outdated)
    found, error = await single_flight.shared(
        f"auth:{user_id}:{token.get(VERSION_CLAIM, 0)}:{outdated}",
        lambda: sync_to_async(_entry_for)(token, outdated),
    )
    if found is None:
        return None, error
    # Each request its own instance: a mutation may change and save its user.
    user = user_cache.user_from(found)
    return (
        (user, None) if user is not None else await sync_to_async(_user_for)(token, outdated_entry=outdated)
    )


def _entry_for(token: AccessToken, outdated_entry: bool) -> tuple[dict[str, Any] | None, DomainError | None]:
    user, error = _user_for(token, outdated_entry)
    return (user_cache.snapshot(user) if user is not None else None), error
