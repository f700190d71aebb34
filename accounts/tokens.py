"""JWT pairs from djangorestframework-simplejwt: issue, rotate with reuse detection, revoke.

A refresh token is single-use: refreshing spends it (blacklists it) and
issues a new pair. Presenting a spent or revoked refresh token again means
it was copied (the owner's client has discarded it), so every outstanding
refresh token of that user is revoked.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import user_cache
from accounts.models import User
from backend.errors import NotAuthenticated

logger = logging.getLogger(__name__)

INVALID_REFRESH = "The refresh token is invalid, expired or revoked."
VERSION_CLAIM = "ver"


@dataclass(frozen=True)
class TokenPair:
    token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    user: User


def issue(user: User) -> TokenPair:
    """A new access/refresh pair for ``user`` (the refresh token is recorded as outstanding)."""
    refresh = RefreshToken.for_user(user)
    # Copied into the access token too; ``revoke_all`` bumps the user's version.
    refresh[VERSION_CLAIM] = user.token_version
    return TokenPair(
        token=str(refresh.access_token),
        refresh_token=str(refresh),
        expires_in=int(api_settings.ACCESS_TOKEN_LIFETIME.total_seconds()),
        refresh_expires_in=int(api_settings.REFRESH_TOKEN_LIFETIME.total_seconds()),
        user=user,
    )


def _verified_payload(raw: str) -> dict[str, object]:
    """The refresh token's claims, signature and expiry checked (not the blacklist)."""
    try:
        payload = token_backend.decode(raw, verify=True)
    except (TokenBackendError, TokenError) as error:
        raise NotAuthenticated(INVALID_REFRESH) from error
    if payload.get(api_settings.TOKEN_TYPE_CLAIM) != "refresh":
        raise NotAuthenticated(INVALID_REFRESH)
    return payload


def rotate(raw: str) -> TokenPair:
    """Spends ``raw`` and issues a new pair; a reused token revokes all of its user's sessions."""
    payload = _verified_payload(raw)
    with transaction.atomic():
        # Locking the row makes two concurrent refreshes with one token a reuse, not two new pairs.
        outstanding = OutstandingToken.objects.select_for_update().filter(jti=payload["jti"]).first()
        if outstanding is None or outstanding.user_id is None:
            raise NotAuthenticated(INVALID_REFRESH)
        # get_or_create, not exists-then-create: the unique token decides even where
        # select_for_update locks nothing (SQLite).
        _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
        spent = not created
    user = User.objects.filter(pk=outstanding.user_id, is_active=True).first()
    if spent and user is not None and payload.get(VERSION_CLAIM, 0) != user.token_version:
        # Revoked wholesale already (password change, earlier theft): a device that
        # missed that is not a thief, and must not sign out the sessions made since.
        raise NotAuthenticated(INVALID_REFRESH)
    if spent:
        revoke_all(outstanding.user_id)
        logger.warning("refresh token reuse for user %s: all sessions revoked", outstanding.user_id)
        raise NotAuthenticated(INVALID_REFRESH)
    if user is None or payload.get(VERSION_CLAIM, 0) != user.token_version:
        raise NotAuthenticated(INVALID_REFRESH)
    return issue(user)


def revoke(raw: str) -> None:
    """Logs out the session of one refresh token (idempotent)."""
    payload = _verified_payload(raw)
    outstanding = OutstandingToken.objects.filter(jti=payload["jti"]).first()
    if outstanding is None:
        raise NotAuthenticated(INVALID_REFRESH)
    BlacklistedToken.objects.get_or_create(token=outstanding)


def revoke_all(user_id: int) -> int:
    """Revokes every token of a user, access tokens included; returns how many refresh tokens were live."""
    User.objects.filter(pk=user_id).update(token_version=F("token_version") + 1)
    user_cache.forget(user_id)  # an UPDATE sends no post_save
    live = OutstandingToken.objects.filter(user_id=user_id, blacklistedtoken__isnull=True)
    rows = [BlacklistedToken(token=token) for token in live]
    BlacklistedToken.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
