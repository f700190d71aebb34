"""Authenticates a GraphQL request from its JWT, once, when the context is built.

Tokens are djangorestframework-simplejwt access tokens, sent as
``Authorization: JWT <token>`` (django-graphql-jwt's prefix) or ``Bearer <token>``.
The token's user and version come from the shared cache when it holds them
(accounts.user_cache: no thread hop, no query), else from the database.
"""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from django.db import DatabaseError
from django.http import HttpRequest
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken

from accounts import user_cache
from accounts.models import User
from accounts.tokens import VERSION_CLAIM
from backend.errors import DomainError, NotAuthenticated, TemporarilyUnavailable

logger = logging.getLogger(__name__)

PREFIXES = {prefix.lower() for prefix in api_settings.AUTH_HEADER_TYPES}


def _token_from(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    parts = header.split()
    if len(parts) == 2 and parts[0].lower() in PREFIXES:
        return parts[1]
    return None


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


async def authenticate_request(request: HttpRequest) -> tuple[User | None, DomainError | None]:
    """The signed-in user, or None; plus the error for fields that need a user, if a sent token failed."""
    header = request.headers.get("Authorization")
    if not header:
        return None, None
    raw_token = _token_from(request)
    if raw_token is None:
        return None, NotAuthenticated("The Authorization header must be 'JWT <token>' or 'Bearer <token>'.")
    try:
        token = AccessToken(raw_token)  # type: ignore[arg-type]
    except TokenError:
        return None, NotAuthenticated("The access token is invalid or expired.")
    user_id = str(token.get(api_settings.USER_ID_CLAIM, ""))
    entry = await user_cache.read(int(user_id)) if user_id.isdigit() else None
    version = token.get(VERSION_CLAIM, 0)
    if entry is not None and entry[user_cache.VERSION] == version:
        cached = user_cache.user_from(entry)
        if cached is not None:
            return cached, None
    if entry is not None and entry[user_cache.VERSION] > version:
        return None, NotAuthenticated(REVOKED)
    # No entry, or a token newer than it: the database decides (and refills the entry).
    return await sync_to_async(_user_for)(token, outdated_entry=entry is not None)
