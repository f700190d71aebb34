"""Request id and access log for every request, sync or async (and for answers replayed before Django)."""

from __future__ import annotations

import contextvars
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

from backend.logging import request_id_var

logger = logging.getLogger("backend.access")

# A client-sent id is kept only if it is short and plain, so it cannot forge log lines.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestLogMiddleware:
    """Assigns a request id (echoed as X-Request-ID) and logs method, path, status, duration."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self._acall(request)
        started, token = self._start(request)
        try:
            return self._finish(request, self.get_response(request), started)  # type: ignore[arg-type]
        finally:
            request_id_var.reset(token)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        started, token = self._start(request)
        try:
            response = await self.get_response(request)  # type: ignore[misc]
            return self._finish(request, response, started)
        finally:
            request_id_var.reset(token)

    @staticmethod
    def _start(request: HttpRequest) -> tuple[float, contextvars.Token[str]]:
        request_id = request_id_for(request.headers.get("X-Request-ID", ""))
        request.request_id = request_id  # type: ignore[attr-defined]
        return time.perf_counter(), request_id_var.set(request_id)

    @staticmethod
    def _finish(request: HttpRequest, response: HttpResponse, started: float) -> HttpResponse:
        response["X-Request-ID"] = request.request_id  # type: ignore[attr-defined]
        log_access(request.method or "", request.path, response.status_code, started)
        return response


def request_id_for(sent: str) -> str:
    """The client's X-Request-ID when it is short and plain, else a fresh one."""
    return sent if _SAFE_REQUEST_ID.match(sent) else uuid.uuid4().hex


def log_access(method: str, path: str, status: int, started: float) -> None:
    """The access log line of a request that began at ``started`` (``time.perf_counter()``)."""
    duration_ms = (time.perf_counter() - started) * 1000
    logger.info(
        "%s %s %s %.1fms",
        method,
        path,
        status,
        duration_ms,
        extra={"method": method, "path": path, "status": status, "duration_ms": round(duration_ms, 2)},
    )
