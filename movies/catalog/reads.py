"""The catalog as the API sees it: the configured source behind two cache tiers.

Every read goes through here, so every source is cached the same way:

1. a process-local memory of decoded records, a few seconds long, so the hot
   path of a busy server needs no thread hop, no Redis round trip and no JSON
   decoding (``CATALOG_LOCAL_CACHE_SECONDS``);
2. the shared cache (Redis) with the design's TTLs and stale copies
   (``movies.catalog.cache_policy``);
3. the source (TMDb or the local database).

The functions are synchronous. Each takes ``local_only``: with it, the call
answers from tier 1 or returns None without any I/O, which lets async
resolvers skip ``sync_to_async`` on a hit (see ``read``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from cachetools import TTLCache
from django.conf import settings

from backend.errors import UpstreamUnavailable
from movies import metrics
from movies.catalog import cache_policy
from movies.catalog.sources.base import CatalogSource, MovieEntry
from movies.catalog.sources.local import LocalCatalogSource, SimilarIds
from movies.records import DiscoverQuery, GenreRecord, ListKind, MovieDetails, MovieRecord, PageRecord

T = TypeVar("T")

_local: TTLCache[str, Any] | None = None
_local_lock = threading.Lock()


def _local_cache() -> TTLCache[str, Any]:
    global _local
    with _local_lock:
        if _local is None:
            _local = TTLCache(
                maxsize=settings.CATALOG_LOCAL_CACHE_SIZE, ttl=settings.CATALOG_LOCAL_CACHE_SECONDS
            )
        return _local


def _local_get(key: str) -> Any:
    cache = _local_cache()
    with _local_lock:
        return cache.get(key)


def _local_set(key: str, value: Any) -> None:
    cache = _local_cache()
    with _local_lock:
        cache[key] = value


def forget_local() -> None:
    """Empties this process's tier-1 memory (tests)."""
    global _local
    with _local_lock:
        _local = None


def locale() -> str:
    """The language and region answers depend on; part of every catalog key."""
    return f"{settings.TMDB_LANGUAGE}.{settings.TMDB_REGION or 'any'}"


_similar_ids: SimilarIds | None = None


def use_similarity(similar_ids: SimilarIds) -> None:
    """Sets how the local source ranks similar movies (the recommender, from ``movies.apps``)."""
    global _similar_ids
    _similar_ids = similar_ids
    get_source.cache_clear()


@functools.cache
def get_source() -> CatalogSource:
    """TMDb when configured (or forced by CATALOG_SOURCE), else the local catalog."""
    choice = settings.CATALOG_SOURCE
    has_key = bool(settings.TMDB_API_KEY or settings.TMDB_READ_ACCESS_TOKEN)
    if choice == "tmdb" or (choice == "auto" and has_key):
        from movies.catalog.sources.tmdb import TmdbSource

        return TmdbSource.from_settings()
    return LocalCatalogSource(similar_ids=_similar_ids)


def _read(
    kind: cache_policy.CacheKind,
    key: str,
    compute: Callable[[], Any],
    decode: Callable[[Any], T],
    local_only: bool,
) -> T | None:
    """Tier 1, else (unless ``local_only``) tier 2 / the source, remembered in tier 1."""
    value = _local_get(key)
    if value is not None:
        metrics.cache_hit(kind)
        return value
    if local_only:
        return None
    value = decode(cache_policy.get_or_compute(kind, key, compute))
    _local_set(key, value)
    return value


async def read(function: Callable[..., T | None], *args: Any) -> T:
    """Calls a catalog function from async code, off the event loop only when tier 1 misses."""
    value = function(*args, local_only=True)
    if value is None:
        value = await sync_to_async(function)(*args)
    return value  # type: ignore[return-value]


def _genres_entry() -> tuple[str, Callable[[], Any]]:
    source = get_source()
    key = cache_policy.cache_key(source.name, "genres", "all", locale())
    return key, lambda: [g.to_dict() for g in source.genres()]


def _decode_genres(data: list[dict[str, Any]]) -> list[GenreRecord]:
    return [GenreRecord.from_dict(item) for item in data]


def genres(local_only: bool = False) -> list[GenreRecord] | None:
    key, compute = _genres_entry()
    return _read("genres", key, compute, _decode_genres, local_only)


def genre_map(local_only: bool = False) -> dict[int, GenreRecord] | None:
    """Genres by id (derived from ``genres``, remembered alongside it)."""
    key = cache_policy.cache_key(get_source().name, "genres", "by-id", locale())
    by_id = _local_get(key)
    if by_id is None:
        records = genres(local_only=local_only)
        if records is None:
            return None
        by_id = {genre.id: genre for genre in records}
        _local_set(key, by_id)
    return by_id


def _list_entry(kind: ListKind, page: int) -> tuple[cache_policy.CacheKind, str, Callable[[], Any]]:
    source = get_source()
    cache_kind: cache_policy.CacheKind = "trending" if kind.startswith("trending") else "list"
    key = cache_policy.cache_key(source.name, cache_kind, kind, page, locale())
    return cache_kind, key, lambda: source.movie_list(kind, page).to_dict()


def movie_list(kind: ListKind, page: int, local_only: bool = False) -> PageRecord | None:
    """A page of a curated list; trending is cached for 30 minutes, the others for an hour."""
    cache_kind, key, compute = _list_entry(kind, page)
    return _read(cache_kind, key, compute, PageRecord.from_dict, local_only)


