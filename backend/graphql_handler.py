"""/graphql on a lean ASGI stack: async middleware only, and no thread hop of Django's own.

Django's ASGIHandler costs every request thread hops that /graphql does not
need: one per hook of each sync middleware (sessions, CSRF, messages and
authentication by cookie serve the admin; this endpoint is CSRF-exempt and
authenticates by JWT itself), one to send ``request_started`` and one to close
the response. This handler keeps what the endpoint uses: the request id and
access log, CORS, the security headers, the Host check, gzip and
X-Frame-Options (``GRAPHQL_MIDDLEWARE``), Django's exception-to-response
conversion and URL resolution, in that order. backend.asgi routes /graphql here
and everything else (the admin, probes, metrics, the web client and static
files) to Django's full stack.

Database connections: each request keeps its own thread for thread-sensitive
work (asgiref's ThreadSensitiveContext, created only when a resolver first
needs it), and when it used one, that thread's connections are handed back to
the pool at the end, as ``request_finished`` does in Django's handler. A
request that touched no database (a replayed answer, a cached sign-in, the
catalog from memory) makes no hop at all.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from asgiref.sync import SyncToAsync, sync_to_async
from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.db import close_old_connections
from django.urls import set_script_prefix
from django.utils.module_loading import import_string

PATH = "/graphql"


def used_a_thread() -> bool:
    """Whether this request's thread-sensitive context has started its thread (asgiref's registry)."""
    context = SyncToAsync.thread_sensitive_context.get(None)
    return context is not None and context in SyncToAsync.context_to_thread_executor


class GraphQLHandler(ASGIHandler):
    """Django's ASGI handler with ``GRAPHQL_MIDDLEWARE`` instead of ``MIDDLEWARE`` and no request signals."""

    def load_middleware(self, is_async: bool = False) -> None:
        handler: Any = convert_exception_to_response(self._get_response_async)
        for path in reversed(settings.GRAPHQL_MIDDLEWARE):
            handler = convert_exception_to_response(import_string(path)(handler))
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        self._middleware_chain = handler

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            set_script_prefix(get_script_prefix(scope))
            request, error_response = self.create_request(scope, body_file)
            if request is None:
                await self._send(error_response, send)
            else:
                await self._respond_unless_gone(request, receive, send)
        finally:
            body_file.close()
            if used_a_thread():
                await sync_to_async(close_old_connections)()

    async def _send(self, response: Any, send: Any) -> None:
        await self.send_response(response, send)
        # request_finished's receivers run here, on the loop thread, which holds no connection.
        response.close()

    async def _respond_unless_gone(self, request: Any, receive: Any, send: Any) -> None:
        """The response, unless the client disconnects first: then the view is cancelled (a computation
        other requests share goes on for them), as in Django's own handler."""

        async def respond() -> None:
            await self._send(await self.run_get_response(request), send)

        responding = asyncio.ensure_future(respond())
        watching = asyncio.ensure_future(self.listen_for_disconnect(receive))
        try:
            await asyncio.wait({responding, watching}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (watching, responding):
                if not task.done():
                    task.cancel()
                with contextlib.suppress(asyncio.CancelledError, RequestAborted):
                    await task
