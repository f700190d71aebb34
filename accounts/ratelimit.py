"""Attempt limits on everything that checks a password or tells whether an account exists.

Counted in the shared cache (Redis: atomic increments, so they hold across
workers), over a sliding window: the previous fixed window's count weighs in
by how much of it still overlaps the last ``period`` seconds, so a burst across
a window boundary gets no second budget. Each action has (README, "Rate limits"):

- a tight budget per (client IP, account): one address guessing one account;
- optionally a budget per client IP over every account: one address spraying;
- optionally a looser budget of *failures* per account from every address.
  Once it is spent, only addresses that failed on the account are refused, so
  an attacker elsewhere cannot lock the owner out, and each further guess
  needs a fresh address.

Every account key is ``account_key`` of the name as typed: NFKC and casefold,
the normalisation ``services.find_account`` matches accounts by, so no
spelling reaches an account with a budget of its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from accounts.models import account_key
from backend.errors import RateLimited

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    """``count`` events per ``period`` seconds."""

    count: int
    period: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``10/m``, ``100/h``, ``5/10m`` (as django-ratelimit writes them)."""
        match = _RATE.match(text)
        if not match:
            raise ValueError(f"not a rate: {text!r} (e.g. 10/m, 100/h, 5/10m)")
        count, multiple, unit = match.groups()
        return cls(int(count), int(multiple or 1) * _UNITS[unit])


@dataclass(frozen=True)
class Policy:
    """Setting names of an action's rates; None where the action has no such budget."""

    pair: str
    address: str | None = None
    account_failures: str | None = None


POLICIES = {
    "login": Policy("LOGIN_RATE_LIMIT", "LOGIN_IP_RATE_LIMIT", "LOGIN_ACCOUNT_RATE_LIMIT"),
    "register": Policy("REGISTER_RATE_LIMIT", "REGISTER_RATE_LIMIT"),
    "password": Policy("PASSWORD_RATE_LIMIT", None, "PASSWORD_ACCOUNT_RATE_LIMIT"),
    "email": Policy("EMAIL_CHANGE_RATE_LIMIT", None, "EMAIL_CHANGE_ACCOUNT_RATE_LIMIT"),
}
LABELS = {"login": "sign-in", "register": "registration", "password": "password", "email": "email change"}


def _key(*parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"rl:{parts[0]}:{digest}"


def _add(key: str, delta: int, timeout: int) -> int:
    """Adds ``delta`` to the count at ``key``, which lasts ``timeout`` seconds more; ValueError if it is gone."""
    value = cache.incr(key, delta)
    if not settings.REDIS_URL:
        # Django's file cache increments by writing the count again for its default 300 s,
        # which forgot an hourly window's count after five quiet minutes; Redis's INCR keeps the expiry.
        cache.touch(key, timeout)
    return value


def _count(bucket: str, rate: Rate, increment: bool, now: float) -> float:
    """The bucket's sliding-window count (after counting one more event if ``increment``)."""
    window = int(now // rate.period)
    current_key, previous_key = f"{bucket}:{window}", f"{bucket}:{window - 1}"
    if increment:
        cache.add(current_key, 0, timeout=2 * rate.period)
        try:
            current = _add(current_key, 1, 2 * rate.period)
        except ValueError:  # expired between add and incr
            cache.set(current_key, 1, timeout=2 * rate.period)
            current = 1
    else:
        current = cache.get(current_key) or 0
    previous = cache.get(previous_key) or 0
    overlap = 1 - (now % rate.period) / rate.period
    return previous * overlap + (current or 0)


def _uncount(key: str, rate: Rate) -> None:
    with contextlib.suppress(ValueError):  # already expired
        _add(key, -1, 2 * rate.period)


def _wait(bucket: str, rate: Rate, now: float) -> int:
    """Seconds until one more event fits the bucket's rate (at least 1)."""
    window = int(now // rate.period)
    current = cache.get(f"{bucket}:{window}") or 0
    previous = cache.get(f"{bucket}:{window - 1}") or 0
    left = rate.period - now % rate.period
    room = rate.count - 1
    if current <= room and previous > 0:
        # Over only with the previous window's weight, which fades out by the end of this one.
        wait = left - (room - current) * rate.period / previous
    else:
        # This window alone is over: in the next, its weight must fade enough.
        wait = left + rate.period * (1 - room / max(current, 1))
    return max(math.ceil(wait), 1)


def _refuse(action: str, bucket: str, rate: Rate, now: float) -> RateLimited:
    wait = _wait(bucket, rate, now)
    return RateLimited(f"Too many {LABELS[action]} attempts; try again in {wait} seconds.", retry_after=wait)


def _rate(setting: str) -> Rate:
    return Rate.parse(getattr(settings, setting))


def _address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


def attempt(request: HttpRequest, action: str, account: str) -> None:
    """Counts one attempt at ``action`` on ``account``; raises RATE_LIMITED when a budget is spent."""
    if not settings.RATELIMIT_ENABLE:
        return
    policy, now = POLICIES[action], time.time()
    address, name = _address(request), account_key(account)
    checks = [(_key(action, "pair", address, name), policy.pair)]
    if policy.address:
        checks.append((_key(action, "address", address), policy.address))
    counted: list[tuple[str, Rate]] = []
    for bucket, setting in checks:
        rate = _rate(setting)
        counted.append((f"{bucket}:{int(now // rate.period)}", rate))
        if _count(bucket, rate, increment=True, now=now) > rate.count:
            # A refused attempt is not an attempt: take back what this one counted, so
            # the budget means "at most N in any period" and hammering does not extend it.
            for key, counted_rate in counted:
                _uncount(key, counted_rate)
            raise _refuse(action, bucket, rate, now)
    if policy.account_failures:
        rate = _rate(policy.account_failures)
        bucket = _key(action, "account", name)
        spent = _count(bucket, rate, increment=False, now=now) >= rate.count
        if spent and _count(_key(action, "failed", address, name), rate, increment=False, now=now) > 0:
            raise _refuse(action, bucket, rate, now)


def failure(request: HttpRequest, action: str, account: str) -> None:
    """Counts a failed attempt (a wrong password, a taken email) against the account's budget."""
    policy = POLICIES[action]
    if not settings.RATELIMIT_ENABLE or not policy.account_failures:
        return
    now, rate = time.time(), _rate(policy.account_failures)
    address, name = _address(request), account_key(account)
    _count(_key(action, "account", name), rate, increment=True, now=now)
    _count(_key(action, "failed", address, name), rate, increment=True, now=now)
