"""``python -m bench.scale``: how serving and training costs grow with history (10k, 100k, 1M interactions).

For each size: a fresh PostgreSQL database holding the bundled catalog
(copied from a template built once), synthetic users and interactions
(``bench.synthetic``, then VACUUM ANALYZE), a model trained in its own process (wall time and that
process's peak RSS), then gunicorn with one uvicorn worker on the local
catalog, asked over one keep-alive connection from this process:

- ``recommendations(limit: 20)`` for sampled users, uncached: the user's
  cached answer is dropped (a new generation) before each request;
- ``trendingMovies(timeWindow: WEEK)``, uncached: its cache entry is deleted
  before each request (process memory tiers are off on the server).

Prints one table (and writes it to ``bench/scale_results.md``). Never fails on
timing; exits 1 only when setting up the services failed. Needs PostgreSQL and
Redis on 127.0.0.1 (``BENCH_PG_ADMIN_DSN`` as in ``make bench``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import redis
from psycopg import sql
from psycopg.conninfo import make_conninfo

from bench import services
from bench.loadgen import HttpConnection, percentile
from bench.services import HOST, ROOT, GunicornServer, SetupError

RESULTS_PATH = Path(__file__).resolve().parent / "scale_results.md"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
RECS_QUERY = "query { recommendations(limit: 20) { score reasons movie { id title year } } }"
TRENDING_QUERY = "query { trendingMovies(timeWindow: WEEK) { results { id title year } } }"
WARMUP = 20


@dataclass
class Options:
    sizes: tuple[int, ...] = DEFAULT_SIZES
    requests: int = 300
    users: int = 200
    seed: int = 42
    database: str = "moviegraph_scale"
    redis_url: str = "redis://127.0.0.1:6379/14"
    output: Path = RESULTS_PATH


@dataclass
class SizeResult:
    """One size's figures."""

    interactions: int
    users: int
    activity_rows_in_week: int
    generate_seconds: float
    train_seconds: float
    train_peak_rss_mb: float
    recs_ms: list[float]
    trending_ms: list[float]
    # Server CPU (the gunicorn worker's user + system time) per request: less sensitive than
    # latency to other work on the machine.
    recs_cpu_ms: float = 0.0
    trending_cpu_ms: float = 0.0

    @staticmethod
    def _p(values: list[float], pct: float) -> float:
        return percentile(sorted(values), pct)


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    defaults = Options()
    parser.add_argument(
        "--sizes", default=",".join(str(size) for size in defaults.sizes), help="interactions"
    )
    parser.add_argument("--requests", type=int, default=defaults.requests, help="timed requests per query")
    parser.add_argument("--users", type=int, default=defaults.users, help="users sampled for recommendations")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--database", default=defaults.database, help="PostgreSQL database (dropped and recreated)"
    )
    parser.add_argument("--redis-url", default=defaults.redis_url, help="Redis database (flushed)")
    parser.add_argument("--output", type=Path, default=defaults.output)
    args = parser.parse_args(argv)
    return Options(
        sizes=tuple(int(size) for size in args.sizes.split(",")),
        requests=args.requests,
        users=args.users,
        seed=args.seed,
        database=args.database,
        redis_url=args.redis_url,
        output=args.output,
    )


def app_env(opts: Options) -> dict[str, str]:
    """The server's (and this process's Django's) environment."""
    return services.production_env(
        f"postgres://postgres@127.0.0.1:5432/{opts.database}",
        opts.redis_url,
        CATALOG_SOURCE="local",
        TMDB_API_KEY="",
        WEB_CONCURRENCY="1",
        # Every timed request must do its work: no process-memory answers.
        GRAPHQL_RESPONSE_CACHE_SECONDS="0",
        CATALOG_LOCAL_CACHE_SECONDS="0",
        RATELIMIT_ENABLE="false",
        DJANGO_SETTINGS_MODULE="backend.settings",
    )


