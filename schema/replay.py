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
Vary, language and CORS cannot differ. Nothing the view did not keep is
replayed (mutations, answers with errors).

Signed-in requests are keyed the same way but for their Authorization header,
which is checked here on the shared cache alone (accounts.auth.verify: the
token, the user's entry, the viewer's lists, one Redis round trip). Two kinds
of their answers are replayed:

- a signed-in catalog query's: recorded as the view's template of it
  (schema.viewer_fields, made from the kept viewer-independent answer, until
  which it expires), filled with this viewer's lists and gzipped as the GZip
  middleware would;
- an answer that depends on nothing but the viewer's data (schema.views'
  ``VIEWER_ANSWER_ROOTS``: recommendations): recorded for that user, the
  generation of their data and the recommender's model, for
  ``response_cache.VIEWER_ANSWER_SECONDS``.

Anything else, or a token the cache cannot vouch for, goes on to Django,
which reuses the check (``auth.verified``) rather than making it again.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.middleware.gzip import GZipMiddleware, re_accepts_gzip
from django.utils.text import compress_string

from accounts import auth
from backend.keepalive import ASGIApp, Message, Receive, Scope, Send
from backend.logging import request_id_var
from backend.middleware import log_access, request_id_for
from movies.recommender.serving import loaded_version
from schema import response_cache
from schema.viewer_fields import Template

# Headers that change no answer; any other header the request carries is part of the key.
IGNORED = frozenset(
    {b"x-request-id", b"connection", b"content-length", b"cookie", b"referer", b"x-forwarded-for"}
)
MAX_BODY = 64 * 1024
# Django's GZipMiddleware leaves shorter bodies as they are.
GZIP_FROM = 200


@dataclass(frozen=True)
class Response:
    """A recorded response: what the two ASGI messages carried."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


@dataclass(frozen=True)
class SplicedResponse:
    """A recorded signed-in catalog answer: status and headers (Content-Length set per fill), and the
    template its body is filled from for each viewer, gzipped when it was."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    template: Template
    compressed: bool

    @property
    def size(self) -> int:
        return self.template.size

    def for_viewer(self, state: auth.ViewerState) -> Response | None:
        """The response to the viewer of ``state``; None once the answer it was made from expired, or
        when gzip would not pay for this body (Django then decides)."""
        if time.monotonic() >= self.template.expires:
            return None
        body = self.template.fill(state)
        if self.compressed:
            packed = compress_string(body, max_random_bytes=GZipMiddleware.max_random_bytes)
            if len(packed) >= len(body):
                return None
            body = packed
        length = str(len(body)).encode()
        # In the place and spelling Django gave it, as X-Request-ID is replaced in ``_send``.
        headers = tuple((n, length if n.lower() == b"content-length" else v) for n, v in self.headers)
        return Response(self.status, headers, body)


