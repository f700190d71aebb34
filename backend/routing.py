"""An ASGI router by exact path, in front of Django's URL resolution."""

from __future__ import annotations

from collections.abc import Mapping

from backend.keepalive import ASGIApp, Receive, Scope, Send


class PathRouter:
    """HTTP requests for one of ``routes``' paths go to its application; everything else to ``default``."""

    def __init__(self, routes: Mapping[str, ASGIApp], default: ASGIApp) -> None:
        self.routes = dict(routes)
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self.routes.get(scope["path"], self.default) if scope["type"] == "http" else self.default
        await app(scope, receive, send)