def _admin(statement: sql.Composable) -> None:
    with psycopg.connect(services.PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(statement)


def drop_database(name: str) -> None:
    _admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def create_database(name: str, template: str | None = None) -> None:
    drop_database(name)
    if template:
        _admin(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template))
        )
    else:
        _admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def run_python(env: dict[str, str], *args: str, timeout: float = 3600) -> tuple[float, str]:
    """Runs ``python *args``; (wall seconds, stdout). SetupError when it fails."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise SetupError(f"{' '.join(args)} took over {timeout:.0f} s") from error
    if done.returncode != 0:
        raise SetupError(f"{' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return time.perf_counter() - started, done.stdout


def measure_training(env: dict[str, str]) -> tuple[float, float]:
    """Trains in a child process via ``os.wait4``, so the peak RSS is that process's alone."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "train_recommender", "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        error = process.stderr.read().decode() if process.stderr else ""
        raise SetupError(f"train_recommender failed:\n{error[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def close_django_connections() -> None:
    from django.db import connections

    for conn in connections.all():
        conn.close()
        close_pool = getattr(conn, "close_pool", None)
        if close_pool is not None:
            close_pool()


async def timed_requests(
    port: int, requests: list[tuple[bytes, dict[str, str]]], before: list
) -> list[float]:
    """Sends each request on one keep-alive connection; milliseconds each (``before[i]`` runs untimed first)."""
    connection = HttpConnection(HOST, port, timeout=30)
    times: list[float] = []
    try:
        for (body, headers), prepare in zip(requests, before, strict=True):
            prepare()
            started = time.perf_counter()
            status, _, payload = await connection.request("POST", "/graphql", body, headers)
            elapsed = (time.perf_counter() - started) * 1000
            answer = json.loads(payload)
            if status != 200 or answer.get("errors"):
                raise SetupError(f"request failed ({status}): {payload[:300]!r}")
            times.append(elapsed)
    finally:
        await connection.close()
    return times


def measure_size(size: int, opts: Options, env: dict[str, str], template: str) -> SizeResult:
    """One size: fresh data, training, then the timed requests through gunicorn."""
    from django.core.cache import cache

    from accounts import tokens
    from accounts.models import User
    from movies.catalog import cache_policy, reads
    from movies.models import MovieActivity

    close_django_connections()
    create_database(opts.database, template)
    client = redis.Redis.from_url(opts.redis_url)
    try:
        client.flushdb()
    finally:
        client.close()
    generate_seconds, out = run_python(
        env, "-m", "bench.synthetic", "--interactions", str(size), "--seed", str(opts.seed)
    )
    print(f"  {size:,}: {out.strip()}", flush=True)
    # Statistics and visibility as autovacuum keeps them in a database in steady state.
    with psycopg.connect(make_conninfo(services.PG_ADMIN_DSN, dbname=opts.database), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    train_seconds, train_rss = measure_training(env)
    print(f"  {size:,}: trained in {train_seconds:.1f} s, peak RSS {train_rss:.0f} MB", flush=True)

    rng = random.Random(opts.seed)
    user_ids = list(User.objects.filter(username__startswith="synthetic-").values_list("id", flat=True))
    sample = rng.sample(user_ids, min(opts.users, len(user_ids)))
    token_of = {user.pk: tokens.issue(user).token for user in User.objects.filter(id__in=sample)}
    week_start = (datetime.now(UTC) - timedelta(days=7)).date()
    activity_rows = MovieActivity.objects.filter(day__gte=week_start).count()
    trending_key = cache_policy.cache_key("local", "trending", "trending_week", 1, reads.locale())

    server = GunicornServer(env, workers=1)
    server.start()
    try:
        recs_body = json.dumps({"query": RECS_QUERY}).encode()
        order = [sample[i % len(sample)] for i in range(WARMUP + opts.requests)]
        cpu_before = sum(server.worker_cpu().values())
        recs = asyncio.run(
            timed_requests(
                server.port,
                [(recs_body, {"Authorization": f"JWT {token_of[uid]}"}) for uid in order],
                [lambda uid=uid: cache_policy.drop_recommendations(uid) for uid in order],
            )
        )[WARMUP:]
        cpu_middle = sum(server.worker_cpu().values())
        trending_body = json.dumps({"query": TRENDING_QUERY}).encode()
        count = WARMUP + opts.requests
        trending = asyncio.run(
            timed_requests(
                server.port,
                [(trending_body, {})] * count,
                [lambda: cache.delete(trending_key)] * count,
            )
        )[WARMUP:]
        cpu_after = sum(server.worker_cpu().values())
    finally:
        server.stop()
        server.remove_log()
    return SizeResult(
        interactions=size,
        users=len(user_ids),
        activity_rows_in_week=activity_rows,
        generate_seconds=generate_seconds,
        train_seconds=train_seconds,
        train_peak_rss_mb=train_rss,
        recs_ms=recs,
        trending_ms=trending,
        # The warm-up requests are in the CPU totals too: all requests count.
        recs_cpu_ms=(cpu_middle - cpu_before) * 1000 / count,
        trending_cpu_ms=(cpu_after - cpu_middle) * 1000 / count,
    )


def render(results: list[SizeResult], opts: Options) -> str:
    """The Markdown table and the flatness line."""
    p = SizeResult._p
    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {platform.node() or 'this machine'} "
        f"({os.cpu_count()} cores), {opts.requests} timed requests per query and size, one connection.",
        "",
        "| Interactions | Users | Activity rows (week) | Recommendations p50 ms | p95 ms | CPU ms/req "
        "| trendingMovies p50 ms | p95 ms | CPU ms/req | Training s | Training peak RSS MB | Data generation s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.interactions:,} | {r.users:,} | {r.activity_rows_in_week:,} | {p(r.recs_ms, 50):.1f} "
            f"| {p(r.recs_ms, 95):.1f} | {r.recs_cpu_ms:.1f} | {p(r.trending_ms, 50):.1f} "
            f"| {p(r.trending_ms, 95):.1f} | {r.trending_cpu_ms:.1f} "
            f"| {r.train_seconds:.1f} | {r.train_peak_rss_mb:.0f} | {r.generate_seconds:.1f} |"
        )
    if len(results) > 1:
        first, last = results[0], results[-1]
        lines += [
            "",
            f"Recommendations p95 {last.interactions:,} / {first.interactions:,}: "
            f"{p(last.recs_ms, 95) / p(first.recs_ms, 95):.2f}x; trendingMovies p95: "
            f"{p(last.trending_ms, 95) / p(first.trending_ms, 95):.2f}x.",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    env = app_env(opts)
    template = f"{opts.database}_template"
    os.environ.update(env)
    import django

    django.setup()
    results: list[SizeResult] = []
    try:
        print(f"preparing {template} (migrations, bundled catalog)", flush=True)
        create_database(template)
        template_env = {**env, "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{template}"}
        run_python(template_env, "manage.py", "migrate", "--no-input", "-v", "0")
        run_python(template_env, "manage.py", "load_catalog", "-v", "0")
        for size in opts.sizes:
            print(f"size {size:,}", flush=True)
            results.append(measure_size(size, opts, env, template))
    except (SetupError, psycopg.Error, redis.RedisError) as error:
        print(f"setup failed: {error}", file=sys.stderr)
        return 1
    finally:
        close_django_connections()
        drop_database(opts.database)
        drop_database(template)
    text = render(results, opts)
    print(text)
    opts.output.write_text("# Scale benchmark (`python -m bench.scale`)\n\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
