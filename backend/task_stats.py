"""Each background task's runs, counted in the database (``TaskStat``), and read back for the probes.

The worker records every attempt when it ends (``backend.celery``'s signal
handler); ``/metrics`` exposes the counts and durations, ``/readyz`` the last
success of each periodic task against its period.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector

from backend import counters
from backend.models import TaskStat

logger = logging.getLogger(__name__)

# Celery's end states -> our counter column.
OUTCOMES = {"SUCCESS": "successes", "FAILURE": "failures", "RETRY": "retries"}
# Counter column -> the ``outcome`` label on /metrics.
OUTCOME_LABELS = {"successes": "success", "failures": "failure", "retries": "retry"}
# A periodic task is late when its last success is older than this many periods.
LATE_AFTER_PERIODS = 3


def record(name: str, state: str, seconds: float, error: str = "") -> None:
    """Counts one attempt of task ``name`` that ended in Celery state ``state`` after ``seconds``."""
    now = timezone.now()
    increments: dict[str, float] = {"runs": 1, "seconds": seconds}
    assign: dict[str, Any] = {"last_seconds": seconds, "last_run_at": now}
    column = OUTCOMES.get(state)
    if column:
        increments[column] = 1
    if state == "SUCCESS":
        assign["last_success_at"] = now
    elif state == "FAILURE":
        assign.update(last_failure_at=now, last_error=error[:200])
    try:
        counters.add(TaskStat, {"name": name}, increments, assign)
    except DatabaseError:
        # Bookkeeping must never turn a task's outcome into another failure.
        logger.exception("could not record the run of %s", name)


def periodic() -> dict[str, float]:
    """Task name -> period in seconds, for every task beat sends."""
    periods: dict[str, float] = {}
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        period = float(entry["schedule"])
        periods[entry["task"]] = min(period, periods.get(entry["task"], period))
    return periods


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="seconds") if moment else None


def periodic_status() -> dict[str, dict[str, Any]]:
    """For /readyz: each periodic task's last success and failure, and whether it is late.

    ``late``: no success within ``LATE_AFTER_PERIODS`` periods (a training
    that has failed for a day shows here); ``never``: no success yet.
    """
    stats = {stat.name: stat for stat in TaskStat.objects.filter(name__in=list(periodic()))}
    now = timezone.now()
    report: dict[str, dict[str, Any]] = {}
    for name, period in sorted(periodic().items()):
        stat = stats.get(name)
        last = stat.last_success_at if stat else None
        if last is None:
            status = "never"
        elif (now - last).total_seconds() > LATE_AFTER_PERIODS * period:
            status = "late"
        else:
            status = "ok"
        report[name] = {
            "status": status,
            "everySeconds": period,
            "lastSuccess": _iso(last),
            "lastFailure": _iso(stat.last_failure_at if stat else None),
            "lastError": (stat.last_error or None) if stat else None,
        }
    return report


class TaskStatsCollector(Collector):
    """Prometheus view of the ``TaskStat`` table (read at scrape time)."""

    def collect(self) -> Iterator[Any]:
        runs = CounterMetricFamily(
            "moviegraph_task_runs", "Background task attempts by outcome", labels=["task", "outcome"]
        )
        durations = SummaryMetricFamily(
            "moviegraph_task_duration_seconds", "Duration of background task attempts", labels=["task"]
        )
        last_success = GaugeMetricFamily(
            "moviegraph_task_last_success_timestamp_seconds",
            "When each background task last succeeded (Unix time)",
            labels=["task"],
        )
        try:
            stats = list(TaskStat.objects.all())
        except DatabaseError:
            logger.exception("could not read task stats for /metrics")
            stats = []
        for stat in stats:
            for column, outcome in OUTCOME_LABELS.items():
                runs.add_metric([stat.name, outcome], getattr(stat, column))
            durations.add_metric([stat.name], count_value=stat.runs, sum_value=stat.seconds)
            if stat.last_success_at:
                last_success.add_metric([stat.name], stat.last_success_at.timestamp())
        yield runs
        yield durations
        yield last_success
