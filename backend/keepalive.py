"""A cap on the requests one keep-alive connection carries, so load rebalances across workers.

gunicorn's workers share one listening socket, and a client that keeps its
connection open stays with the worker that accepted it. When a worker dies,
its clients reconnect to the survivors and stay there while the replacement
idles (README, "Worker balance"). Closing each connection after
``KEEPALIVE_MAX_REQUESTS`` responses (``Connection: close``, which uvicorn
honours) makes every client reconnect now and then, and a new connection goes
to whichever worker accepts first: most often the least busy one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from cachetools import TTLCache

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Connections remembered per worker; an idle one is forgotten well after keep-alive ends it.
TRACKED_CONNECTIONS = 50_000
FORGET_AFTER_SECONDS = 600


class RequestsPerConnectionLimit:
    """ASGI middleware: the ``max_requests``-th response on a connection closes it (0: no cap)."""

    def __init__(self, app: ASGIApp, max_requests: int) -> None:
        self.app = app
        self.max_requests = max_requests
        # One TCP connection is one (client address, client port) while it is open.
        self.served: TTLCache[tuple[str, int], int] = TTLCache(TRACKED_CONNECTIONS, FORGET_AFTER_SECONDS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] != "http" or self.max_requests <= 0 or not client:
            await self.app(scope, receive, send)
            return
        connection = (client[0], client[1])
        served = self.served.get(connection, 0) + 1
        if served < self.max_requests:
            self.served[connection] = served
            await self.app(scope, receive, send)
            return
        self.served.pop(connection, None)

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, send_closing)
