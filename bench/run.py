"""``python -m bench``: set up, measure every scenario, print and save the tables, clean up.

Exit status 0 whatever the figures; 1 only if setting up the services failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from bench import promtext, report, scenarios, services, sqlcount
from bench.loadgen import RequestFactory, fetch, run_load
from bench.services import HOST, UPSTREAM_LATENCY, GunicornServer, SetupError

RESULTS_PATH = Path(__file__).resolve().parent / "results.md"

T = TypeVar("T")


@dataclass
class Options:
    """Bounds of the run (the defaults are what ``make bench`` uses)."""

    concurrency: int = 100
    max_requests: int = 5000
    max_seconds: float = 20.0
    cold_requests: int = 500
    zipf_s: float = 1.1
    output: Path = RESULTS_PATH


@dataclass
class Measurements:
    """Everything the report needs from the load phase."""

    ceiling: report.ScenarioResult
    cold_wave: report.ScenarioResult
    cold_all: report.ScenarioResult
    warm: report.ScenarioResult
    mix: report.ScenarioResult
    mix_second: report.ScenarioResult
    workers_seen: int
    mix_distinct: int
    mix_ids: int
    upstream_by_status: dict[str, float] = field(default_factory=dict)
    extra: list[report.ScenarioResult] = field(default_factory=list)


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    defaults = Options()
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency)
    parser.add_argument("--max-requests", type=int, default=defaults.max_requests, help="per scenario")
    parser.add_argument("--max-seconds", type=float, default=defaults.max_seconds, help="per scenario")
    parser.add_argument("--cold-requests", type=int, default=defaults.cold_requests)
    parser.add_argument("--zipf-s", type=float, default=defaults.zipf_s)
    parser.add_argument("--output", type=Path, default=defaults.output)
    args = parser.parse_args(argv)
    return Options(
        concurrency=args.concurrency,
        max_requests=args.max_requests,
        max_seconds=args.max_seconds,
        cold_requests=max(args.cold_requests, args.concurrency),
        zipf_s=args.zipf_s,
        output=args.output,
    )


def app_env(fake_base_url: str, fake_api_key: str) -> dict[str, str]:
    """The server's environment: production settings on the bench database, Redis db 14, the fake TMDb."""
    return services.production_env(
        services.DATABASE_URL,
        services.REDIS_URL,
        WEB_CONCURRENCY="2",
        **services.fake_tmdb_settings(fake_base_url, fake_api_key),
    )


def worker_pids(prom_dir: Path) -> set[str]:
    """Worker pids that wrote counters (prometheus_client names its files ``<type>_<pid>.db``)."""
    return {path.stem.rsplit("_", 1)[-1] for path in prom_dir.glob("*.db")}


def known_movie_ids(fake: Any) -> list[int]:
    """Ids the fake TMDb has details for, in list-fixture order (trending first), then its two recordings."""
    # The fake synthesizes details for every movie its list fixtures mention (its _catalog).
    return list(dict.fromkeys([*fake._catalog, 550, 348]))


