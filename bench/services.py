"""The services a bench run sets up and tears down: the bench database, Redis, gunicorn."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import redis
from psycopg import sql

from bench.loadgen import fetch

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

PG_ADMIN_DSN = os.environ.get("BENCH_PG_ADMIN_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres")
DB_NAME = "moviegraph_bench"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = "redis://127.0.0.1:6379/14"
# What the fake TMDb adds to every response, one figure for both benchmarks so their cold rows compare.
UPSTREAM_LATENCY = 0.080


class SetupError(RuntimeError):
    """The bench could not prepare its services (this, unlike a slow figure, fails the run)."""


def cpu_shares(used: dict[int, float]) -> list[float]:
    """Each worker's share (%) of the CPU seconds ``used`` (by pid), largest first."""
    total = sum(used.values()) or 1.0
    return sorted((100 * seconds / total for seconds in used.values()), reverse=True)


def throwaway_secret_key(length: int = 50) -> str:
    """A random key of ``length`` characters, for this run only."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def production_env(database_url: str, redis_url: str, **overrides: str) -> dict[str, str]:
    """A bench server's environment: this one's without what would leak in, production settings,
    a throwaway secret key, then ``overrides``."""
    leaks = ("PROMETHEUS_MULTIPROC_DIR", "DJANGO_SETTINGS_MODULE", "CELERY_BROKER_URL")
    env = {k: v for k, v in os.environ.items() if k not in leaks}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        TMDB_READ_ACCESS_TOKEN="",
        ENVIRONMENT="production",
        DEBUG="0",
        SECRET_KEY=throwaway_secret_key(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def fake_tmdb_settings(base_url: str, api_key: str) -> dict[str, str]:
    """The variables that put a server's catalog on the fake TMDb at ``base_url``."""
    return {"CATALOG_SOURCE": "tmdb", "TMDB_BASE_URL": base_url, "TMDB_API_KEY": api_key}


def delete_prefixed(redis_url: str, prefix: str) -> int:
    """Deletes the keys under the cache prefix ``prefix`` (``prefix:*``) in ``redis_url``; how many."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
        return len(keys)
    finally:
        client.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def recreate_database() -> None:
    """DROP (forcing out old sessions) and CREATE the bench database."""
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB_NAME)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))


def drop_database() -> None:
    """Drop the bench database (sessions still open are terminated)."""
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB_NAME)))


def flush_redis() -> None:
    """FLUSHDB on the bench Redis database (14) only."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    finally:
        client.close()


def manage(env: dict[str, str], *args: str) -> None:
    """Run ``manage.py`` with ``env``; SetupError with its output when it fails."""
    completed = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if completed.returncode != 0:
        raise SetupError(f"manage.py {' '.join(args)} failed:\n{completed.stdout}\n{completed.stderr}")


class GunicornServer:
    """``gunicorn backend.asgi:application -c backend/gunicorn.conf.py`` on a free loopback port."""

    def __init__(
        self, env: dict[str, str], workers: int = 2, root: Path = ROOT, port: int | None = None
    ) -> None:
        self.env = env
        self.workers = workers
        self.root = root
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def log_path(self) -> Path:
        return Path(self._log.name)

    def start(self, ready_timeout: float = 60.0) -> None:
        """Start and wait until /healthz answers 200."""
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "backend.asgi:application",
            "-c",
            "backend/gunicorn.conf.py",
            "-b",
            f"{HOST}:{self.port}",
            "-w",
            str(self.workers),
        ]
        # Its own session, so stop() can reach the workers through the group id.
        self.process = subprocess.Popen(
            command,
            cwd=self.root,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SetupError(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                status, _ = asyncio.run(fetch(HOST, self.port, "GET", "/healthz", timeout=2.0))
                if status == 200:
                    return
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                pass
            time.sleep(0.2)
        raise SetupError(f"gunicorn did not answer /healthz within {ready_timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 25.0) -> None:
        """SIGTERM the master (graceful), then SIGKILL its process group if it lingers."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)  # the group we created; stray workers included
        process.wait(timeout=5)

    def _workers(self) -> dict[int, Path]:
        """The worker processes (children of the master): pid -> /proc entry."""
        if self.process is None:
            return {}
        workers: dict[int, Path] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # Fields after the parenthesised command: state ppid ...
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == self.process.pid:
                workers[int(entry.name)] = entry
        return workers

    def worker_cpu(self) -> dict[int, float]:
        """CPU seconds (user + system) used so far by each worker process."""
        ticks = os.sysconf("SC_CLK_TCK")
        usage: dict[int, float] = {}
        for pid, entry in self._workers().items():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                # utime and stime: fields 14 and 15, the 12th and 13th after the command.
                fields = stat[stat.rindex(")") + 2 :].split()
                usage[pid] = (int(fields[11]) + int(fields[12])) / ticks
        return usage

    def worker_rss(self) -> dict[int, int]:
        """Resident memory (bytes) of each worker process now."""
        resident: dict[int, int] = {}
        for pid, entry in self._workers().items():
            with contextlib.suppress(OSError, ValueError):
                for line in (entry / "status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        resident[pid] = int(line.split()[1]) * 1024
        return resident

    def remove_log(self) -> None:
        """Delete the log file (call after reading what the report needs)."""
        self._log.close()
        self.log_path.unlink(missing_ok=True)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of gunicorn's output."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def error_lines(self) -> list[str]:
        """Log lines at ERROR/CRITICAL level (JSON logs) or with a traceback."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        markers = ('"level": "ERROR"', '"level": "CRITICAL"', "Traceback", "[ERROR]", "[CRITICAL]")
        return [line for line in text.splitlines() if any(marker in line for marker in markers)]
