"""Micro-caching of whole responses to anonymous read-only queries, per process.

An anonymous query's answer depends only on the catalog (per-viewer fields
are false/null without a user), so the same request body gets the same
answer. Keeping it for a couple of seconds lets a busy process answer the
home page without executing it again, within the staleness the catalog's
process-local tier already has. Requests with an Authorization header,
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

_entries: TTLCache[str, bytes] | None = None
_lock = threading.Lock()


def _cache() -> TTLCache[str, bytes] | None:
    global _entries
    if settings.GRAPHQL_RESPONSE_CACHE_SECONDS <= 0:
        return None
    with _lock:
        if _entries is None:
            _entries = TTLCache(maxsize=1024, ttl=settings.GRAPHQL_RESPONSE_CACHE_SECONDS)
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
    return hashlib.sha256(body).hexdigest()


def get(key: str) -> bytes | None:
    cache = _cache()
    if cache is None:
        return None
    with _lock:
        content = cache.get(key)
    if content is not None:
        metrics.RESPONSE_CACHE.labels("hit").inc()
    return content


def put(key: str, content: bytes) -> None:
    """Keeps a successful answer; one with errors is not kept."""
    cache = _cache()
    if cache is None or b'"errors"' in content:
        return
    metrics.RESPONSE_CACHE.labels("miss").inc()
    with _lock:
        cache[key] = content
