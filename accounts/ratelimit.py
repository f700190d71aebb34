"""Login and registration attempt limits, counted in the shared cache (django-ratelimit).

Counted per client IP and per account name, so neither one address trying
many accounts nor many addresses trying one account gets far.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from backend.errors import RateLimited


def check(request: HttpRequest, action: str, rate: str, account: str) -> None:
    """Counts one attempt at ``action``; raises RATE_LIMITED once either limit is passed."""
    keys = {"ip": "ip", "account": lambda group, request: account.strip().casefold()}
    for name, key in keys.items():
        usage = get_usage(request, group=f"{action}:{name}", key=key, rate=rate, increment=True)
        if usage and usage["should_limit"]:
            wait = max(int(usage["time_left"]), 1)
            raise RateLimited(f"Too many {action} attempts; try again in {wait} seconds.", retry_after=wait)


def login_rate() -> str:
    return settings.LOGIN_RATE_LIMIT


def register_rate() -> str:
    return settings.REGISTER_RATE_LIMIT
