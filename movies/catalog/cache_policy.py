"""How long each kind of catalog result lives in the shared cache, and its keys.

Keys are namespaced by source and versioned (``CACHE_VERSION`` plus a schema
version bumped when the stored shape changes), so a deploy that changes
either never reads an old value. Each value is also written under a stale
key that lives much longer: when the source fails, the stale copy answers.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

from django.conf import settings
from django.core.cache import cache

from backend import locks
from backend.errors import UpstreamUnavailable
from movies import metrics

logger = logging.getLogger(__name__)

CacheKind = Literal[
    "trending",
    "list",
    "movie",
    "credits",
    "person",
    "person-credits",
    "genres",
    "search",
    "people-search",
    "discover",
    "similar",
    "recommendations",
]

MINUTE = 60
HOUR = 60 * MINUTE

# The product plan's TTLs, in seconds.
TTL: dict[CacheKind, int] = {
    "trending": 30 * MINUTE,
    "list": HOUR,
    "movie": 24 * HOUR,
    # Credits and people are detail data, as a movie's details are.
    "credits": 24 * HOUR,
    "person": 24 * HOUR,
    "person-credits": 24 * HOUR,
    "genres": 24 * HOUR,
    "search": HOUR,
    "people-search": HOUR,
    "discover": HOUR,
    "similar": 24 * HOUR,
    "recommendations": 2 * HOUR,
}
STALE_TTL = 7 * 24 * HOUR
# A user's data generation outlives every entry stamped with it; one that expires is set afresh.
GENERATION_TTL = 30 * 24 * HOUR
# Ids the source does not know are remembered this long, so repeated asks for
# them (or for random ids) do not each cost an upstream call.
MISSING_TTL = 10 * MINUTE
MISSING = {"missing": True}
# After the source fails for a key, requests for it go straight to the stale
# copy (or the error) this long, instead of each waiting out the timeouts again.
FAILURE_BACKOFF = 30
# How long another process waits for the one filling a key before it asks the source itself, and
# how long the lock outlives a filler that died (longer than one upstream call with its retries).
FILL_WAIT_SECONDS = 3.0
FILL_LOCK_SECONDS = 60.0
_PLAIN_KEY = re.compile(r"^[A-Za-z0-9:._-]{0,100}$")
# Bumped when the shape of a cached value changes (2: movie details with companies, countries, languages).
SCHEMA_VERSION = 2


def cache_key(source: str, kind: CacheKind, *parts: object) -> str:
    """A namespaced, versioned key; long parameter lists are hashed to keep keys short."""
    raw = ":".join(str(part) for part in parts)
    # Free text (search queries) and long parameter lists become a fixed-size hash,
    # so keys stay short and free of spaces and control characters.
    if not _PLAIN_KEY.match(raw):
        raw = hashlib.sha256(raw.encode()).hexdigest()[:32]
    return f"v{settings.CACHE_VERSION}.{SCHEMA_VERSION}:{source}:{kind}:{raw}"


def recommendations_key(user_id: int, generation: int) -> str:
    """One user's cached recommendations, for one generation of their lists and preferences."""
    return cache_key("user", "recommendations", user_id, generation)


def recommendations_generation_key(user_id: int) -> str:
    return cache_key("user", "recommendations-generation", user_id)


