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
from movies.catalog import locale as request_locale
from movies.catalog.sources.base import CatalogSource, MovieEntry, PersonEntry
from movies.catalog.sources.local import LocalCatalogSource, SimilarIds
from movies.records import (
    DiscoverQuery,
    GenreRecord,
    ListKind,
    MovieCredits,
    MovieDetails,
    MovieRecord,
    PageRecord,
    PersonCredits,
    PersonDetails,
    PersonPageRecord,
    PersonRecord,
)

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
    """The language and region answers depend on; part of every catalog key.

    The request's language for a source that translates (TMDb); our own
    tables are English whatever the request asks.
    """
    language = request_locale.language() if get_source().localized else settings.TMDB_LANGUAGE
    return f"{language}.{settings.TMDB_REGION or 'any'}"


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


def _entry_codec(
    name: str, record_type: Any, details_type: Any
) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """JSON-safe encode/decode of a ``(record, details or None)`` entry."""

    def encode(entry: tuple[Any, Any]) -> dict[str, Any]:
        record, details = entry
        return {name: record.to_dict(), "details": details.to_dict() if details else None}

    def decode(data: dict[str, Any]) -> tuple[Any, Any]:
        details = data["details"]
        return record_type.from_dict(data[name]), details_type.from_dict(details) if details else None

    return encode, decode


_entry_to_dict, _entry_from_dict = _entry_codec("movie", MovieRecord, MovieDetails)
_person_to_dict, _person_from_dict = _entry_codec("person", PersonRecord, PersonDetails)


def _credits_to_dict(credits: MovieCredits | PersonCredits) -> dict[str, Any]:
    return credits.to_dict()


Fetch = Callable[[list[int]], dict[int, Any]]


def _read_many(
    kind: cache_policy.CacheKind,
    ids: Sequence[int],
    fetch: Fetch,
    decode: Callable[[Any], T],
    local_only: bool,
    fallback: Callable[[list[int]], dict[int, T]] | None = None,
) -> dict[int, T]:
    """Items of one kind by id; unknown ids are absent. The loaders' batched read.

    Tier 1 first; then one MGET for the rest and one ``fetch`` (returning
    JSON-safe values) for what Redis lacks. With ``local_only``, only tier 1's
    part. When the source fails and some ids have no stale copy,
    ``fallback`` (our stored copies, never cached as fresh) may answer them all.
    """
    source = get_source()
    keys = {
        item_id: cache_policy.cache_key(source.name, kind, item_id, locale())
        for item_id in dict.fromkeys(ids)
    }
    result: dict[int, T] = {}
    for item_id, key in keys.items():
        value = _local_get(key)
        if value is not None:
            result[item_id] = value
    metrics.cache_hit(kind, len(result))
    missing = {item_id: key for item_id, key in keys.items() if item_id not in result}
    if local_only or not missing:
        return result
    try:
        fetched = cache_policy.get_many_or_compute(kind, missing, fetch)
    except UpstreamUnavailable:
        stored = fallback(list(missing)) if fallback else {}
        if len(stored) < len(missing):
            raise  # an item we hold no copy of: only the source could say whether it exists
        return {**result, **stored}
    for item_id, data in fetched.items():
        value = decode(data)
        _local_set(missing[item_id], value)
        result[item_id] = value
    return result


# How each batched kind travels through the cache, and which TMDb call brings it
# with its companion: (the source's bundle method, this kind's half, the other kind).
CODECS: dict[str, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    "movie": (_entry_to_dict, _entry_from_dict),
    "credits": (_credits_to_dict, MovieCredits.from_dict),
    "person": (_person_to_dict, _person_from_dict),
    "person-credits": (_credits_to_dict, PersonCredits.from_dict),
}
BUNDLES: dict[str, tuple[str, int, cache_policy.CacheKind]] = {
    "movie": ("movie_bundles", 0, "credits"),
    "credits": ("movie_bundles", 1, "movie"),
    "person": ("person_bundles", 0, "person-credits"),
    "person-credits": ("person_bundles", 1, "person"),
}