async def load_phase(server: GunicornServer, fake: Any, prom_dir: Path, opts: Options) -> Measurements:
    """Warm up, then the four scenarios; /metrics and the fake's request log are read around each."""
    port = server.port

    async def metrics_text() -> str:
        status, body = await fetch(HOST, port, "GET", "/metrics")
        if status != 200:
            raise SetupError(f"/metrics answered {status}")
        return body.decode()

    async def measure(
        name: str,
        factory: RequestFactory,
        max_requests: int,
        before: Callable[[], None] | None = None,
        max_seconds: float = opts.max_seconds,
        concurrency: int = opts.concurrency,
        headers: dict[str, str] | None = None,
    ) -> report.ScenarioResult:
        if before is not None:
            before()
        counts_before, upstream_before = promtext.cache_counts(await metrics_text()), fake.count()
        cpu_before = server.worker_cpu()
        result = await run_load(
            HOST,
            port,
            factory,
            concurrency=concurrency,
            max_requests=max_requests,
            max_seconds=max_seconds,
            headers=headers,
        )
        cpu_after = server.worker_cpu()
        counts_after, upstream_after = promtext.cache_counts(await metrics_text()), fake.count()
        print(
            f"  {name}: {result.requests} requests in {result.duration:.1f} s, {result.errors} errors",
            file=sys.stderr,
        )
        return report.ScenarioResult(
            name,
            result,
            upstream_after - upstream_before,
            promtext.delta(counts_after, counts_before),
            worker_cpu={pid: cpu - cpu_before.get(pid, 0.0) for pid, cpu in cpu_after.items()},
        )

    ceiling_request = scenarios.fixed(scenarios.CEILING_QUERY)
    home_request = scenarios.fixed(scenarios.HOME_QUERY)

    def ceiling_factory(_: int) -> tuple[str, bytes]:
        return ceiling_request

    def home_factory(_: int) -> tuple[str, bytes]:
        return home_request

    # Warm-up: every connection opened up front so both workers get some; both code paths run.
    print("warming up both workers", file=sys.stderr)
    n = opts.concurrency
    await run_load(
        HOST, port, ceiling_factory, concurrency=n, max_requests=10 * n, max_seconds=opts.max_seconds
    )
    await run_load(HOST, port, home_factory, concurrency=n, max_requests=5 * n, max_seconds=opts.max_seconds)
    workers_seen = len(worker_pids(prom_dir))

    print("measuring", file=sys.stderr)
    ceiling = await measure("Ceiling `{ __typename }`", ceiling_factory, opts.max_requests)
    cold_wave = await measure(
        f"Home page, cold: first wave ({n} requests at once after FLUSHDB)",
        home_factory,
        n,
        before=services.flush_redis,
    )
    cold_rest = await measure("Home page, cold: the rest", home_factory, opts.cold_requests - n)
    cold_all = combine(
        f"Home page, cold: first {opts.cold_requests} requests after FLUSHDB", cold_wave, cold_rest
    )
    warm = await measure("Home page, warm", home_factory, opts.max_requests)
    movie_ids = known_movie_ids(fake)
    mix_factory = scenarios.ZipfMix(movie_ids, s=opts.zipf_s)
    # Two halves back to back, so the hit ratio once the cache has filled shows on its own.
    half_requests, half_seconds = opts.max_requests // 2, opts.max_seconds / 2
    mix_first = await measure(
        "mix, first half", mix_factory, half_requests, services.flush_redis, half_seconds
    )
    mix_second = await measure(
        f"Zipf mix: second half ({half_requests} requests or {half_seconds:.0f} s)",
        mix_factory,
        half_requests,
        max_seconds=half_seconds,
    )
    mix = combine(f"Zipf mix (s={opts.zipf_s}) from an empty cache: both halves", mix_first, mix_second)

    # A signed-in viewer with three favorites asks for recommendations.
    auth = {"Authorization": f"JWT {await sign_in(port, movie_ids[:3])}"}
    recs_request = scenarios.fixed(scenarios.RECOMMENDATIONS_QUERY)

    def recs_factory(_: int) -> tuple[str, bytes]:
        return recs_request

    await run_load(HOST, port, recs_factory, concurrency=n, max_requests=n, headers=auth)
    recs = await measure("Recommendations(limit: 20), warm", recs_factory, opts.max_requests, headers=auth)
    # One connection: the service time of a request, without queueing behind 99 others.
    single = min(opts.max_requests, 500)
    home_single = await measure("Home page, warm, 1 connection", home_factory, single, concurrency=1)
    recs_single = await measure(
        "Recommendations(limit: 20), warm, 1 connection", recs_factory, single, concurrency=1, headers=auth
    )
    upstream_by_status: dict[str, float] = {}
    for labels, value in promtext.samples(await metrics_text(), "moviegraph_upstream_requests_total"):
        status = labels.get("status", "?")
        upstream_by_status[status] = upstream_by_status.get(status, 0.0) + value
    return Measurements(
        ceiling,
        cold_wave,
        cold_all,
        warm,
        mix,
        mix_second,
        workers_seen,
        len(mix_factory.distinct),
        len(movie_ids),
        upstream_by_status,
        [recs, home_single, recs_single],
    )


