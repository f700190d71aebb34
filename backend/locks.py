"""Locks that hold across processes and workers, for work only one of them may do at a time.

With Redis (``REDIS_URL``) the lock is redis-py's (a token in a key that
expires, released only by its holder), so it holds across machines; on the
embedded default, an ``flock`` on a file in ``var/locks`` (one machine is all
that setup has). Either way a holder that dies cannot keep it: the key
expires, the file lock ends with the process.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from redis.exceptions import LockError, RedisError

from backend.logging import Throttle

logger = logging.getLogger(__name__)
warnings = Throttle()

LOCK_DIR = Path(settings.BASE_DIR) / "var" / "locks"


@contextlib.contextmanager
def exclusive(name: str, timeout: float) -> Iterator[bool]:
    """Yields True holding the lock ``name``, or False at once if someone else holds it.

    ``timeout`` bounds how long a holder that never releases (a killed worker)
    keeps it with Redis; it should exceed the work's own time limit.
    """
    if settings.REDIS_URL:
        from django_redis import get_redis_connection

        lock = get_redis_connection("default").lock(
            f"{settings.CACHE_KEY_PREFIX}:lock:{name}", timeout=timeout
        )
        if not lock.acquire(blocking=False):
            yield False
            return
        try:
            yield True
        finally:
            # Expired meanwhile (the work overran): someone else may hold it now; theirs to release.
            with contextlib.suppress(LockError):
                lock.release()
        return
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    with (LOCK_DIR / f"{name}.lock").open("a") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def one_at_a_time(name: str, timeout: float, wait: float) -> Iterator[bool]:
    """Yields True holding the lock ``name`` once it is free (waiting ``wait`` seconds at most), else
    False: for work any process may do, where one at a time saves the rest doing it (they find its
    result when they get the lock). Only with Redis; without, and when Redis fails, it yields False
    at once and the caller's own in-process single flight is all there is.
    """
    if not settings.REDIS_URL:
        yield False
        return
    from django_redis import get_redis_connection

    lock = get_redis_connection("default").lock(
        f"{settings.CACHE_KEY_PREFIX}:lock:{name}", timeout=timeout, sleep=0.02, blocking_timeout=wait
    )
    try:
        held = lock.acquire()
    except RedisError:
        if warnings.due():  # in an outage every fill of a key comes here
            logger.warning("could not take the lock %s; going on without it", name, exc_info=True)
        held = False
    try:
        yield held
    finally:
        if held:
            with contextlib.suppress(LockError, RedisError):
                lock.release()