def _bundled(bundles: Callable[[list[int]], dict[int, tuple[Any, Any]]], kind: str) -> Fetch:
    """A fetch of ``kind``'s half of each bundle; the other half is stored under its own kind's keys."""
    source = get_source()
    _, half, companion = BUNDLES[kind]
    encode, encode_companion = CODECS[kind][0], CODECS[companion][0]

    def fetch(ids: list[int]) -> dict[int, Any]:
        found = bundles(ids)
        cache_policy.store(
            companion,
            {
                cache_policy.cache_key(source.name, companion, item_id, locale()): encode_companion(
                    pair[1 - half]
                )
                for item_id, pair in found.items()
            },
        )
        return {item_id: encode(pair[half]) for item_id, pair in found.items()}

    return fetch


def _read_kind(
    kind: cache_policy.CacheKind,
    ids: Sequence[int],
    local_only: bool,
    method: str,
    fallback: str | None = None,
) -> dict[int, Any]:
    """A batched read of ``kind``: from the source's bundles where one call brings two kinds."""
    source = get_source()
    return _read_many(
        kind,
        ids,
        _kind_fetch(kind, method),
        CODECS[kind][1],
        local_only,
        getattr(source, fallback, None) if fallback else None,
    )


def _kind_fetch(kind: cache_policy.CacheKind, method: str) -> Fetch:
    """How ``kind`` is fetched from the source: its bundle where one call brings two kinds."""
    source = get_source()
    encode = CODECS[kind][0]
    bundles = getattr(source, BUNDLES[kind][0], None)
    plain = getattr(source, method)

    def fetch(ids: list[int]) -> dict[int, Any]:
        return {item_id: encode(value) for item_id, value in plain(ids).items()}

    return _bundled(bundles, kind) if bundles else fetch


def lookup(ids: Sequence[int], local_only: bool = False) -> dict[int, MovieEntry]:
    """Movies (with details where the source has them) by id; unknown ids are absent.

    Used by the movie dataloader. When TMDb is down and some movies have no
    stale copy, our stored copies answer, uncached, so the real answer
    replaces them once TMDb is back.
    """
    return _read_kind("movie", ids, local_only, "lookup", "fallback_lookup")


def credits(ids: Sequence[int], local_only: bool = False) -> dict[int, MovieCredits]:
    """Cast and crew of movies by id (the credits dataloader); from TMDb's details call."""
    return _read_kind("credits", ids, local_only, "credits", "fallback_credits")


def people(ids: Sequence[int], local_only: bool = False) -> dict[int, PersonEntry]:
    """People (with details where the source has them) by id; unknown ids are absent."""
    return _read_kind("person", ids, local_only, "people", "fallback_people")


def person_credits(ids: Sequence[int], local_only: bool = False) -> dict[int, PersonCredits]:
    """The films of people by id, newest first; from TMDb's person call."""
    return _read_kind("person-credits", ids, local_only, "person_credits", "fallback_person_credits")


def search_people(query: str, page: int, local_only: bool = False) -> PersonPageRecord | None:
    """People whose name matches ``query``, best first (cached as searches are)."""
    source = get_source()
    key = cache_policy.cache_key(source.name, "people-search", query.casefold(), page, locale())
    return _read(
        "people-search",
        key,
        lambda: source.search_people(query, page).to_dict(),
        PersonPageRecord.from_dict,
        local_only,
    )


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
    keys = {movie_id: cache_policy.cache_key(source.name, "movie", movie_id, locale()) for movie_id in ids}
    due = {
        movie_id: key
        for movie_id, key in keys.items()
        if cache_policy.expires_within(key, ahead, assume=False)
    }
    if due:
        cache_policy.refresh_many("movie", due, _kind_fetch("movie", "lookup"))
    return len(due)


def check() -> str:
    """The source's readiness, for /readyz."""
    return get_source().check()