def _is_generation(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def recommendations_generation(user_id: int) -> int:
    """Changes whenever the user's lists or preferences change (see ``drop_recommendations``); set now
    when the cache has none (never set, expired or evicted) or holds something else, so it never
    reads as an earlier value whose entries may still exist."""
    key = recommendations_generation_key(user_id)
    try:
        generation = cache.get(key)
    except ValueError:  # a value django-redis cannot decode
        generation = key
    if _is_generation(generation):
        return generation  # type: ignore[no-any-return]
    if generation is None:
        cache.add(key, time.time_ns(), timeout=GENERATION_TTL)
    else:
        drop_recommendations(user_id)
    generation = cache.get(key)
    return generation if _is_generation(generation) else 0  # type: ignore[no-any-return]


def drop_recommendations(user_id: int) -> None:
    """Makes the user's cached recommendations unreachable.

    A new generation rather than a delete: a computation that started before
    the change stores its result under the old generation, where nobody looks.
    The generation is a clock reading, never a counter: a counter that expired
    or was evicted would start again at a number whose entries may still exist.
    """
    cache.set(recommendations_generation_key(user_id), time.time_ns(), timeout=GENERATION_TTL)


def _failed(key: str) -> str:
    return f"failed:{key}"


def _stale(key: str) -> str:
    return f"stale:{key}"


class KeyLocks:
    """One lock per key while anyone holds or awaits it: single-flight for cache misses.

    Django runs each request's sync work in its own thread, so a burst of
    requests missing the same key would each call the source; with these
    locks one computes and the rest read what it stored.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, keys: Iterable[str]) -> Iterator[None]:
        # Sorted acquisition: two threads holding overlapping sets cannot deadlock.
        ordered = sorted(set(keys))
        with self._guard:
            locks = []
            for key in ordered:
                lock, users = self._locks.get(key, (None, 0))
                lock = lock or threading.Lock()
                self._locks[key] = (lock, users + 1)
                locks.append(lock)
        acquired: list[threading.Lock] = []
        try:
            for lock in locks:
                lock.acquire()
                acquired.append(lock)
            yield
        finally:
            for lock in reversed(acquired):
                lock.release()
            with self._guard:
                for key in ordered:
                    lock, users = self._locks[key]
                    if users == 1:
                        del self._locks[key]
                    else:
                        self._locks[key] = (lock, users - 1)


in_flight = KeyLocks()


def get_or_compute(kind: CacheKind, key: str, compute: Callable[[], Any]) -> Any:
    """The cached value for ``key``, else ``compute()`` stored with the kind's TTL.

    Concurrent misses of one key in a process compute it once. If ``compute``
    raises UpstreamUnavailable, the stale copy answers when there is one.
    """
    value = cache.get(key)
    if value is not None:
        metrics.cache_hit(kind)
        return value
    with in_flight.hold([key]):
        return _compute_one(kind, key, compute)


def _compute_one(kind: CacheKind, key: str, compute: Callable[[], Any]) -> Any:
    # And across processes: the workers of a cold start all miss the same keys at once.
    with locks.one_at_a_time(f"fill:{key}", timeout=FILL_LOCK_SECONDS, wait=FILL_WAIT_SECONDS):
        return _compute_held(kind, key, compute)


def _compute_held(kind: CacheKind, key: str, compute: Callable[[], Any]) -> Any:
    found = cache.get_many([key, _failed(key)])  # stored by whoever held the lock before us?
    if key in found:
        metrics.cache_hit(kind)
        return found[key]
    metrics.cache_miss(kind)
    failure: UpstreamUnavailable | None = None
    if _failed(key) in found:
        failure = UpstreamUnavailable("the source failed moments ago")
    else:
        try:
            value = compute()
        except UpstreamUnavailable as error:
            failure = error
            cache.set(_failed(key), 1, timeout=FAILURE_BACKOFF)
        else:
            _store(kind, {key: value})
            return value
    stale = cache.get(_stale(key))
    if stale is None:
        raise failure
    metrics.stale_served(kind)
    logger.warning("serving stale %s for %s", kind, key)
    return stale


def store(kind: CacheKind, values: Mapping[str, Any]) -> None:
    """Writes values fetched as a by-product of another kind's fetch (fresh and stale copies)."""
    if values:
        _store(kind, values)


def _store(kind: CacheKind, values: Mapping[str, Any]) -> None:
    # Two calls, not one, because the fresh and stale copies expire at different times.
    cache.set_many(dict(values), timeout=TTL[kind])
    cache.set_many({_stale(key): value for key, value in values.items()}, timeout=STALE_TTL)


def get_many_or_compute(
    kind: CacheKind,
    keys: Mapping[int, str],
    compute: Callable[[list[int]], Mapping[int, Any]],
) -> dict[int, Any]:
    """Batched read-through: one MGET, ``compute`` for the misses only, one pipelined write.

    ``keys`` maps an id to its cache key. Ids ``compute`` does not return are
    unknown and absent from the result. If ``compute`` fails upstream, the
    misses are answered from stale copies where they exist, and the error is
    raised only if some id has none.
    """
    found = cache.get_many(list(keys.values())) if keys else {}
    result: dict[int, Any] = {}
    missing: list[int] = []
    for item_id, key in keys.items():
        if key in found:
            result[item_id] = found[key]
        else:
            missing.append(item_id)
    metrics.cache_hit(kind, len(result))
    if missing:
        _fill(kind, keys, missing, compute, result)
    return {item_id: value for item_id, value in result.items() if value != MISSING}


def _fill(
    kind: CacheKind,
    keys: Mapping[int, str],
    missing: list[int],
    compute: Callable[[list[int]], Mapping[int, Any]],
    result: dict[int, Any],
) -> None:
    with in_flight.hold(keys[item_id] for item_id in missing):
        # What other requests stored while we waited needs no second fetch.
        filled = cache.get_many([keys[item_id] for item_id in missing])
        for item_id in missing:
            if keys[item_id] in filled:
                result[item_id] = filled[keys[item_id]]
        metrics.cache_hit(kind, len(filled))
        missing = [item_id for item_id in missing if item_id not in result]
        if missing:
            result.update(_compute_many(kind, keys, missing, compute))


def _compute_many(
    kind: CacheKind,
    keys: Mapping[int, str],
    missing: list[int],
    compute: Callable[[list[int]], Mapping[int, Any]],
) -> dict[int, Any]:
    result: dict[int, Any] = {}
    metrics.cache_miss(kind, len(missing))
    marked = cache.get_many([_failed(keys[item_id]) for item_id in missing])
    # Ids whose fetch failed moments ago wait out the backoff; the others are fetched.
    to_fetch = [item_id for item_id in missing if _failed(keys[item_id]) not in marked]
    failure: UpstreamUnavailable | None = (
        UpstreamUnavailable("the source failed moments ago") if marked else None
    )
    unknown: list[int] = []
    if to_fetch:
        try:
            computed = compute(to_fetch)
        except UpstreamUnavailable as error:
            # Only what really failed is marked (a partial failure names its ids).
            failed = getattr(error, "failed_ids", None) or to_fetch
            cache.set_many({_failed(keys[item_id]): 1 for item_id in failed}, timeout=FAILURE_BACKOFF)
            failure = error
        else:
            if computed:
                _store(kind, {keys[item_id]: value for item_id, value in computed.items()})
            unknown = [item_id for item_id in to_fetch if item_id not in computed]
            if unknown:
                cache.set_many({keys[item_id]: MISSING for item_id in unknown}, timeout=MISSING_TTL)
            result.update(computed)
    # The source said "no such id" for ``unknown``; everything else not in hand failed.
    unanswered = [item_id for item_id in missing if item_id not in result and item_id not in unknown]
    if not unanswered:
        return result
    stale = cache.get_many([_stale(keys[item_id]) for item_id in unanswered])
    if len(stale) < len(unanswered):
        raise failure or UpstreamUnavailable("the source did not answer")
    metrics.stale_served(kind, len(stale))
    for item_id in unanswered:
        result[item_id] = stale[_stale(keys[item_id])]
    return result


# --- refresh-ahead (the background refresh task) ----------------------------------------------


def expires_within(key: str, seconds: float, assume: bool) -> bool:
    """Whether ``key`` is missing or expires within ``seconds``.

    ``assume`` answers for a present key when the cache cannot tell how long
    it has left (the embedded file cache; Redis can).
    """
    ttl = getattr(cache, "ttl", None)
    if ttl is None:
        return assume or not cache.has_key(key)
    remaining = ttl(key)  # django-redis: 0 when missing, None without expiry (or when Redis is down)
    if remaining is None:
        return assume
    return bool(remaining < seconds)


def refresh(kind: CacheKind, key: str, compute: Callable[[], Any]) -> Any:
    """Recomputes ``key`` now and stores it with a fresh TTL, whatever is cached (refresh-ahead).

    Single-flight with request misses of the same key in this process.
    UpstreamUnavailable propagates: the cached copy stays until it expires.
    """
    with in_flight.hold([key]):
        value = compute()
        _store(kind, {key: value})
        return value


def refresh_many(
    kind: CacheKind, keys: Mapping[int, str], compute: Callable[[list[int]], Mapping[int, Any]]
) -> dict[int, Any]:
    """``refresh`` for a batch: one ``compute`` call for every id of ``keys``, one pipelined write."""
    with in_flight.hold(keys.values()):
        computed = dict(compute(list(keys)))
        if computed:
            _store(kind, {keys[item_id]: value for item_id, value in computed.items()})
        return computed