def search(query: str, year: int | None, page: int, local_only: bool = False) -> PageRecord | None:
    source = get_source()
    key = cache_policy.cache_key(source.name, "search", query.casefold(), year, page, locale())
    return _read(
        "search", key, lambda: source.search(query, year, page).to_dict(), PageRecord.from_dict, local_only
    )


def discover(query: DiscoverQuery, page: int, local_only: bool = False) -> PageRecord | None:
    source = get_source()
    key = cache_policy.cache_key(source.name, "discover", query.cache_key_part(), page, locale())
    return _read(
        "discover", key, lambda: source.discover(query, page).to_dict(), PageRecord.from_dict, local_only
    )


def similar(movie_id: int, limit: int, local_only: bool = False) -> list[MovieRecord] | None:
    source = get_source()
    key = cache_policy.cache_key(source.name, "similar", movie_id, limit, locale())
    return _read(
        "similar",
        key,
        lambda: [movie.to_dict() for movie in source.similar(movie_id, limit)],
        lambda data: [MovieRecord.from_dict(item) for item in data],
        local_only,
    )


def _entry_to_dict(entry: MovieEntry) -> dict[str, Any]:
    record, details = entry
    return {"movie": record.to_dict(), "details": details.to_dict() if details else None}


def _entry_from_dict(data: dict[str, Any]) -> MovieEntry:
    details = data["details"]
    return MovieRecord.from_dict(data["movie"]), MovieDetails.from_dict(details) if details else None


def lookup(ids: Sequence[int], local_only: bool = False) -> dict[int, MovieEntry]:
    """Movies (with details where the source has them) by id; unknown ids are absent.

    Tier 1 first; then one MGET for the rest and one source call for what
    Redis lacks. With ``local_only``, only tier 1's part. Used by the movie dataloader.
    """
    source = get_source()
    keys = _movie_keys(source, ids)
    result: dict[int, MovieEntry] = {}
    for movie_id, key in keys.items():
        entry = _local_get(key)
        if entry is not None:
            result[movie_id] = entry
    metrics.cache_hit("movie", len(result))
    missing = {movie_id: key for movie_id, key in keys.items() if movie_id not in result}
    if local_only or not missing:
        return result

    try:
        fetched = cache_policy.get_many_or_compute("movie", missing, _fetcher(source))
    except UpstreamUnavailable:
        # TMDb is down and some movies have no stale copy: our stored copies answer,
        # uncached, so the real answer replaces them once TMDb is back.
        fallback = getattr(source, "fallback_lookup", None)
        stored = fallback(list(missing)) if fallback else {}
        if len(stored) < len(missing):
            raise  # a movie we hold no copy of: only TMDb could say whether it exists
        return {**result, **stored}
    for movie_id, data in fetched.items():
        entry = _entry_from_dict(data)
        _local_set(missing[movie_id], entry)
        result[movie_id] = entry
    return result


def _movie_keys(source: CatalogSource, ids: Sequence[int]) -> dict[int, str]:
    return {
        movie_id: cache_policy.cache_key(source.name, "movie", movie_id, locale())
        for movie_id in dict.fromkeys(ids)
    }


def _fetcher(source: CatalogSource) -> Callable[[list[int]], dict[int, dict[str, Any]]]:
    def fetch(ids_to_fetch: list[int]) -> dict[int, dict[str, Any]]:
        return {movie_id: _entry_to_dict(entry) for movie_id, entry in source.lookup(ids_to_fetch).items()}

    return fetch


# --- refresh-ahead: recompute what is about to expire, so users never meet it cold ------------


def refresh_genres(ahead: float) -> list[GenreRecord]:
    """The genres, recomputed into the shared cache if they expire within ``ahead`` seconds."""
    key, compute = _genres_entry()
    if cache_policy.expires_within(key, ahead, assume=True):
        return _decode_genres(cache_policy.refresh("genres", key, compute))
    return _decode_genres(cache_policy.get_or_compute("genres", key, compute))


def refresh_list(kind: ListKind, page: int, ahead: float) -> PageRecord:
    """A list page, recomputed into the shared cache if it expires within ``ahead`` seconds.

    Where the cache cannot tell how long an entry has left (the file cache),
    lists are recomputed every time: they are few and cheap locally.
    """
    cache_kind, key, compute = _list_entry(kind, page)
    if cache_policy.expires_within(key, ahead, assume=True):
        return PageRecord.from_dict(cache_policy.refresh(cache_kind, key, compute))
    return PageRecord.from_dict(cache_policy.get_or_compute(cache_kind, key, compute))


def refresh_movies(ids: Sequence[int], ahead: float) -> int:
    """Recomputes the details of the movies whose entries expire within ``ahead`` seconds (or are
    missing; with the file cache only missing ones); returns how many were due."""
    source = get_source()
    due = {
        movie_id: key
        for movie_id, key in _movie_keys(source, ids).items()
        if cache_policy.expires_within(key, ahead, assume=False)
    }
    if due:
        cache_policy.refresh_many("movie", due, _fetcher(source))
    return len(due)


def check() -> str:
    """The source's readiness, for /readyz."""
    return get_source().check()
