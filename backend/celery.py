"""The Celery app: background work for every Django app's ``tasks.py``.

Workers and beat run it with ``celery -A backend.celery:app worker`` / ``beat``
(``make run`` starts both beside the web server). Configuration comes from the
Django settings' ``CELERY_*`` names; the broker is Redis when ``REDIS_URL`` is
set, else a folder of message files (no server needed).

Every task is a ``BackgroundTask``: it retries with exponential backoff on the
failures that pass (upstream, database, cache or broker connection errors),
has a time limit, and its runs are counted for ``/metrics`` and ``/readyz``
(``backend.task_stats``).
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from celery import Celery, Task, signals
from django.conf import settings
from django.db import InterfaceError, OperationalError
from kombu.exceptions import KombuError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from backend.errors import UpstreamUnavailable

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

logger = logging.getLogger(__name__)

app = Celery("moviegraph")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Failures worth another try later: the thing we depend on may be back by then.
RETRYABLE: tuple[type[BaseException], ...] = (
    UpstreamUnavailable,
    OperationalError,
    InterfaceError,
    RedisConnectionError,
    RedisTimeoutError,
)


def retry_countdown(retries: int) -> float:
    """Seconds before attempt ``retries + 2``: base x 2^retries, capped, the second half jittered.

    Half fixed so a retry never comes at once, half random so workers that
    failed together do not all come back together.
    """
    ceiling = min(settings.TASK_RETRY_BACKOFF_MAX_SECONDS, settings.TASK_RETRY_BACKOFF_SECONDS * 2**retries)
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class BackgroundTask(app.Task):  # type: ignore[name-defined,misc]
    """A task that retries on passing failures, with backoff read from the settings at each retry."""

    # Subclasses may not rely on results: nothing reads them (no result backend).
    ignore_result = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except RETRYABLE as error:
            if self.request.called_directly:
                raise
            raise self.retry(
                exc=error,
                countdown=retry_countdown(self.request.retries),
                max_retries=settings.TASK_MAX_RETRIES,
            ) from error


def enqueue(task_name: str, *args: Any, fallback: Callable[[], None] | None = None) -> None:
    """Queues a task by name; when the broker cannot take it, runs ``fallback`` here instead.

    By name, so the layers that queue work (e.g. the catalog) do not import
    the tasks module, which sits above them.
    """
    try:
        app.tasks[task_name].apply_async(args)
    except (KombuError, OSError) as error:
        logger.warning("could not queue %s (%s)", task_name, type(error).__name__)
        if fallback is not None:
            fallback()


@signals.celeryd_init.connect
def _broker_folders(**kwargs: Any) -> None:
    """The filesystem transport needs its folders to exist before anything is queued."""
    make_broker_folders()


def make_broker_folders() -> None:
    """Creates the filesystem broker's folders (no-op for other brokers)."""
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if key in options:
            Path(str(options[key])).mkdir(parents=True, exist_ok=True)


_started: dict[str, float] = {}


@signals.task_prerun.connect
def _task_started(task_id: str, **kwargs: Any) -> None:
    _started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def _task_finished(task_id: str, task: Task, state: str | None, retval: Any = None, **kwargs: Any) -> None:
    from backend import task_stats

    started = _started.pop(task_id, None)
    seconds = time.perf_counter() - started if started is not None else 0.0
    error = type(retval).__name__ if isinstance(retval, BaseException) else ""
    task_stats.record(task.name, state or "", seconds, error)


make_broker_folders()
