"""Replays kept anonymous answers at the ASGI level, before Django builds a request.

schema.response_cache keeps the answer to an anonymous read-only query for a
couple of seconds; replaying it from there still costs Django's request, the
middleware and the view. This ASGI middleware, in front of /graphql's stack,
records the whole HTTP response (status, headers, body) of a request whose
answer the view has just kept, and sends it again to the byte-identical
requests that follow, until that answer expires: the same lifetime, and
identical bodies and headers but for a fresh ``X-Request-ID`` (the client's,
when it sent a safe one). The access log line is written as usual.

Byte-identical means: method, scheme, path, query string, body, and every request
header the stack could read (Accept, Accept-Language, Accept-Encoding,
Origin, If-None-Match, Host, ...) except the few that change no answer
(``IGNORED``), so the replay key is finer than the answer's key (a different
spelling of the same query still gets the kept answer from the view) and
Vary, language and CORS cannot differ. A request with an Authorization header
is never replayed, and neither is anything the view did not keep (mutations,
answers with errors, signed-in requests).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from backend.keepalive import ASGIApp, Message, Receive, Scope, Send
from backend.logging import request_id_var
from backend.middleware import log_access, request_id_for
from schema import response_cache

# Headers that change no answer; any other header the request carries is part of the key.
IGNORED = frozenset(
    {b"x-request-id", b"connection", b"content-length", b"cookie", b"referer", b"x-forwarded-for"}
)
MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Response:
    """A recorded response: what the two ASGI messages carried."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


def replay_key(scope: Scope, body: bytes) -> str | None:
    """The key of this exact request, or None when it may not be replayed."""
    if scope["method"] not in ("GET", "POST") or len(body) > MAX_BODY:
        return None
    ignored = IGNORED if settings.DISALLOWED_USER_AGENTS else IGNORED | {b"user-agent"}
    headers = []
    for name, value in scope["headers"]:
        lowered = name.lower()
        if lowered == b"authorization":
            return None
        if lowered not in ignored:
            headers.append(lowered + b":" + value)
    digest = hashlib.sha256()
    for part in (
        scope["method"].encode(),
        # HTTPS or not changes the security headers (HSTS) and whether the answer is a redirect.
        scope.get("scheme", "http").encode(),
        scope["path"].encode(),
        scope.get("query_string", b""),
        # By name only: a repeated header keeps its order, which Django joins and reads in.
        *sorted(headers, key=lambda line: line.partition(b":")[0]),
    ):
        digest.update(part + b"\n")
    digest.update(body)
    return digest.hexdigest()


def _resumed(head: bytes, receive: Receive, more_body: bool = True) -> Receive:
    """``receive`` with the body's ``head``, already read, sent again first (all of it: ``more_body`` false)."""
    delivered = False

    async def resumed_receive() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": head, "more_body": more_body}

    return resumed_receive


class ReplayMiddleware:
    """ASGI middleware: kept answers sent as recorded, everything else passed to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "POST"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if not message.get("more_body"):
                break
            if size > MAX_BODY:
                # Never replayed, so never held here: Django reads the rest (spooled to disk).
                await self.app(scope, _resumed(b"".join(chunks), receive), send)
                return
        body = b"".join(chunks)
        key = replay_key(scope, body)
        kept = response_cache.get_replay(key) if key is not None else None
        if kept is not None:
            sent = next((v for n, v in scope["headers"] if n.lower() == b"x-request-id"), b"")
            # The access line carries the id the client gets, as RequestLogMiddleware's does.
            request_id = request_id_var.set(request_id_for(sent.decode("latin-1")))
            try:
                await self._send(kept, request_id_var.get().encode(), send)
                log_access(scope["method"], scope["path"], kept.status, started)
            finally:
                request_id_var.reset(request_id)
            return
        await self._record(scope, body, receive, send, key)

    @staticmethod
    async def _send(kept: Response, request_id: bytes, send: Send) -> None:
        headers = [(n, request_id if n.lower() == b"x-request-id" else v) for n, v in kept.headers]
        await send({"type": "http.response.start", "status": kept.status, "headers": headers})
        await send({"type": "http.response.body", "body": kept.body, "more_body": False})

    async def _record(self, scope: Scope, body: bytes, receive: Receive, send: Send, key: str | None) -> None:
        replay_receive = _resumed(body, receive, more_body=False)
        if key is None:
            await self.app(scope, replay_receive, send)
            return
        start: dict[str, Any] = {}
        parts: list[bytes] = []
        current = response_cache.Recording()

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
                # Kept as the last byte leaves, before the request hands back its connections.
                if not message.get("more_body", False) and current.kept and start.get("status") == 200:
                    headers = tuple((bytes(n), bytes(v)) for n, v in start.get("headers", []))
                    response_cache.put_replay(key, Response(200, headers, b"".join(parts)))
            await send(message)

        token = response_cache.recording.set(current)
        try:
            await self.app(scope, replay_receive, recording_send)
        finally:
            response_cache.recording.reset(token)
