"""The catalog as the API sees it: the configured source behind the cache policy.

Every read goes through here, so every source is cached the same way. These
functions are synchronous; resolvers call them with ``sync_to_async``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from movies import cache_policy
from movies.records import DiscoverQuery, GenreRecord, ListKind, MovieDetails, MovieRecord, PageRecord
from movies.sources.base import CatalogSource, MovieEntry
from movies.sources.local import LocalCatalogSource


@functools.cache
def get_source() -> CatalogSource:
    """TMDb when configured (or forced by CATALOG_SOURCE), else the local catalog."""
    choice = settings.CATALOG_SOURCE
    has_key = bool(settings.TMDB_API_KEY or settings.TMDB_READ_ACCESS_TOKEN)
    if choice == "tmdb" or (choice == "auto" and has_key):
        from movies.sources.tmdb import TmdbSource

        return TmdbSource.from_settings()
    return LocalCatalogSource()


def genres() -> list[GenreRecord]:
    source = get_source()
    key = cache_policy.cache_key(source.name, "genres", "all")
    data = cache_policy.get_or_compute("genres", key, lambda: [g.to_dict() for g in source.genres()])
    return [GenreRecord.from_dict(item) for item in data]


def _page(kind: cache_policy.CacheKind, key: str, compute: Any) -> PageRecord:
    return PageRecord.from_dict(cache_policy.get_or_compute(kind, key, lambda: compute().to_dict()))


def movie_list(kind: ListKind, page: int) -> PageRecord:
    """A page of a curated list; trending is cached for 30 minutes, the others for an hour."""
    source = get_source()
    cache_kind: cache_policy.CacheKind = "trending" if kind.startswith("trending") else "list"
    key = cache_policy.cache_key(source.name, cache_kind, kind, page, settings.TMDB_LANGUAGE)
    return _page(cache_kind, key, lambda: source.movie_list(kind, page))


def search(query: str, year: int | None, page: int) -> PageRecord:
    source = get_source()
    key = cache_policy.cache_key(source.name, "search", query.casefold(), year, page, settings.TMDB_LANGUAGE)
    return _page("search", key, lambda: source.search(query, year, page))


def discover(query: DiscoverQuery, page: int) -> PageRecord:
    source = get_source()
    key = cache_policy.cache_key(
        source.name, "discover", query.cache_key_part(), page, settings.TMDB_LANGUAGE
    )
    return _page("discover", key, lambda: source.discover(query, page))


def _entry_to_dict(entry: MovieEntry) -> dict[str, Any]:
    record, details = entry
    return {"movie": record.to_dict(), "details": details.to_dict() if details else None}


def _entry_from_dict(data: dict[str, Any]) -> MovieEntry:
    details = data["details"]
    return MovieRecord.from_dict(data["movie"]), MovieDetails.from_dict(details) if details else None


def lookup(ids: Sequence[int]) -> dict[int, MovieEntry]:
    """Movies (with details where the source has them) by id: one MGET, one source call for misses.

    Unknown ids are absent. Used by the movie dataloader.
    """
    source = get_source()
    keys = {
        movie_id: cache_policy.cache_key(source.name, "movie", movie_id, settings.TMDB_LANGUAGE)
        for movie_id in dict.fromkeys(ids)
    }

    def fetch(missing: list[int]) -> dict[int, dict[str, Any]]:
        return {movie_id: _entry_to_dict(entry) for movie_id, entry in source.lookup(missing).items()}

    found = cache_policy.get_many_or_compute("movie", keys, fetch)
    return {movie_id: _entry_from_dict(data) for movie_id, data in found.items()}


def similar(movie_id: int, limit: int) -> list[MovieRecord]:
    source = get_source()
    key = cache_policy.cache_key(source.name, "similar", movie_id, limit, settings.TMDB_LANGUAGE)
    data = cache_policy.get_or_compute(
        "similar", key, lambda: [movie.to_dict() for movie in source.similar(movie_id, limit)]
    )
    return [MovieRecord.from_dict(item) for item in data]


def check() -> str:
    """The source's readiness, for /readyz."""
    return get_source().check()