async def sign_in(port: int, favorite_ids: list[int]) -> str:
    """Registers a bench user with a few favorites; returns its access token."""
    status, payload = await fetch(HOST, port, "POST", "/graphql", scenarios.body(scenarios.REGISTER_MUTATION))
    data = json.loads(payload)
    if status != 200 or data.get("errors"):
        raise SetupError(f"could not register the bench user: {payload[:200]!r}")
    token = data["data"]["register"]["token"]
    for movie_id in favorite_ids:
        await fetch(
            HOST,
            port,
            "POST",
            "/graphql",
            scenarios.body(scenarios.ADD_FAVORITE_MUTATION, {"id": movie_id}),
            headers={"Authorization": f"JWT {token}"},
        )
    return token


def combine(name: str, first: report.ScenarioResult, second: report.ScenarioResult) -> report.ScenarioResult:
    """Two back-to-back runs as one scenario."""

    def added(a: dict[Any, float], b: dict[Any, float]) -> dict[Any, float]:
        return {key: a.get(key, 0.0) + b.get(key, 0.0) for key in {*a, *b}}

    return report.ScenarioResult(
        name,
        first.result.merged(second.result),
        first.upstream_calls + second.upstream_calls,
        added(first.cache, second.cache),
        worker_cpu=added(first.worker_cpu, second.worker_cpu),
    )


