"""Liveness (/healthz) and readiness (/readyz) probes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from backend import task_stats

logger = logging.getLogger(__name__)


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def check_cache() -> str:
    """Pings Redis directly: through django-redis with IGNORE_EXCEPTIONS a dead Redis looks like misses."""
    if settings.REDIS_URL:
        from django_redis import get_redis_connection

        get_redis_connection("default").ping()
        return "redis"
    cache.set("readyz", "ok", timeout=5)
    if cache.get("readyz") != "ok":
        raise RuntimeError("local cache does not keep values")
    return "file"


def check_catalog() -> str:
    from movies.catalog import reads

    return reads.check()


# name -> (check, critical). A failed critical check makes the instance unready
# (503); the cache is not critical: without Redis the API answers from the
# source, slower, so the instance reports itself degraded but stays in rotation.
CHECKS: dict[str, tuple[Callable[[], str], bool]] = {
    "database": (check_database, True),
    "cache": (check_cache, False),
    "catalog": (check_catalog, True),
}


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests."""
    return JsonResponse({"status": "ok"})


# A probe must answer within a second whatever the state: checks run side by side in
# threads of their own, and one still running after this long counts as failed.
READY_TIMEOUT_SECONDS = 0.8
_checkers = ThreadPoolExecutor(max_workers=2 * len(CHECKS), thread_name_prefix="readyz")


def _timed(check: Callable[[], str]) -> tuple[str | None, str | None, float]:
    """(detail, None, seconds) when the check passes, (None, the error's class name, seconds) if not."""
    started = time.perf_counter()
    try:
        return check(), None, time.perf_counter() - started
    except Exception as error:
        # The class name tells an operator enough; the message may hold hosts or credentials.
        return None, type(error).__name__, time.perf_counter() - started
    finally:
        # This thread's database connection goes back to the pool at once.
        connections.close_all()


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Each dependency's state; 503 when a critical one fails, so a balancer stops routing here."""
    futures = {name: _checkers.submit(_timed, check) for name, (check, _) in CHECKS.items()}
    wait(futures.values(), timeout=READY_TIMEOUT_SECONDS)
    results: dict[str, dict[str, object]] = {}
    ready, degraded = True, False
    for name, (_, critical) in CHECKS.items():
        future = futures[name]
        if future.done():
            detail, error, seconds = future.result()
        else:
            detail, error, seconds = None, "TimeoutError", READY_TIMEOUT_SECONDS
        if error is None:
            results[name] = {"status": "ok", "detail": detail}
        else:
            logger.error("readiness check %s failed: %s", name, error)
            results[name] = {"status": "fail" if critical else "degraded", "error": error}
            ready = ready and not critical
            degraded = True
        results[name]["ms"] = round(seconds * 1000, 2)
    status = "fail" if not ready else "degraded" if degraded else "ok"
    body: dict[str, object] = {"status": status, "checks": results}
    # A late background task is an operator's concern, not a reason to take this server out of rotation.
    try:
        body["tasks"] = task_stats.periodic_status()
    except Exception as error:
        logger.error("periodic task status unavailable: %s", type(error).__name__)
        body["tasks"] = {"error": type(error).__name__}
    return JsonResponse(body, status=200 if ready else 503)
