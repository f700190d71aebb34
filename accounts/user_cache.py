"""Who a token's user is, in the shared cache: a signed-in request needs no database round trip.

Each entry is the user's row (every field but the password hash) with its
token version, kept for ``TTL`` seconds under ``auth:user:<id>``. It is read on
the event loop through Redis's asyncio client (no thread hop), compared with
the token's version, and the token is accepted only when both agree; anything
else (a miss, no Redis, Redis down, a token newer than the entry) asks the
database, as before, and refills the entry.

Entries are dropped whenever the row changes: every ``save`` or ``delete`` of a
user (password change, profile update, deactivation, the admin) and
``tokens.revoke_all`` (logout-everywhere, refresh-token theft), which bumps
the version with an UPDATE that sends no signal. Dropped now and again at
commit, each time by a marker kept ``SETTLE`` seconds in the entry's place, and
an entry is only written where there is none: a lookup that read the row
before the change cannot write its old version (or activity) back after the
drops, unless it stalls ``SETTLE`` seconds between its read and its write.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from accounts.models import User
from backend.logging import Throttle

logger = logging.getLogger(__name__)

TTL = 300
# Seconds after a change during which no entry is written: longer than a lookup's read (the
# statement timeout, 5 s by default) and its write; short, as the user's requests ask the database meanwhile.
SETTLE = 10
CHANGED = "changed"
# The row as the request needs it; the password hash stays in the database (the password
# checks of changePassword and deleteAccount read it there, as a deferred field).
FIELDS = [field for field in User._meta.concrete_fields if field.attname != "password"]
VERSION = "v"
# Connections per event loop (one GET takes a fraction of a millisecond), and how long a
# request waits for a free one before asking the database instead.
POOL_SIZE = 8
POOL_WAIT_SECONDS = 2.0

warnings = Throttle()
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = weakref.WeakKeyDictionary()


def key(user_id: int) -> str:
    """The cache key of a user's entry (before the cache's prefix and version)."""
    return f"auth:user:{user_id}"


def enabled() -> bool:
    """Only with Redis: the embedded file cache is no cheaper than the database."""
    return bool(settings.REDIS_URL)


def _client() -> aioredis.Redis:
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        # A few connections, waited for: a burst of requests opening one each timed out connecting.
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            max_connections=POOL_SIZE,
            timeout=POOL_WAIT_SECONDS,
            socket_timeout=settings.CACHES["default"]["OPTIONS"]["SOCKET_TIMEOUT"],
            socket_connect_timeout=settings.CACHES["default"]["OPTIONS"]["SOCKET_CONNECT_TIMEOUT"],
        )
        client = aioredis.Redis(connection_pool=pool)
        _clients[loop] = client
    return client


def snapshot(user: User) -> dict[str, Any]:
    """What an entry holds: JSON-ready field values and the token version."""
    values = {}
    for field in FIELDS:
        value = field.value_from_object(user)
        values[field.attname] = value.isoformat() if hasattr(value, "isoformat") else value
    return {"fields": values, VERSION: user.token_version}


def user_from(entry: dict[str, Any]) -> User | None:
    """The user of an entry, as if loaded with the password deferred; None when another release,
    with other columns, wrote it (a rolling deploy): the database answers instead."""
    values = entry["fields"]
    try:
        return User.from_db(
            "default",
            [field.attname for field in FIELDS],
            [field.to_python(values[field.attname]) for field in FIELDS],
        )
    except (KeyError, TypeError, ValueError, ValidationError):
        return None


def store(user: User) -> None:
    """Keeps ``user``'s entry unless one, or a change's marker, is there (sync: called where the row was just read)."""
    if enabled():
        cache.add(key(user.pk), snapshot(user), TTL)


async def read_raw(keys: list[str]) -> list[bytes | None] | None:
    """The raw values of ``keys`` (before the cache's prefix) in one round trip, on the event loop;
    None without Redis or when it does not answer."""
    if not enabled():
        return None
    try:
        return await _client().mget([cache.make_key(name) for name in keys])  # type: ignore[no-any-return]
    except (RedisError, OSError, TimeoutError):
        if warnings.due():  # in an outage every signed-in request comes here
            logger.warning("could not read the user cache; asking the database", exc_info=True)
        return None


def parse(raw: bytes | None) -> dict[str, Any] | None:
    """An entry as ``read_raw`` returned it, or None when it is missing, a change's marker or malformed."""
    if raw is None:
        return None
    try:
        entry = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("fields"), dict):
        return None
    return entry if isinstance(entry.get(VERSION), int) else None


async def read(user_id: int) -> dict[str, Any] | None:
    """The user's entry, or None (no Redis, a miss, or Redis not answering)."""
    raws = await read_raw([key(user_id)])
    return parse(raws[0]) if raws else None


def forget(user_id: int) -> None:
    """Drops the user's entry now and again when the surrounding transaction commits (``SETTLE``'s marker)."""
    if not enabled():
        return
    cache.set(key(user_id), CHANGED, SETTLE)
    transaction.on_commit(lambda: cache.set(key(user_id), CHANGED, SETTLE))
