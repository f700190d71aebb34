"""Micro-caching of whole responses to anonymous read-only queries, per process.

An anonymous query's answer depends only on the catalog (per-viewer fields
are false/null without a user), so the same request body gets the same
answer. Keeping it for a couple of seconds lets a busy process answer the
home page without executing it again; it adds those seconds to the catalog's
own process-local staleness. Requests with an Authorization header,
mutations, subscriptions, and answers with errors are never kept.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading

from cachetools import TTLCache
from django.conf import settings
from django.http import HttpRequest
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

from movies import metrics

MAX_BODY = 20_000
# Bytes of answers one process keeps, and the largest answer worth keeping.
MAX_BYTES = 32 * 1024 * 1024
MAX_ANSWER = 512 * 1024

_entries: TTLCache[str, bytes] | None = None
_lock = threading.Lock()


def _cache() -> TTLCache[str, bytes] | None:
    global _entries
    if settings.GRAPHQL_RESPONSE_CACHE_SECONDS <= 0:
        return None
    with _lock:
        if _entries is None:
            _entries = TTLCache(maxsize=MAX_BYTES, ttl=settings.GRAPHQL_RESPONSE_CACHE_SECONDS, getsizeof=len)
        return _entries


def clear() -> None:
    """Forgets every kept response (tests)."""
    global _entries
    with _lock:
        _entries = None


@functools.lru_cache(maxsize=512)
def _only_queries(document: str) -> bool:
    try:
        definitions = parse(document).definitions
    except GraphQLError:
        return False
    operations = [d for d in definitions if isinstance(d, OperationDefinitionNode)]
    return bool(operations) and all(op.operation is OperationType.QUERY for op in operations)


def key_for(request: HttpRequest) -> str | None:
    """The cache key of a cacheable request, or None."""
    if request.method != "POST" or "Authorization" in request.headers or _cache() is None:
        return None
    # Only plain JSON asked and answered: other content types take strawberry's own paths.
    if request.content_type != "application/json" or "multipart" in request.headers.get("Accept", ""):
        return None
    body = request.body
    if len(body) > MAX_BODY:
        return None
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    query = payload.get("query") if isinstance(payload, dict) else None
    if not isinstance(query, str) or not _only_queries(query):
        return None
    # The answer depends on the language asked for (TMDb translates titles and overviews).
    language = request.headers.get("Accept-Language", "")[:100].encode()
    return hashlib.sha256(body + b"\0" + language).hexdigest()


def get(key: str) -> bytes | None:
    cache = _cache()
    if cache is None:
        return None
    with _lock:
        content = cache.get(key)
    metrics.RESPONSE_CACHE.labels("miss" if content is None else "hit").inc()
    return content


def put(key: str, content: bytes) -> None:
    """Keeps a successful answer; one with errors is not kept."""
    cache = _cache()
    if cache is None or b'"errors"' in content or len(content) > MAX_ANSWER:
        return
    with _lock:
        cache[key] = content
