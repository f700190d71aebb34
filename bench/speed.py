"""``python -m bench.speed`` (``make bench``): server CPU per request, a baseline and this code in one run.

Two gunicorn servers (2 uvicorn workers each, production settings, the local
catalog on PostgreSQL + Redis, LOG_LEVEL=WARNING) run side by side: the
baseline (``--baseline REF``: that commit's code, exported with ``git
archive``; or this code with ``--baseline-env`` flags) and this checkout. wrk
drives each scenario against one server at a time, the two alternating, and
the workers' CPU (utime + stime from /proc) is read before and after each run:
CPU per request does not depend on what else the machine is doing, unlike
latency. Every scenario's first answer is checked (HTTP 200, no GraphQL
``errors``, the expected data) before load.

Last, the cold burst: each server is restarted on the TMDb catalog source
against the fake TMDb (tests/fake_tmdb.py, ``UPSTREAM_LATENCY`` per response)
with its cache keys deleted, and gets ``BURST`` home-page requests at once; the
fake counts the upstream calls they cost, by distinct key.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import services, wrk
from bench.loadgen import LoadResult, run_load
from bench.services import HOST, ROOT, UPSTREAM_LATENCY, GunicornServer, SetupError

if TYPE_CHECKING:
    from tests.fake_tmdb import FakeTmdb

RESULTS_PATH = Path(__file__).resolve().parent / "speed_results.md"

HOME_QUERY = (
    "{ trendingMovies(page: 1) { results { id title posterUrl(size: W342) genres { name } isFavorite } } "
    "popularMovies(page: 1) { results { id title posterUrl(size: W342) genres { name } isFavorite } } }"
)
MOVIE_QUERY = (
    "query Movie($id: Int!) { movie(id: $id) { id title overview runtime tagline voteAverage "
    "genres { name } posterUrl(size: W342) isFavorite myRating } }"
)
RECOMMENDATIONS_QUERY = "{ recommendations(limit: 20) { score reasons movie { id title posterUrl } } }"
TYPENAME_QUERY = "{ __typename }"
REGISTER = "mutation($input: RegisterInput!) { register(input: $input) { token } }"  # a fresh user every run
ADD_FAVORITE = "mutation($id: Int!) { addFavorite(movieId: $id) { id } }"
RATE = "mutation($id: Int!) { rateMovie(movieId: $id, score: 4.5) { score } }"
ROTATING_IDS = 20


def body(query: str, variables: dict[str, Any] | None = None) -> bytes:
    """A GraphQL POST body."""
    payload: dict[str, Any] = {"query": query}
    if variables:
        payload["variables"] = variables
    return json.dumps(payload, separators=(",", ":")).encode()


@dataclass
class Scenario:
    """What one scenario sends, and how its first answer is checked."""

    name: str
    bodies: list[bytes]
    signed_in: bool
    check: Callable[[dict[str, Any]], bool]
    connections: int = 20


@dataclass
class Variant:
    """One server under test."""

    label: str
    root: Path
    env: dict[str, str]
    server: GunicornServer | None = None


@dataclass
class Row:
    """The figures of one scenario on one variant, summed over rounds."""

    requests: int = 0
    seconds: float = 0.0
    errors: int = 0
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    worker_cpu: dict[int, float] = field(default_factory=dict)
    sample_error: str = ""

    @property
    def cpu_ms(self) -> float:
        return sum(self.worker_cpu.values()) / self.requests * 1000 if self.requests else float("nan")

    @property
    def split(self) -> str:
        if not sum(self.worker_cpu.values()):
            return "—"
        return "/".join(f"{share:.0f}" for share in services.cpu_shares(self.worker_cpu))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__)
    parser.add_argument("--baseline", default="main", help="git ref of the baseline code ('' for none)")
    parser.add_argument(
        "--baseline-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="run this checkout with these variables as the baseline instead of --baseline",
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="per scenario, server and round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", "8301")))
    parser.add_argument("--only", default="", help="comma-separated scenario name prefixes")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH)
    return parser.parse_args(argv)


def graphql(port: int, payload: bytes, token: str | None = None) -> tuple[int, dict[str, Any]]:
    """One request; (status, decoded body)."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"JWT {token}"
    request = urllib.request.Request(f"http://{HOST}:{port}/graphql", payload, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def ok(status: int, answer: dict[str, Any]) -> bool:
    return status == 200 and not answer.get("errors") and answer.get("data") is not None


def sign_in(port: int) -> tuple[str, list[int]]:
    """A fresh user with three favorites and two ratings; its token and 20 movie ids to rotate over."""
    name = f"bench{uuid.uuid4().hex[:10]}"
    user = {"username": name, "email": f"{name}@example.com", "password": "bench-password-long-enough"}
    status, answer = graphql(port, body(REGISTER, {"input": user}))
    if not ok(status, answer):
        raise SetupError(f"could not register the bench user: {answer}")
    token = answer["data"]["register"]["token"]
    status, answer = graphql(port, body("{ popularMovies(page: 1) { results { id } } }"))
    if not ok(status, answer):
        raise SetupError(f"could not list movies: {answer}")
    ids = [movie["id"] for movie in answer["data"]["popularMovies"]["results"]][:ROTATING_IDS]
    for movie_id in ids[:3]:
        graphql(port, body(ADD_FAVORITE, {"id": movie_id}), token)
    for movie_id in ids[3:5]:
        graphql(port, body(RATE, {"id": movie_id}), token)
    return token, ids


def home(data: dict[str, Any]) -> bool:
    """Whether ``data`` is a whole home page: 20 trending and 20 popular movies with posters and genres."""
    lists = [data["trendingMovies"]["results"], data["popularMovies"]["results"]]
    movies = [movie for results in lists for movie in results]
    return len(movies) == 40 and all(m["posterUrl"] and m["genres"] is not None for m in movies)


def chosen(only: str, name: str) -> bool:
    """Whether ``--only`` (comma-separated name prefixes, case ignored; empty: all) selects ``name``."""
    prefixes = tuple(p.strip().lower() for p in only.split(",") if p.strip())
    return not prefixes or name.strip("`").lower().startswith(prefixes)


def scenarios(ids: list[int], connections: int) -> list[Scenario]:
    """The five scenarios (names double as ``--only`` prefixes)."""
    return [
        Scenario("`{ __typename }`", [body(TYPENAME_QUERY)], False, lambda d: d == {"__typename": "Query"}),
        Scenario("Home page, signed in", [body(HOME_QUERY)], True, home, connections),
        Scenario(
            f"Movie page (1 of {len(ids)} ids), signed in",
            [body(MOVIE_QUERY, {"id": movie_id}) for movie_id in ids],
            True,
            lambda d: d["movie"]["id"] in ids and "myRating" in d["movie"],
            connections,
        ),
        Scenario(
            "recommendations(limit: 20), warm, signed in",
            [body(RECOMMENDATIONS_QUERY)],
            True,
            lambda d: len(d["recommendations"]) == 20,
            connections,
        ),
        Scenario("Home page, anonymous (replayed)", [body(HOME_QUERY)], False, home, connections),
        Scenario("Home page, signed in, 50 connections", [body(HOME_QUERY)], True, home, 50),
    ]


def export(ref: str, into: Path) -> Path:
    """The code of ``ref`` in ``into`` (``git archive``: no checkout or worktree is touched)."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref], cwd=ROOT, capture_output=True, check=False
    )
    if archive.returncode != 0:
        raise SetupError(f"git archive {ref} failed: {archive.stderr.decode()[-500:]}")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def server_env(
    database_url: str, redis_url: str, label: str, secret: str, extra: dict[str, str]
) -> dict[str, str]:
    """Production settings on the local catalog; both servers share the database and the JWT key."""
    return services.production_env(
        database_url,
        redis_url,
        CATALOG_SOURCE="local",
        TMDB_API_KEY="",
        WEB_CONCURRENCY="2",
        SECRET_KEY=secret,
        JWT_SIGNING_KEY=secret,
        # Each server its own cache keys: the baseline's code may keep other shapes.
        CACHE_KEY_PREFIX=f"bench-{label}",
        WHITENOISE_USE_FINDERS="1",
        RATELIMIT_ENABLE="false",
        **extra,
    )


def measure(variant: Variant, scenario: Scenario, token: str, seconds: float, row: Row | None) -> None:
    """One wrk run of ``scenario`` against ``variant``, added to ``row`` (None: warm-up only)."""
    server = variant.server
    assert server is not None
    headers = {"Authorization": f"JWT {token}"} if scenario.signed_in else {}
    before = server.worker_cpu()
    result = wrk.run(
        f"http://{HOST}:{server.port}", "/graphql", scenario.bodies, headers, scenario.connections, seconds
    )
    after = server.worker_cpu()
    if row is None:
        return
    row.requests += result.requests
    row.seconds += result.duration
    row.errors += result.failures
    row.p50.append(result.p50_ms)
    row.p99.append(result.p99_ms)
    row.sample_error = row.sample_error or result.sample_error
    for pid, cpu in after.items():
        row.worker_cpu[pid] = row.worker_cpu.get(pid, 0.0) + cpu - before.get(pid, 0.0)


BURST = 100
BURSTS = 3


def send_burst(server: GunicornServer, payload: bytes, token: str | None) -> LoadResult:
    """``BURST`` requests of ``payload`` sent at once, each on its own fresh connection."""
    return asyncio.run(
        run_load(
            HOST,
            server.port,
            lambda _: ("/graphql", payload),
            concurrency=BURST,
            max_requests=BURST,
            headers={"Authorization": f"JWT {token}"} if token else None,
        )
    )


def burst(variant: Variant, payload: bytes, token: str) -> tuple[float, int, float]:
    """``BURSTS`` times ``BURST`` requests sent at once on as many fresh connections: the median p50
    (ms), the failures, and the server CPU per request (ms)."""
    server = variant.server
    assert server is not None
    p50s, failures, cpu, requests = [], 0, 0.0, 0
    for _ in range(BURSTS):
        before = server.worker_cpu()
        result = send_burst(server, payload, token)
        after = server.worker_cpu()
        cpu += sum(after.values()) - sum(before.values())
        requests += result.requests
        p50s.append(result.latency_ms(50))
        failures += result.errors
        time.sleep(1)
    return sorted(p50s)[len(p50s) // 2], failures, cpu / requests * 1000 if requests else float("nan")


@dataclass
class ColdBurst:
    """One server's burst right after a restart with an empty cache."""

    p50_ms: float
    max_ms: float
    failures: int
    cpu_ms: float  # server CPU per request
    upstream: Counter[str]  # calls the fake TMDb received during the burst, by key
    log_errors: list[str] = field(default_factory=list)

    @property
    def upstream_total(self) -> int:
        return sum(self.upstream.values())

    @property
    def max_per_key(self) -> int:
        """The most upstream calls one key cost (1 when misses of a key were all shared)."""
        return max(self.upstream.values(), default=0)


def cold_burst(variant: Variant, fake: FakeTmdb, token: str | None, redis_url: str) -> ColdBurst:
    """Restarts ``variant`` on the fake TMDb with its cache keys deleted, then sends it a burst of
    home-page requests (signed in with ``token``); the server is stopped again afterwards."""
    assert variant.server is not None
    variant.server.stop()  # its port is reused; its log stays for the report
    prefix = f"{variant.env['CACHE_KEY_PREFIX']}-cold"
    broker = tempfile.TemporaryDirectory(prefix="bench-broker-")
    env = {
        **variant.env,
        **services.fake_tmdb_settings(fake.base_url, fake.api_key),
        "CACHE_KEY_PREFIX": prefix,
        # The TMDb source queues the write of every movie it fetched: into a folder deleted
        # afterwards, not the Redis queue a worker would take it from, into DATABASE_URL.
        "CELERY_BROKER_URL": "filesystem://localhost//",
        "CELERY_BROKER_FOLDER": broker.name,
    }
    services.delete_prefixed(redis_url, prefix)
    server = GunicornServer(env, root=variant.root, port=variant.server.port)
    try:
        print(f"restarting {variant.label} on the fake TMDb, empty cache", file=sys.stderr)
        server.start()
        since = len(fake.requests)
        before = server.worker_cpu()
        result = send_burst(server, body(HOME_QUERY), token)
        after = server.worker_cpu()
        upstream = fake.calls_by_key(since)
        status, answer = graphql(server.port, body(HOME_QUERY), token)
        if not ok(status, answer) or not home(answer["data"]):
            raise SetupError(f"cold home page on {variant.label}: {status} {str(answer)[:300]}")
        cpu = sum(after.values()) - sum(before.values())
        return ColdBurst(
            result.latency_ms(50),
            result.latency_ms(100),
            result.errors,
            cpu / result.requests * 1000 if result.requests else float("nan"),
            upstream,
            server.error_lines(),
        )
    finally:
        server.stop()
        server.remove_log()
        services.delete_prefixed(redis_url, prefix)
        broker.cleanup()


def cold_table(cold: dict[str, ColdBurst], signed_in: bool) -> str:
    """Markdown: one line per server's cold burst."""
    who = "signed in" if signed_in else "anonymous"
    lines = [
        "| Code | Requests | p50 ms | max ms | Failures | Server CPU ms/req | Upstream calls | Distinct keys "
        "| Max calls per key |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {label} | {BURST} {who} | {c.p50_ms:.0f} | {c.max_ms:.0f} | {c.failures} | {c.cpu_ms:.2f} "
        f"| {c.upstream_total} | {len(c.upstream)} | {c.max_per_key} |"
        for label, c in cold.items()
    ]
    return "\n".join(lines)


def table(scenario_list: list[Scenario], variants: list[Variant], rows: dict[tuple[str, str], Row]) -> str:
    """Markdown: one line per scenario and variant, with this code's CPU as a ratio of the baseline's."""
    lines = [
        "| Scenario | Code | Requests | Errors | req/s | p50 ms | p99 ms | Server CPU ms/req | CPU split by worker % | CPU vs baseline |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario in scenario_list:
        base = rows.get((scenario.name, variants[0].label))
        for variant in variants:
            row = rows.get((scenario.name, variant.label))
            if row is None:
                continue
            ratio = f"{row.cpu_ms / base.cpu_ms:.2f}x" if base and variant is not variants[0] else ""
            rps = row.requests / row.seconds if row.seconds else 0.0
            lines.append(
                f"| {scenario.name} | {variant.label} | {row.requests} | {row.errors} | {rps:.0f} "
                f"| {min(row.p50):.1f} | {min(row.p99):.1f} | {row.cpu_ms:.2f} | {row.split} | {ratio} |"
            )
    return "\n".join(lines)


def start_fake_tmdb() -> FakeTmdb:
    """The fake TMDb, started, adding ``UPSTREAM_LATENCY`` to every response."""
    from tests.fake_tmdb import FakeTmdb

    fake = FakeTmdb().start()
    fake.latency = UPSTREAM_LATENCY
    return fake


def main(argv: list[str] | None = None) -> int:
    """Run both servers through every scenario; 0 unless the set-up broke."""
    args = parse_args(argv)
    if not wrk.available():
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1
    database_url = os.environ.get("DATABASE_URL") or services.DATABASE_URL
    redis_url = os.environ.get("REDIS_URL") or services.REDIS_URL
    if not database_url.startswith("postgres"):
        print("make bench needs DATABASE_URL on PostgreSQL (and REDIS_URL)", file=sys.stderr)
        return 1
    secret = services.throwaway_secret_key(50)
    started = time.monotonic()
    load_before = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    variants: list[Variant] = []
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as baseline_dir:
        try:
            if args.baseline_env:
                extra = dict(item.split("=", 1) for item in args.baseline_env)
                label = "baseline (" + ", ".join(args.baseline_env) + ")"
                variants.append(
                    Variant(label, ROOT, server_env(database_url, redis_url, "base", secret, extra))
                )
            elif args.baseline:
                root = export(args.baseline, Path(baseline_dir))
                variants.append(
                    Variant(
                        f"baseline ({args.baseline})",
                        root,
                        server_env(database_url, redis_url, "base", secret, {}),
                    )
                )
            head = subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
            ).stdout.strip()
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
            variants.append(
                Variant(
                    f"this ({head}{'+changes' if dirty else ''})",
                    ROOT,
                    server_env(database_url, redis_url, "this", secret, {}),
                )
            )
            env = variants[-1].env
            print("migrating and loading the catalog", file=sys.stderr)
            services.manage(env, "migrate", "--no-input", "-v", "0")
            services.manage(env, "load_catalog", "--if-empty", "-v", "0")
            for offset, variant in enumerate(variants):
                variant.server = GunicornServer(variant.env, root=variant.root, port=args.port + offset)
                print(f"starting {variant.label} on port {variant.server.port}", file=sys.stderr)
                variant.server.start()
            current = variants[-1].server
            assert current is not None
            token, ids = sign_in(current.port)
            scenario_list = scenarios(ids, args.connections)
            scenario_list = [s for s in scenario_list if chosen(args.only, s.name)]
            for scenario in scenario_list:
                for variant in variants:
                    assert variant.server is not None
                    status, answer = graphql(
                        variant.server.port, scenario.bodies[0], token if scenario.signed_in else None
                    )
                    if not ok(status, answer) or not scenario.check(answer["data"]):
                        raise SetupError(f"{scenario.name} on {variant.label}: {status} {str(answer)[:300]}")
                    size = len(json.dumps(answer))
                    print(
                        f"checked {scenario.name} on {variant.label}: 200, no errors, {size} bytes",
                        file=sys.stderr,
                    )
                    measure(variant, scenario, token, 2.0, None)  # warm-up
            rows: dict[tuple[str, str], Row] = {}
            for round_number in range(args.rounds):
                order = variants if round_number % 2 == 0 else variants[::-1]
                for scenario in scenario_list:
                    for variant in order:
                        row = rows.setdefault((scenario.name, variant.label), Row())
                        measure(variant, scenario, token, args.seconds, row)
                        print(
                            f"  round {round_number + 1} {scenario.name} / {variant.label}: "
                            f"{row.cpu_ms:.2f} ms CPU/req so far",
                            file=sys.stderr,
                        )
            bursts = {
                variant.label: burst(variant, body(HOME_QUERY), token)
                for variant in variants
                if chosen(args.only, "burst")
            }
            memory = {v.label: v.server.worker_rss() for v in variants if v.server}
            cold: dict[str, ColdBurst] = {}
            if chosen(args.only, "cold"):
                fake = start_fake_tmdb()
                try:
                    for variant in variants:
                        cold[variant.label] = cold_burst(variant, fake, token, redis_url)
                finally:
                    fake.stop()
            log_errors = [
                f"{v.label}: {line}" for v in variants if v.server for line in v.server.error_lines()
            ]
            log_errors += [f"{label} (cold): {line}" for label, c in cold.items() for line in c.log_errors]
            for line in log_errors[:10]:
                print(f"server error: {line[:120]} ... {line[-400:]}", file=sys.stderr)
        except (SetupError, OSError, RuntimeError) as error:
            print(f"bench failed: {error}", file=sys.stderr)
            for variant in variants:
                if variant.server is not None and variant.server.process is not None:
                    print(variant.server.log_tail(), file=sys.stderr)
            return 1
        finally:
            for variant in variants:
                if variant.server is not None:
                    variant.server.stop()
                    variant.server.remove_log()
    text = "\n".join(
        [
            "## Speed benchmark",
            "",
            f"`make bench` ({' '.join(['python -m bench.speed', *(argv if argv is not None else sys.argv[1:])])}), "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, load average before {load_before}: "
            f"each server gunicorn + 2 uvicorn workers, production settings, local catalog on PostgreSQL + Redis, "
            f"LOG_LEVEL=WARNING; wrk (1 thread, pinned to one core) with {args.connections} keep-alive connections, "
            f"{args.seconds:.0f} s per scenario, server and round, {args.rounds} rounds alternating the servers. "
            "Server CPU ms/req = utime + stime of the workers over the runs / completed requests; "
            "p50 and p99 are the best round's (wall-clock, noisy on a shared machine); "
            "errors = non-200, GraphQL `errors` and socket errors.",
            "",
            *([table(scenario_list, variants, rows), ""] if rows else []),
            *(
                [
                    f"Bursts: {BURST} signed-in home-page requests sent at once on {BURST} fresh connections "
                    f"to a warm server, {BURSTS} times (median p50; failures over all; server CPU per request):",
                    "",
                    "| Code | p50 ms | Failures | Server CPU ms/req |",
                    "|---|---:|---:|---:|",
                    *(
                        f"| {label} | {p50:.0f} | {fails} | {cpu:.2f} |"
                        for label, (p50, fails, cpu) in bursts.items()
                    ),
                    "",
                ]
                if bursts
                else []
            ),
            *(
                [
                    f"Cold bursts: each server restarted on the TMDb catalog source against the fake TMDb "
                    f"({UPSTREAM_LATENCY * 1000:.0f} ms a response) with its cache keys deleted, then {BURST} "
                    f"signed-in home-page requests sent at once on {BURST} fresh connections, once. Upstream "
                    "calls = requests the fake TMDb received during the burst; a key is path + query "
                    "(credentials left out), so max calls per key 1 means every miss of a key was shared:",
                    "",
                    cold_table(cold, signed_in=True),
                    "",
                ]
                if cold
                else []
            ),
            "Worker memory (RSS) after the warm scenarios and bursts: "
            + "; ".join(
                f"{label}: {' + '.join(f'{rss / 2**20:.0f}' for rss in resident.values())} MiB"
                for label, resident in memory.items()
            )
            + ".",
            "",
            f"Server log lines at ERROR level or with a traceback: {len(log_errors)}. "
            f"The run took {time.monotonic() - started:.0f} s.",
        ]
    )
    for (name, label), row in rows.items():
        if row.sample_error:
            text += f"\n- first failure of {name} on {label}: `{row.sample_error[:200]}`"
    for label, c in cold.items():
        repeated = ", ".join(f"`{key}` x {n}" for key, n in c.upstream.most_common() if n > 1)
        if repeated:
            text += f"\n- upstream keys the cold burst on {label} called more than once: {repeated}"
    print(text)
    args.output.write_text(text + "\n", encoding="utf-8")
    print(f"written to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