def replay_key(scope: Scope, body: bytes) -> tuple[str, str | None] | None:
    """The key of this exact request but for its Authorization header, and that header (None when
    anonymous); None when it may not be replayed."""
    if scope["method"] not in ("GET", "POST") or len(body) > MAX_BODY:
        return None
    ignored = IGNORED if settings.DISALLOWED_USER_AGENTS else IGNORED | {b"user-agent"}
    headers = []
    authorization: list[bytes] = []
    for name, value in scope["headers"]:
        lowered = name.lower()
        if lowered == b"authorization":
            authorization.append(value)
        elif lowered not in ignored:
            headers.append(lowered + b":" + value)
    if len(authorization) > 1:
        return None
    digest = hashlib.sha256()
    for part in (
        b"signed-in" if authorization else b"anonymous",
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
    return digest.hexdigest(), authorization[0].decode("latin-1") if authorization else None


def viewer_answer_key(key: str, viewer: auth.Verified) -> str | None:
    """The key of a request's answer to one viewer: the user, the generation of their data, the model."""
    if viewer.generation is None:
        return None
    return f"{key}:{viewer.user.pk}:{viewer.generation}:{loaded_version()}"


def _accepts_gzip(scope: Scope) -> bool:
    """As GZipMiddleware reads Accept-Encoding (a repeated header joined, as Django does)."""
    sent = ",".join(v.decode("latin-1") for n, v in scope["headers"] if n.lower() == b"accept-encoding")
    return bool(re_accepts_gzip.search(sent))


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
        keyed = replay_key(scope, body)
        if keyed is None:
            await self._record(scope, body, receive, send, None)
            return
        key, authorization = keyed
        if authorization is None:
            kept = response_cache.get_replay(key)
            if isinstance(kept, Response):
                await self._replay(kept, scope, send, started)
                return
            await self._record(scope, body, receive, send, key)
            return
        checked = await auth.verify(authorization)
        viewer = checked if isinstance(checked, auth.Verified) else None
        answer_key = viewer_answer_key(key, viewer) if viewer is not None else None
        if viewer is not None:
            kept = response_cache.get_viewer_answer(answer_key) if answer_key is not None else None
            spliced = response_cache.get_replay(key) if kept is None else None
            # The lists are decoded only for a template to fill with them.
            if isinstance(spliced, SplicedResponse) and viewer.state is not None:
                kept = spliced.for_viewer(viewer.state)
            if kept is not None:
                await self._replay(kept, scope, send, started)
                return
        token = auth.verified.set(checked)
        try:
            await self._record(scope, body, receive, send, key, True, viewer, answer_key)
        finally:
            auth.verified.reset(token)

    async def _replay(self, kept: Response, scope: Scope, send: Send, started: float) -> None:
        sent = next((v for n, v in scope["headers"] if n.lower() == b"x-request-id"), b"")
        # The access line carries the id the client gets, as RequestLogMiddleware's does.
        request_id = request_id_var.set(request_id_for(sent.decode("latin-1")))
        try:
            await self._send(kept, request_id_var.get().encode(), send)
            log_access(scope["method"], scope["path"], kept.status, started)
        finally:
            request_id_var.reset(request_id)

    @staticmethod
    async def _send(kept: Response, request_id: bytes, send: Send) -> None:
        headers = [(n, request_id if n.lower() == b"x-request-id" else v) for n, v in kept.headers]
        await send({"type": "http.response.start", "status": kept.status, "headers": headers})
        await send({"type": "http.response.body", "body": kept.body, "more_body": False})

    async def _record(
        self,
        scope: Scope,
        body: bytes,
        receive: Receive,
        send: Send,
        key: str | None,
        signed_in: bool = False,
        viewer: auth.Verified | None = None,
        answer_key: str | None = None,
    ) -> None:
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
                if not message.get("more_body", False) and start.get("status") == 200:
                    headers = tuple((bytes(n), bytes(v)) for n, v in start.get("headers", []))
                    self._keep(scope, signed_in, key, viewer, answer_key, current, headers, b"".join(parts))
            await send(message)

        token = response_cache.recording.set(current)
        try:
            await self.app(scope, replay_receive, recording_send)
        finally:
            response_cache.recording.reset(token)

    @staticmethod
    def _keep(
        scope: Scope,
        signed_in: bool,
        key: str,
        viewer: auth.Verified | None,
        answer_key: str | None,
        current: response_cache.Recording,
        headers: tuple[tuple[bytes, bytes], ...],
        body: bytes,
    ) -> None:
        """Keeps what the view said may be replayed of the 200 response just sent."""
        if not signed_in:
            if current.kept:
                response_cache.put_replay(key, Response(200, headers, body))
            return
        # A template holds nothing of the viewer's; an answer to one is kept only for a verified token.
        if viewer is not None and current.viewer_answer_of == viewer.user.pk and answer_key is not None:
            response_cache.put_viewer_answer(answer_key, Response(200, headers, body))
        template = current.template
        if template is None:
            return
        shortest, longest = template.lengths()
        compressed = (b"content-encoding", b"gzip") in ((n.lower(), v) for n, v in headers)
        if longest >= GZIP_FROM and (shortest < GZIP_FROM or (not compressed and _accepts_gzip(scope))):
            # Gzip compresses some fills but not others, or it did not pay for this body: Django decides.
            return
        response_cache.put_replay(key, SplicedResponse(200, headers, template, compressed))