def run_async(coro: Awaitable[T]) -> T:
    """Run ``coro`` on uvloop when installed (a cheaper client leaves more CPU to the server)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)  # type: ignore[arg-type]


def render(
    m: Measurements,
    sql: list[sqlcount.QueryCount],
    opts: Options,
    elapsed: float,
    log_errors: list[str],
    load_before: str,
) -> str:
    """The whole markdown document."""
    cold_sql = next((c for c in sql if c.label == "cold"), None)
    warm_sql = next((c for c in sql if c.label == "warm"), None)
    m.cold_wave.sql_per_request = m.cold_all.sql_per_request = cold_sql.sql_queries if cold_sql else None
    m.warm.sql_per_request = warm_sql.sql_queries if warm_sql else None
    rows = [m.ceiling, m.cold_wave, m.cold_all, m.warm, m.mix, m.mix_second, *m.extra]
    ratio = (
        m.warm.result.throughput / m.ceiling.result.throughput
        if m.ceiling.result.throughput
        else float("nan")
    )
    mix_lookups = sum(promtext.hit_ratios(m.mix.cache)["overall"])
    best = 1 - m.mix_distinct / mix_lookups if mix_lookups else None
    out = [
        "## Benchmark",
        "",
        f"`make bench`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}: gunicorn + 2 uvicorn workers (production settings) on PostgreSQL "
        f"and Redis, catalog from a fake TMDb on loopback adding {UPSTREAM_LATENCY * 1000:.0f} ms to every "
        f"response. Load: {opts.concurrency} keep-alive connections from an asyncio client on the same "
        f"machine (it shares the CPU cores with the server); each scenario stops at {opts.max_requests} "
        f"requests or {opts.max_seconds:.0f} s.",
        "",
        report.scenario_table(rows),
        "",
        f"Warm / ceiling throughput: **{ratio:.2f}**.",
        "",
        report.targets_table(m.ceiling, m.cold_wave, m.warm, m.mix),
        "",
        "Cache hit ratio of the Zipf mix, from `moviegraph_cache_requests_total` (delta over the scenario); "
        "`response` = anonymous answers replayed whole from process memory (`moviegraph_response_cache_total`), "
        "one hit each; a request that executed counts through its catalog lookups in the other rows:",
        "",
        report.hit_ratio_table(m.mix.cache),
        "",
        "Notes:",
        "",
        f"- *Cold* = requests sent right after `FLUSHDB` of the bench Redis db. The first wave is one request "
        f"per connection, all {opts.concurrency} sent at once while the cache is empty (requests the server only "
        f"starts once earlier ones have filled the cache are hits: see their hit ratio); the second cold row is the first {opts.cold_requests} requests after the flush (the wave included).",
        "- Errors = non-200 responses, transport errors and 200s carrying GraphQL `errors`. "
        "Latencies include failed requests.",
        "- Upstream calls/req = requests the fake TMDb received during the scenario / requests sent.",
        "- SQL queries/req: the home-page query through Django's test client in the bench process "
        "(`CaptureQueriesContext`, same database and settings), right after `FLUSHDB` (cold) and again (warm).",
        f"- Zipf mix: half `movie(id)` over the {m.mix_ids} ids the fake TMDb knows, half list "
        f"pages 1..{scenarios.MAX_LIST_PAGE} (kind uniform over the 5 lists), ranks Zipf(s={opts.zipf_s}), "
        f"seeded. It sent {m.mix_distinct} distinct keys: a cache that only missed each once would score "
        f"{'—' if best is None else f'{best * 100:.1f}%'} on these lookups (replayed answers counted as one "
        "lookup each).",
        "- Cold home-page SQL statements: "
        + (
            ", ".join(f"`{shape}` x {n}" for shape, n in sqlcount.summarize(cold_sql.statements))
            if cold_sql and cold_sql.statements
            else "none"
        )
        + (
            f"; upstream calls in-process: cold {cold_sql.upstream_calls}, warm {warm_sql.upstream_calls}"
            if cold_sql and warm_sql
            else ""
        ),
        "- CPU used by the bench process (load generator + fake TMDb) per scenario, as a share of one core: "
        + ", ".join(
            f"{row.name.split(':')[0].split(' (')[0]} {row.result.client_cpu / row.result.duration * 100:.0f}%"
            for row in [m.ceiling, m.cold_wave, m.warm, m.mix]
            if row.result.duration
        ),
        f"- Workers that served warm-up requests: {m.workers_seen} of 2.",
        "- Upstream responses by status over the whole run (server counter): "
        + (", ".join(f"{s}: {v:.0f}" for s, v in sorted(m.upstream_by_status.items())) or "none"),
        f"- Server log lines at ERROR level or with a traceback: {len(log_errors)}.",
        f"- The run took {elapsed:.0f} s; load average before it: {load_before}.",
        "- Server CPU ms/req: user + system CPU of the gunicorn workers during the scenario / requests; "
        "the split shows how evenly the keep-alive connections landed on the two workers.",
    ]
    failures = [(row.name, row.result.failures()) for row in rows if row.result.errors]
    if failures:
        out += ["", "Most frequent failures:", ""]
        for name, details in failures:
            for detail, count in details.items():
                out.append(f"- {name}: {count} x `{detail[:200]}`")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 unless the set-up broke."""
    from tests.fake_tmdb import FakeTmdb

    opts = parse_args(argv)
    started = time.monotonic()
    load_before = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    fake = FakeTmdb()
    server: GunicornServer | None = None
    try:
        fake.start()
        fake.latency = UPSTREAM_LATENCY
        env = app_env(fake.base_url, fake.api_key)
        print(f"preparing database {services.DB_NAME}", file=sys.stderr)
        services.recreate_database()
        services.manage(env, "migrate", "--no-input", "-v", "0")
        services.manage(env, "load_catalog", "-v", "0")
        services.flush_redis()
        with tempfile.TemporaryDirectory(prefix="bench-prometheus-") as prom_dir:
            server = GunicornServer({**env, "PROMETHEUS_MULTIPROC_DIR": prom_dir})
            print(f"starting gunicorn on {HOST}:{server.port}", file=sys.stderr)
            server.start()
            measurements = run_async(load_phase(server, fake, Path(prom_dir), opts))
            server.stop()
            log_errors = server.error_lines()
            if log_errors:
                print("server errors (first 5):\n" + "\n".join(log_errors[:5]), file=sys.stderr)
            server.remove_log()
            server = None
        print("counting SQL queries in-process", file=sys.stderr)
        sql = sqlcount.measure(env, scenarios.HOME_QUERY, services.flush_redis, fake.count)
        for count in sql:
            if not count.ok:
                print(f"in-process {count.label} home-page query failed", file=sys.stderr)
        text = render(measurements, sql, opts, time.monotonic() - started, log_errors, load_before)
        print(text)
        opts.output.write_text(text, encoding="utf-8")
        print(f"written to {opts.output}", file=sys.stderr)
        return 0
    except (SetupError, OSError) as error:
        print(f"bench set-up failed: {error}", file=sys.stderr)
        if server is not None:
            print(server.log_tail(), file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()
            server.remove_log()
        fake.stop()
        try:
            services.drop_database()
        except Exception as error:  # clean-up must not hide the run's own outcome
            print(f"could not drop {services.DB_NAME}: {error}", file=sys.stderr)
