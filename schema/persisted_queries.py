"""Automatic persisted queries, exactly as Apollo's link speaks them.

A client sends ``extensions.persistedQuery = {version: 1, sha256Hash}``
without the query; an unknown hash answers the error ``PersistedQueryNotFound``
(code ``PERSISTED_QUERY_NOT_FOUND``), so the client sends hash and query
together once, and the hash alone works from then on, over POST and GET
(where a CDN can keep the answer: schema.cache_control). The registry lives
in the shared cache, so every worker knows what any worker was sent; each
process also remembers the hashes it has seen, which is always right because
a hash names exactly one text.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from cachetools import LRUCache
from django.core.cache import cache

from schema.http import GraphQLRequest, RequestError

NOT_FOUND_MESSAGE = "PersistedQueryNotFound"
NOT_FOUND_CODE = "PERSISTED_QUERY_NOT_FOUND"
# A query no client has sent for this long is dropped; the next client registers it again.
REGISTRY_TTL = 7 * 24 * 3600
_local: LRUCache[str, str] = LRUCache(maxsize=2000)
_lock = threading.Lock()


def _key(sha256_hash: str) -> str:
    return f"persisted-query:{sha256_hash}"


def _hash_of(extensions: dict[str, Any]) -> str | None:
    """The sha256 hash a request names, or None when it is not a persisted query."""
    persisted = extensions.get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise RequestError(400, "Unsupported persisted query: send {version: 1, sha256Hash}.")
    sha256_hash = persisted.get("sha256Hash")
    if not isinstance(sha256_hash, str) or len(sha256_hash) != 64:
        raise RequestError(400, "persistedQuery.sha256Hash must be a SHA-256 hash in hex.")
    return sha256_hash.lower()


def resolve(request: GraphQLRequest) -> tuple[str, str | None]:
    """The query to run, and the hash to register once it has run (None: nothing to register).

    Raises the RequestError Apollo's link waits for when the hash is unknown.
    """
    sha256_hash = _hash_of(request.extensions)
    if sha256_hash is None:
        if not request.query:
            raise RequestError(400, "No GraphQL query found in the request.")
        return request.query, None
    if request.query:
        if hashlib.sha256(request.query.encode()).hexdigest() != sha256_hash:
            raise RequestError(400, "provided sha does not match query")
        return request.query, sha256_hash
    with _lock:
        known = _local.get(sha256_hash)
    if known is None:
        known = cache.get(_key(sha256_hash))
        if not isinstance(known, str):
            # Apollo's link looks for this message (and code) with a 200 status.
            raise RequestError(200, NOT_FOUND_MESSAGE, code=NOT_FOUND_CODE)
        with _lock:
            _local[sha256_hash] = known
    return known, None


def register(sha256_hash: str, query: str) -> None:
    """Keeps a query that was sent with its hash (after it parsed and validated)."""
    cache.set(_key(sha256_hash), query, timeout=REGISTRY_TTL)
    with _lock:
        _local[sha256_hash] = query


def forget_local() -> None:
    """Forgets this process's memory of hashes (tests)."""
    with _lock:
        _local.clear()
