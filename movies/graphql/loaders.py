"""Per-request dataloaders for catalog lookups: one batched call per tick, not one per row."""

from __future__ import annotations

from asgiref.sync import sync_to_async

from movies.catalog import reads
from movies.catalog.sources.base import MovieEntry
from movies.records import MAX_IDS, GenreRecord
from schema.context import Info
from schema.dataloader import DataLoader


def _movie_loader() -> DataLoader[int, MovieEntry | None]:
    async def load(ids: list[int]) -> list[MovieEntry | None]:
        found = reads.lookup(ids, local_only=True)
        missing = [movie_id for movie_id in ids if movie_id not in found]
        if missing:
            found.update(await sync_to_async(reads.lookup)(missing))
        return [found.get(movie_id) for movie_id in ids]

    return DataLoader(load_fn=load, max_batch_size=MAX_IDS)


def _genre_loader() -> DataLoader[int, GenreRecord | None]:
    async def load(ids: list[int]) -> list[GenreRecord | None]:
        by_id = await reads.read(reads.genre_map)
        return [by_id.get(genre_id) for genre_id in ids]

    return DataLoader(load_fn=load)


def movie_loader(info: Info) -> DataLoader[int, MovieEntry | None]:
    """Movies with details by id, through the cache, for this request."""
    return info.context.loader("movie", _movie_loader)


def genre_loader(info: Info) -> DataLoader[int, GenreRecord | None]:
    """Genres by id for this request (one cached genre list behind it)."""
    return info.context.loader("genre", _genre_loader)
