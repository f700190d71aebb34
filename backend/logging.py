"""Request-scoped log context (every log line carries the request id), and warnings kept to one a minute."""

from __future__ import annotations

import contextvars
import logging
import threading
import time

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    """Stamps the current request id (or '-') on each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class Throttle:
    """Says when a recurring warning is due again: at most once every ``seconds`` (an outage makes every
    request fail the same way; one traceback a minute tells as much as thousands)."""

    def __init__(self, seconds: float = 60.0) -> None:
        self.seconds = seconds
        self._last = -seconds
        self._lock = threading.Lock()

    def due(self) -> bool:
        """True when the last warning was ``seconds`` ago or more (and counts this one)."""
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.seconds:
                return False
            self._last = now
            return True
