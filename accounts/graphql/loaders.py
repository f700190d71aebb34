"""Per-viewer movie state (favorite? on the watchlist? my rating?), batched per request.

Each field costs one query for all movies of a response, whatever the page
size, and none for anonymous viewers.
"""

from __future__ import annotations

from collections.abc import Callable

from asgiref.sync import sync_to_async

from accounts import services
from schema.context import Info
from schema.dataloader import DataLoader


def _membership_loader(kind: str, user_id: int) -> Callable[[], DataLoader[int, bool]]:
    def factory() -> DataLoader[int, bool]:
        async def load(ids: list[int]) -> list[bool]:
            present = await sync_to_async(services.listed_among)(kind, user_id, ids)
            return [movie_id in present for movie_id in ids]

        return DataLoader(load_fn=load)

    return factory


def _rating_loader(user_id: int) -> Callable[[], DataLoader[int, float | None]]:
    def factory() -> DataLoader[int, float | None]:
        async def load(ids: list[int]) -> list[float | None]:
            scores = await sync_to_async(services.ratings_among)(user_id, ids)
            return [scores.get(movie_id) for movie_id in ids]

        return DataLoader(load_fn=load)

    return factory


async def is_favorite(info: Info, movie_id: int) -> bool:
    user = info.context.user
    if user is None:
        return False
    return await info.context.loader("viewer.favorite", _membership_loader("favorite", user.pk)).load(
        movie_id
    )


async def in_watchlist(info: Info, movie_id: int) -> bool:
    user = info.context.user
    if user is None:
        return False
    loader = info.context.loader("viewer.watchlist", _membership_loader("watchlist", user.pk))
    return await loader.load(movie_id)


async def my_rating(info: Info, movie_id: int) -> float | None:
    user = info.context.user
    if user is None:
        return None
    return await info.context.loader("viewer.rating", _rating_loader(user.pk)).load(movie_id)


def forget(info: Info) -> None:
    """Drops this request's per-viewer answers after a mutation changed them."""
    for name in ("viewer.favorite", "viewer.watchlist", "viewer.rating"):
        info.context.loaders.pop(name, None)
