"""One computation for every concurrent caller asking for the same thing, on an event loop.

A burst of requests that all miss the same kept answer, or one viewer's
concurrent requests that all need their lists or their sign-in read from the
database, would each do the same work at once; here the first caller's
computation is shared by the rest that arrive before it ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

_in_flight: dict[str, asyncio.Task[Any]] = {}


async def shared(key: str, make: Callable[[], Awaitable[T]]) -> T:
    """``make()``'s result, computed once for every caller asking for ``key`` meanwhile (per event loop);
    a caller that is cancelled leaves the computation running for the others."""
    task = _in_flight.get(key)
    if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
        task = asyncio.ensure_future(make())
        _in_flight[key] = task

        def forget(done: asyncio.Task[Any]) -> None:
            if _in_flight.get(key) is done:
                del _in_flight[key]

        task.add_done_callback(forget)
    return await asyncio.shield(task)  # type: ignore[no-any-return]
