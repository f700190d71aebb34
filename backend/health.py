"""Liveness (/healthz) and readiness (/readyz) probes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connection
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


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Each dependency's state; 503 when a critical one fails, so a balancer stops routing here."""
    results: dict[str, dict[str, object]] = {}
    ready, degraded = True, False
    for name, (check, critical) in CHECKS.items():
        started = time.perf_counter()
        try:
            detail = check()
            results[name] = {"status": "ok", "detail": detail}
        except Exception as error:
            # The class name tells an operator enough; the message may hold hosts or credentials.
            logger.error("readiness check %s failed: %s", name, type(error).__name__)
            results[name] = {"status": "fail" if critical else "degraded", "error": type(error).__name__}
            ready = ready and not critical
            degraded = True
        results[name]["ms"] = round((time.perf_counter() - started) * 1000, 2)
    status = "fail" if not ready else "degraded" if degraded else "ok"
    body: dict[str, object] = {"status": status, "checks": results}
    # A late background task is an operator's concern, not a reason to take this server out of rotation.
    try:
        body["tasks"] = task_stats.periodic_status()
    except Exception as error:
        logger.error("periodic task status unavailable: %s", type(error).__name__)
        body["tasks"] = {"error": type(error).__name__}
    return JsonResponse(body, status=200 if ready else 503)
