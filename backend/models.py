"""What the project itself keeps: counts of each background task's runs.

Counter columns have database defaults: ``backend.counters.add`` inserts a
row naming only the columns it adds to.
"""

from __future__ import annotations

from django.db import models


class TaskStat(models.Model):
    """One row per Celery task name: runs by outcome, time spent, last success and failure.

    In the database rather than in a worker's memory, so /metrics and /readyz
    on any app server see the runs of every worker on any machine.
    """

    name = models.CharField(max_length=200, unique=True)
    successes = models.PositiveBigIntegerField(default=0, db_default=0)
    failures = models.PositiveBigIntegerField(default=0, db_default=0)
    retries = models.PositiveBigIntegerField(default=0, db_default=0)
    runs = models.PositiveBigIntegerField(default=0, db_default=0)
    seconds = models.FloatField(default=0.0, db_default=0.0)
    last_seconds = models.FloatField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True, default="", db_default="")

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name
