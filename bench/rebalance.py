"""Worker balance after a worker restart: how CPU splits between gunicorn's workers.

``python -m bench.rebalance`` starts gunicorn with two workers twice, once
with ``KEEPALIVE_MAX_REQUESTS=0`` (no cap) and once with the default cap,
drives 50 keep-alive connections, SIGKILLs one worker a few seconds in, and
prints how the two workers shared the CPU in the seconds after its
replacement came up. Nothing but loopback traffic; each run is bounded in time.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time

from bench.loadgen import run_load
from bench.services import HOST, GunicornServer, cpu_shares, throwaway_secret_key

CONNECTIONS = 50
KILL_AFTER_SECONDS = 4.0
SETTLE_SECONDS = 3.0
MEASURE_SECONDS = 12.0
BODY = json.dumps({"query": "{ __typename }"}).encode()


def _split(before: dict[int, float], after: dict[int, float]) -> list[float]:
    return cpu_shares({pid: after[pid] - before.get(pid, 0.0) for pid in after})


async def _measure(server: GunicornServer) -> tuple[list[float], int, int]:
    load = asyncio.create_task(
        run_load(
            HOST,
            server.port,
            lambda i: ("/graphql", BODY),
            concurrency=CONNECTIONS,
            max_requests=10**9,
            max_seconds=KILL_AFTER_SECONDS + SETTLE_SECONDS + MEASURE_SECONDS,
        )
    )
    await asyncio.sleep(KILL_AFTER_SECONDS)
    victim = min(server.worker_cpu())
    os.kill(victim, signal.SIGKILL)
    await asyncio.sleep(SETTLE_SECONDS)  # gunicorn notices and boots a replacement
    before = server.worker_cpu()
    await asyncio.sleep(MEASURE_SECONDS - 1)
    after = server.worker_cpu()
    result = await load
    return _split(before, after), result.requests, result.http_errors


def main() -> int:
    """Prints the CPU split between the workers after a restart, without and with the cap."""
    for cap in ("0", "25"):
        env = {
            **os.environ,
            "SECRET_KEY": throwaway_secret_key(),
            "KEEPALIVE_MAX_REQUESTS": cap,
            "RATELIMIT_ENABLE": "false",
            "LOG_LEVEL": "WARNING",
        }
        server = GunicornServer(env, workers=2)
        server.start()
        try:
            started = time.monotonic()
            split, requests, errors = asyncio.run(_measure(server))
        finally:
            server.stop()
            server.remove_log()
        print(
            f"KEEPALIVE_MAX_REQUESTS={cap}: CPU split after the restart "
            f"{'/'.join(f'{share:.0f}' for share in split)} %, {requests} requests "
            f"({errors} cut by the kill) in {time.monotonic() - started:.0f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
