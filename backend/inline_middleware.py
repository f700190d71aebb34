"""Django middleware whose hooks do no I/O, run on the event loop instead of in a thread.

Under ASGI, Django runs every ``MiddlewareMixin`` hook through
``sync_to_async``: a thread hop for each ``process_request`` and each
``process_response``, because it cannot know that a hook does not block. These
four only read settings, headers and the URL patterns, or compress a body in
memory (CPU work a thread would not make cheaper under the GIL), so calling
them inline keeps their exact behaviour (the same classes, the same settings)
without the hops. The /graphql stack (backend.graphql_handler) is built from
them; the admin keeps Django's own stack.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from asgiref.sync import markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from django.middleware import clickjacking, common, gzip, security
from django.utils.deprecation import MiddlewareMixin

GetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


class InlineMiddleware:
    """Async-only: ``middleware_class``'s hooks called directly, in MiddlewareMixin's order."""

    middleware_class: ClassVar[type[MiddlewareMixin]]
    sync_capable = False
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self.inner = self.middleware_class(get_response)
        self.process_request = getattr(self.inner, "process_request", None)
        self.process_response = getattr(self.inner, "process_response", None)
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.process_request(request) if self.process_request else None
        response = response or await self.get_response(request)
        if self.process_response:
            response = self.process_response(request, response)
        return response


class SecurityMiddleware(InlineMiddleware):
    """HSTS, nosniff, Referrer-Policy, Cross-Origin-Opener-Policy, the HTTPS redirect."""

    middleware_class = security.SecurityMiddleware


class GZipMiddleware(InlineMiddleware):
    """Gzip for clients that accept it (bodies of 200 bytes and more)."""

    middleware_class = gzip.GZipMiddleware


class CommonMiddleware(InlineMiddleware):
    """The Host check against ALLOWED_HOSTS, denied user agents, Content-Length."""

    middleware_class = common.CommonMiddleware


class XFrameOptionsMiddleware(InlineMiddleware):
    """X-Frame-Options."""

    middleware_class = clickjacking.XFrameOptionsMiddleware
