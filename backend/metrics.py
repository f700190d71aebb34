"""Prometheus text exposition at /metrics."""

from __future__ import annotations

import os

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from backend.task_stats import TaskStatsCollector

# Background task runs are counted in the database by whichever worker ran
# them, so every app server exposes the same figures.
TASKS = CollectorRegistry(auto_describe=False)
TASKS.register(TaskStatsCollector())


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """All counters (with PROMETHEUS_MULTIPROC_DIR set, summed over every worker process), and task runs."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry) + generate_latest(TASKS), content_type=CONTENT_TYPE_LATEST)
