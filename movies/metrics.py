"""Prometheus counters for the catalog: cache hits and misses per kind, upstream calls.

Served at /metrics. Under several gunicorn workers set PROMETHEUS_MULTIPROC_DIR
so the counters of all workers are summed (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

CACHE_REQUESTS = Counter(
    "moviegraph_cache_requests_total", "Catalog cache lookups by kind and result", ["kind", "result"]
)
RESPONSE_CACHE = Counter(
    "moviegraph_response_cache_total",
    "Cacheable anonymous queries replayed from process memory (hit) or executed (miss)",
    ["result"],
)
UPSTREAM_REQUESTS = Counter(
    "moviegraph_upstream_requests_total",
    "Requests sent to TMDb by endpoint and status",
    ["endpoint", "status"],
)
UPSTREAM_SECONDS = Histogram(
    "moviegraph_upstream_request_seconds", "TMDb request latency by endpoint", ["endpoint"]
)


def cache_hit(kind: str, count: int = 1) -> None:
    if count:
        CACHE_REQUESTS.labels(kind, "hit").inc(count)


def cache_miss(kind: str, count: int = 1) -> None:
    if count:
        CACHE_REQUESTS.labels(kind, "miss").inc(count)


def stale_served(kind: str, count: int = 1) -> None:
    CACHE_REQUESTS.labels(kind, "stale").inc(count)


def upstream_request(endpoint: str, status: int, seconds: float) -> None:
    """The TmdbClient's ``on_request`` hook."""
    UPSTREAM_REQUESTS.labels(endpoint, str(status)).inc()
    UPSTREAM_SECONDS.labels(endpoint).observe(seconds)
