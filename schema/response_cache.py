"""Micro-caching of whole responses to anonymous read-only queries, per process.

An anonymous query's answer depends only on the catalog (per-viewer fields
are false/null without a user), so the same request body gets the same
answer. Keeping it for a couple of seconds lets a busy process answer the
home page without executing it again; it adds those seconds to the catalog's
own process-local staleness. Requests with an Authorization header,
mutations, and answers with errors are never kept; a signed-in catalog query
keeps and reuses the answer to its viewer-independent form, an anonymous query
(schema.viewer_fields). schema.replay keeps the whole HTTP responses of kept
answers for as long as the answers. Requests are keyed by
what they ask, not by their bytes: a persisted query's hash, its GET form
and a POST with the query text all find the same kept answer.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache
from django.conf import settings

from movies import metrics
from schema.http import Answer

# Bytes of answers one process keeps, and the largest answer worth keeping.
MAX_BYTES = 32 * 1024 * 1024
MAX_ANSWER = 512 * 1024

_lock = threading.Lock()


class _BodySizedCache:
    """A TTLCache of values with a ``body``, sized in bytes, made on first use with the settings then."""

    def __init__(self) -> None:
        self._cache: TTLCache[str, Any] | None = None

    def get(self) -> TTLCache[str, Any] | None:
        if settings.GRAPHQL_RESPONSE_CACHE_SECONDS <= 0:
            return None
        with _lock:
            if self._cache is None:
                self._cache = TTLCache(
                    maxsize=MAX_BYTES,
                    ttl=settings.GRAPHQL_RESPONSE_CACHE_SECONDS,
                    getsizeof=lambda value: len(value.body),
                )
            return self._cache

    def clear(self) -> None:
        with _lock:
            self._cache = None


_entries = _BodySizedCache()


@dataclass
class Recording:
    """Set by schema.replay around one request: whether the view kept a freshly executed answer."""

    kept: bool = False


recording: contextvars.ContextVar[Recording | None] = contextvars.ContextVar("replay_recording", default=None)
# Whole HTTP responses (schema.replay), kept exactly as long as the answers they carry.
_replays = _BodySizedCache()


def _cache() -> TTLCache[str, Answer] | None:
    return _entries.get()


def clear() -> None:
    """Forgets every kept response (tests)."""
    _entries.clear()
    _replays.clear()


def _replay_cache() -> TTLCache[str, Any] | None:
    return _replays.get()


def get_replay(key: str) -> Any | None:
    """A kept HTTP response (schema.replay), or None."""
    replays = _replay_cache()
    if replays is None:
        return None
    with _lock:
        response = replays.get(key)
    if response is not None:
        metrics.RESPONSE_CACHE.labels("hit").inc()
    return response


def put_replay(key: str, response: Any) -> None:
    """Keeps the HTTP response of an answer ``put`` just kept: it expires with it."""
    replays = _replay_cache()
    if replays is not None and len(response.body) <= MAX_ANSWER:
        with _lock:
            replays[key] = response


def key_for(
    method: str, media_type: str, query: str, variables: Any, operation_name: str | None, language: str
) -> str | None:
    """The cache key of an anonymous query's answer, or None when the cache is off.

    The caller decides what may be kept (schema.views: anonymous queries only).
    Method and media type are part of the key: they change the answer's headers; so is
    the language, which TMDb's titles and overviews follow.
    """
    if _cache() is None:
        return None
    try:
        identity = json.dumps(
            [method, media_type, query, variables, operation_name, language], sort_keys=True
        )
    except (TypeError, ValueError, RecursionError):
        return None
    return hashlib.sha256(identity.encode()).hexdigest()


def get(key: str) -> Answer | None:
    """A kept answer, or None."""
    cache = _cache()
    if cache is None:
        return None
    with _lock:
        content = cache.get(key)
    metrics.RESPONSE_CACHE.labels("miss" if content is None else "hit").inc()
    return content


def put(key: str, answer: Answer) -> None:
    """Keeps a successful answer; one with errors is not kept."""
    cache = _cache()
    if cache is None or answer.has_errors or len(answer.body) > MAX_ANSWER:
        return
    with _lock:
        cache[key] = answer
    if (current := recording.get()) is not None:
        current.kept = True
