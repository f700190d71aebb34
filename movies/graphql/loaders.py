"""Per-request dataloaders for catalog lookups: one batched call per tick, not one per row."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from asgiref.sync import sync_to_async
from strawberry.dataloader import DataLoader

from movies.catalog import reads
from movies.catalog.sources.base import MovieEntry, PersonEntry
from movies.records import MAX_IDS, GenreRecord, MovieCredits, PersonCredits
from schema.context import Info

BatchRead = Callable[..., dict[int, Any]]


# The people of a page's credits (20 movies x 15 cast) are one batch, not three.
MAX_PEOPLE_BATCH = 1000


def _batched(read: BatchRead, max_batch_size: int = MAX_IDS) -> Callable[[], DataLoader[int, Any]]:
    """A loader factory over a batched catalog read (``reads.lookup``, ``reads.credits``, ...).

    Tier 1 answers without leaving the event loop; the rest is one call off it.
    """

    def factory() -> DataLoader[int, Any]:
        async def load(ids: Sequence[int]) -> list[Any]:
            found = read(ids, local_only=True)
            missing = [item_id for item_id in ids if item_id not in found]
            if missing:
                found.update(await sync_to_async(read)(missing))
            return [found.get(item_id) for item_id in ids]

        return DataLoader(load_fn=load, max_batch_size=max_batch_size)

    return factory


def _genre_loader() -> DataLoader[int, GenreRecord | None]:
    async def load(ids: list[int]) -> list[GenreRecord | None]:
        by_id = await reads.read(reads.genre_map)
        return [by_id.get(genre_id) for genre_id in ids]

    return DataLoader(load_fn=load)


def movie_loader(info: Info) -> DataLoader[int, MovieEntry | None]:
    """Movies with details by id, through the cache, for this request."""
    return info.context.loader("movie", _batched(reads.lookup))


def credits_loader(info: Info) -> DataLoader[int, MovieCredits | None]:
    """Cast and crew by movie id: one batch for every movie on the page."""
    return info.context.loader("credits", _batched(reads.credits))


def person_loader(info: Info) -> DataLoader[int, PersonEntry | None]:
    """People with details by id, for this request."""
    return info.context.loader("person", _batched(reads.people, MAX_PEOPLE_BATCH))


def person_credits_loader(info: Info) -> DataLoader[int, PersonCredits | None]:
    """Films by person id: one batch for every person on the page."""
    return info.context.loader("person-credits", _batched(reads.person_credits, MAX_PEOPLE_BATCH))


def genre_loader(info: Info) -> DataLoader[int, GenreRecord | None]:
    """Genres by id for this request (one cached genre list behind it)."""
    return info.context.loader("genre", _genre_loader)
