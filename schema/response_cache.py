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
import dataclasses
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cachetools import TTLCache
from django.conf import settings

from movies import metrics
from schema.http import Answer

if TYPE_CHECKING:
    from schema.viewer_fields import Split, Template

# Bytes of answers one process keeps, and the largest answer worth keeping.
MAX_BYTES = 32 * 1024 * 1024
MAX_ANSWER = 512 * 1024
# How long a signed-in answer that depends only on the generation of the viewer's data (and the
# recommender's model) is replayed: its key holds both, so this bounds staleness from the catalog only.
VIEWER_ANSWER_SECONDS = 60.0

_lock = threading.Lock()


class _BodySizedCache:
    """A TTLCache of values with a ``size`` in bytes, made on first use with the settings then."""

    def __init__(self, seconds: float | None = None) -> None:
        # None: GRAPHQL_RESPONSE_CACHE_SECONDS; either way off when that setting is.
        self._seconds = seconds
        self._cache: TTLCache[str, Any] | None = None

    def get(self) -> TTLCache[str, Any] | None:
        if settings.GRAPHQL_RESPONSE_CACHE_SECONDS <= 0:
            return None
        with _lock:
            if self._cache is None:
                self._cache = TTLCache(
                    maxsize=MAX_BYTES,
                    ttl=self._seconds or settings.GRAPHQL_RESPONSE_CACHE_SECONDS,
                    getsizeof=_size,
                )
            return self._cache

    def clear(self) -> None:
        with _lock:
            self._cache = None


def _size(value: Any) -> int:
    size = getattr(value, "size", None)
    return size if isinstance(size, int) else len(value.body)


_entries = _BodySizedCache()


@dataclass
class Recording:
    """Set by schema.replay around one request: what of the view's answer may be replayed."""

    # Anonymous: the view kept a freshly executed answer.
    kept: bool = False
    # Signed in: the answer's template (schema.viewer_fields), the same for every viewer.
    template: Template | None = None
    # Signed in: the answer depends on nothing but this user's data (and the recommender's model).
    viewer_answer_of: int | None = None


recording: contextvars.ContextVar[Recording | None] = contextvars.ContextVar("replay_recording", default=None)
# Whole HTTP responses (schema.replay), kept exactly as long as the answers they carry.
_replays = _BodySizedCache()
# Whole HTTP responses of one viewer (schema.replay), by their user, generation and model.
_viewer_answers = _BodySizedCache(VIEWER_ANSWER_SECONDS)
# Templates of kept answers (schema.views), by the answer's key and the split plan: within the same
# bytes, and no longer than the answers they were made from.
_templates = _BodySizedCache()


@dataclass(frozen=True)
class _Made:
    plan: Split
    template: Template

    @property
    def size(self) -> int:
        return self.template.size


def _cache() -> TTLCache[str, Answer] | None:
    return _entries.get()


def clear() -> None:
    """Forgets every kept response (tests)."""
    _entries.clear()
    _replays.clear()
    _viewer_answers.clear()
    _templates.clear()


def _hit(store: _BodySizedCache, key: str) -> Any | None:
    cache = store.get()
    if cache is None:
        return None
    with _lock:
        response = cache.get(key)
    if response is not None:
        metrics.RESPONSE_CACHE.labels("hit").inc()
    return response


def _keep(store: _BodySizedCache, key: str, response: Any) -> None:
    cache = store.get()
    if cache is not None and _size(response) <= MAX_ANSWER:
        with _lock:
            cache[key] = response


def get_replay(key: str) -> Any | None:
    """A kept HTTP response (schema.replay), or None."""
    return _hit(_replays, key)


def put_replay(key: str, response: Any) -> None:
    """Keeps the HTTP response of an answer ``put`` just kept (or a signed-in answer's template, which
    expires with the answer it was made from): it expires with it."""
    _keep(_replays, key, response)


def get_viewer_answer(key: str) -> Any | None:
    """A kept HTTP response to one viewer (schema.replay), or None."""
    return _hit(_viewer_answers, key)


def put_viewer_answer(key: str, response: Any) -> None:
    """Keeps the HTTP response to one viewer for ``VIEWER_ANSWER_SECONDS``, under a key naming what it
    depends on."""
    _keep(_viewer_answers, key, response)


def get_template(key: str, plan: Split, kept: Answer) -> Template | None:
    """The template ``put_template`` kept of the answer ``kept`` for ``plan``, or None."""
    cache = _templates.get()
    if cache is None:
        return None
    with _lock:
        made = cache.get(f"{key}:{id(plan)}")
    # The plan itself (an id is reused once its object is gone), and this very kept answer.
    if made is None or made.plan is not plan or made.template.expires != kept.kept_until:
        return None
    return made.template  # type: ignore[no-any-return]


def put_template(key: str, plan: Split, made: Template) -> None:
    """Keeps the template of a kept answer (one made from an answer ``put`` did not keep is not)."""
    if made.expires > 0:
        _keep(_templates, f"{key}:{id(plan)}", _Made(plan, made))


def keep_viewer_answer(user_id: int) -> None:
    """Marks the answer the view is sending ``user_id`` as theirs to replay (schema.replay records it)."""
    if (current := recording.get()) is not None:
        current.viewer_answer_of = user_id


def keep_template(made: Template) -> None:
    """Hands the template of the signed-in answer the view is sending to schema.replay."""
    if (current := recording.get()) is not None:
        current.template = made


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


def put(key: str, answer: Answer) -> Answer | None:
    """Keeps a successful answer, and returns it as kept (with its ``kept_until``); one with errors
    is not kept (None)."""
    cache = _cache()
    if cache is None or answer.has_errors or len(answer.body) > MAX_ANSWER:
        return None
    kept = dataclasses.replace(answer, kept_until=time.monotonic() + cache.ttl)
    with _lock:
        cache[key] = kept
    if (current := recording.get()) is not None:
        current.kept = True
    return kept
