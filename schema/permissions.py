"""Permissions as field extensions (strawberry's FieldExtension), as in strawberry-django's examples."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from strawberry.extensions import FieldExtension

from backend.errors import NotAuthenticated
from schema.context import Info


class IsAuthenticated(FieldExtension):
    """UNAUTHENTICATED unless the request carries a valid access token."""

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Info, **kwargs: Any
    ) -> Any:
        require_user(info)
        return await next_(source, info, **kwargs)


def require_user(info: Info) -> Any:
    """The signed-in user; else the error of a refused token, or UNAUTHENTICATED."""
    user = info.context.user
    if user is None:
        raise info.context.auth_error or NotAuthenticated("You must be signed in.")
    return user
