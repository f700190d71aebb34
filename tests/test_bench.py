"""The benchmark's own machinery: load-generator statistics, the Zipf sampler, /metrics parsing,
the fake TMDb's calls by key.

A tiny asyncio HTTP/1.1 server on 127.0.0.1 stands in for the API; no gunicorn here.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import shutil
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import pytest

from bench import promtext, scenarios, wrk
from bench.loadgen import LoadResult, Sample, fetch, has_graphql_errors, percentile, run_load
from bench.zipf import ZipfSampler
from tests.fake_tmdb import FakeTmdb

T = TypeVar("T")


class TinyServer:
    """Answers POSTs by the ``query`` of the JSON body: ok, gql (GraphQL error), fail (500),
    chunked (200, chunked framing), close (200 + Connection: close), drop (closes, no answer),
    slow (200 after 50 ms)."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: Counter[str] = Counter()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    await reader.readuntil(b"\r\n")
                except asyncio.IncompleteReadError:
                    return
                length = 0
                while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
                    name, _, value = line.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                query = json.loads(await reader.readexactly(length))["query"] if length else "ok"
                self.requests[query] += 1
                if query == "drop":
                    return
                if query == "slow":
                    await asyncio.sleep(0.05)
                writer.write(self.response(query))
                await writer.drain()
                if query == "close":
                    return
        finally:
            writer.close()

    @staticmethod
    def response(query: str) -> bytes:
        ok = b'{"data":{"__typename":"Query"}}'
        if query == "gql":
            body, status = b'{"data":null,"errors":[{"message":"boom"}]}', "200 OK"
        elif query == "fail":
            body, status = b'{"detail":"server error"}', "500 Internal Server Error"
        else:
            body, status = ok, "200 OK"
        if query == "chunked":
            half = len(body) // 2
            chunks = f"{half:x}\r\n".encode() + body[:half] + b"\r\n"
            chunks += f"{len(body) - half:x}\r\n".encode() + body[half:] + b"\r\n0\r\n\r\n"
            return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
        extra = "Connection: close\r\n" if query == "close" else ""
        head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
        return head.encode() + body


@asynccontextmanager
async def tiny_server() -> AsyncIterator[tuple[TinyServer, int]]:
    app = TinyServer()
    server = await asyncio.start_server(app.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield app, port


def run(make: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await make()

    return asyncio.run(main())


def request(query: str) -> tuple[str, bytes]:
    return "/graphql", json.dumps({"query": query}).encode()


# ---------------------------------------------------------------- statistics


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [percentile(values, p) for p in (50, 95, 99, 100)] == [50, 95, 99, 100]
    assert percentile([7.0], 50) == 7.0
    assert percentile([1.0, 2.0], 50) == 1.0
    assert percentile([1.0, 2.0], 51) == 2.0
    assert math.isnan(percentile([], 95))
    with pytest.raises(ValueError, match="pct"):
        percentile(values, 0)


def test_load_result_figures() -> None:
    samples = [Sample(i, i * 0.01, (i + 1) / 1000, 200) for i in range(100)]
    samples[3] = Sample(3, 0.03, 0.004, 500, detail="oops")
    samples[4] = Sample(4, 0.04, 0.005, 200, graphql_error=True, detail="gql")
    samples[5] = Sample(5, 0.05, 0.006, 0, detail="ConnectionResetError()")
    result = LoadResult(samples=samples, duration=2.0, concurrency=10)
    assert result.requests == 100
    assert result.http_errors == 2
    assert result.graphql_errors == 1
    assert result.errors == 3
    assert result.statuses == Counter({200: 98, 500: 1, 0: 1})
    assert result.throughput == 50.0
    assert result.latency_ms(50) == pytest.approx(50.0)
    assert result.latency_ms(95) == pytest.approx(95.0)
    assert result.latency_ms(99) == pytest.approx(99.0)
    assert sum(result.failures().values()) == 3

    first = result.first(10)
    assert [s.index for s in first.samples] == list(range(10))
    assert first.duration == pytest.approx(0.09 + 0.010)
    merged = first.merged(result.first(5))
    assert merged.requests == 15
    assert [s.index for s in merged.samples][-5:] == list(range(10, 15))
    assert merged.duration == pytest.approx(first.duration + result.first(5).duration)


def test_has_graphql_errors() -> None:
    assert not has_graphql_errors(b'{"data":{"movie":null}}')
    assert not has_graphql_errors(b'{"data":{"title":"\\"errors\\""},"errors":[]}')
    assert has_graphql_errors(b'{"data":null,"errors":[{"message":"x"}]}')
    assert has_graphql_errors(b'{"errors": [{"message": "x"}]')  # truncated JSON


# ---------------------------------------------------------------- load generator


def test_run_load_counts_every_kind_of_error() -> None:
    kinds = ["gql", "fail", "chunked", "close", "ok", "ok", "ok", "ok", "ok", "ok"]

    async def scenario() -> tuple[LoadResult, TinyServer]:
        async with tiny_server() as (app, port):
            result = await run_load(
                "127.0.0.1",
                port,
                lambda i: request(kinds[i % len(kinds)]),
                concurrency=8,
                max_requests=200,
                max_seconds=10,
            )
            return result, app

    result, app = run(scenario)
    assert result.requests == 200
    assert sorted(s.index for s in result.samples) == list(range(200))
    assert result.statuses == Counter({200: 180, 500: 20})
    assert result.graphql_errors == 20
    assert result.http_errors == 20
    assert result.errors == 40
    assert sum(app.requests.values()) == 200
    # Keep-alive: one connection per worker, plus a new one after each "Connection: close"
    # (except where the close was that worker's last request).
    assert 8 + 20 - 8 <= app.connections <= 8 + 20
    assert 0 < result.latency_ms(50) <= result.latency_ms(95) <= result.latency_ms(99)
    assert result.throughput > 0
    assert result.client_cpu >= 0


def test_run_load_counts_transport_errors_and_recovers() -> None:
    async def scenario() -> LoadResult:
        async with tiny_server() as (_, port):
            return await run_load(
                "127.0.0.1",
                port,
                lambda i: request("drop" if i % 4 == 0 else "ok"),
                concurrency=2,
                max_requests=20,
                max_seconds=10,
            )

    result = run(scenario)
    assert result.requests == 20
    assert result.statuses == Counter({200: 15, 0: 5})
    assert result.errors == 5
    assert all("IncompleteReadError" in s.detail for s in result.samples if s.status == 0)


def test_run_load_stops_at_the_deadline() -> None:
    async def scenario() -> LoadResult:
        async with tiny_server() as (_, port):
            return await run_load(
                "127.0.0.1",
                port,
                lambda i: request("slow"),
                concurrency=4,
                max_requests=10_000,
                max_seconds=0.3,
            )

    result = run(scenario)
    # 4 connections x ~50 ms a request for 0.3 s, plus the requests in flight at the deadline.
    assert 8 <= result.requests <= 4 * 8
    assert result.duration < 1.0
    assert result.errors == 0
    assert result.latency_ms(50) >= 50


def test_fetch_reads_one_response() -> None:
    async def scenario() -> tuple[int, bytes]:
        async with tiny_server() as (_, port):
            return await fetch("127.0.0.1", port, "POST", *request("chunked"))

    status, body = run(scenario)
    assert status == 200
    assert json.loads(body) == {"data": {"__typename": "Query"}}


# ---------------------------------------------------------------- Zipf


def test_zipf_probabilities_and_bounds() -> None:
    sampler = ZipfSampler(50, 1.1, random.Random(1))
    assert sum(sampler.probability(k) for k in range(1, 51)) == pytest.approx(1.0)
    assert sampler.probability(1) / sampler.probability(2) == pytest.approx(2**1.1)
    assert sampler.probability(0) == sampler.probability(51) == 0.0
    draws = [sampler.sample() for _ in range(5000)]
    assert min(draws) >= 1
    assert max(draws) <= 50


def test_zipf_frequencies_follow_the_law() -> None:
    n, draws = 50, 40_000
    sampler = ZipfSampler(n, 1.1, random.Random(42))
    counts = Counter(sampler.sample() for _ in range(draws))
    for rank in (1, 2, 3, 10):
        expected = sampler.probability(rank) * draws
        assert abs(counts[rank] - expected) < 5 * math.sqrt(expected)
    assert counts[1] > counts[2] > counts[3] > counts[10]


def test_zipf_is_seeded_and_validates() -> None:
    first = ZipfSampler(10, 1.1, random.Random(7))
    second = ZipfSampler(10, 1.1, random.Random(7))
    assert [first.sample() for _ in range(100)] == [second.sample() for _ in range(100)]
    assert ZipfSampler(1, 1.1).sample() == 1
    items = list("abcdefghij")
    assert first.choice(items) in items
    with pytest.raises(ValueError, match="expected 10 items"):
        first.choice(items[:3])
    with pytest.raises(ValueError, match="n must"):
        ZipfSampler(0)
    with pytest.raises(ValueError, match="s must"):
        ZipfSampler(5, 0)


def test_zipf_mix_sends_valid_graphql() -> None:
    mix = scenarios.ZipfMix([550, 348, 27205], seed=3)
    bodies = [json.loads(mix(i)[1]) for i in range(400)]
    again = scenarios.ZipfMix([550, 348, 27205], seed=3)
    assert [json.loads(again(i)[1]) for i in range(400)] == bodies
    movie = [b for b in bodies if "movie(" in b["query"]]
    lists = [b for b in bodies if "movie(" not in b["query"]]
    assert mix.sent == {"list": len(lists), "movie": len(movie)}
    assert 100 < len(movie) < 300
    assert {b["variables"]["id"] for b in movie} <= {550, 348, 27205}
    assert all(1 <= b["variables"]["page"] <= scenarios.MAX_LIST_PAGE for b in lists)
    assert len(mix.distinct) == len({(b["query"], json.dumps(b["variables"])) for b in bodies})


# ---------------------------------------------------------------- /metrics


METRICS = """\
# HELP moviegraph_cache_requests_total Catalog cache lookups by kind and result
# TYPE moviegraph_cache_requests_total counter
moviegraph_cache_requests_total{kind="list",result="hit"} 90.0
moviegraph_cache_requests_total{kind="list",result="miss"} 10.0
moviegraph_cache_requests_total{kind="movie",result="hit"} 45.0
moviegraph_cache_requests_total{kind="movie",result="miss"} 5.0
moviegraph_cache_requests_total{kind="movie",result="stale"} 2.0
moviegraph_upstream_requests_total{endpoint="movie",status="200"} 5.0
"""


def test_cache_counters_delta_and_ratios() -> None:
    after = promtext.cache_counts(METRICS)
    assert after[("list", "hit")] == 90
    before = {("list", "hit"): 40.0, ("list", "miss"): 10.0}
    change = promtext.delta(after, before)
    assert ("list", "miss") not in change
    ratios = promtext.hit_ratios(change)
    assert ratios["list"] == (50, 0)
    assert ratios["movie"] == (45, 5)  # stale follows a counted miss: ignored
    assert ratios["overall"] == (95, 5)
    assert promtext.ratio(*ratios["overall"]) == pytest.approx(0.95)
    assert promtext.ratio(0, 0) is None
    assert promtext.samples(METRICS, "moviegraph_upstream_requests_total") == [
        ({"endpoint": "movie", "status": "200"}, 5.0)
    ]


# --- the scale benchmark's synthetic history ---------------------------------------------------


def test_history_lengths_are_movielens_like_and_sum_exactly() -> None:
    import numpy as np

    from bench import synthetic

    lengths = synthetic.history_lengths(100_000, np.random.default_rng(1), catalog_size=3000)
    assert sum(lengths) == 100_000
    assert min(lengths[:-1]) >= synthetic.MIN_HISTORY
    assert max(lengths) <= synthetic.MAX_HISTORY
    median = sorted(lengths)[len(lengths) // 2]
    assert 50 <= median <= 100
    assert sum(lengths) / len(lengths) > 1.3 * median  # a long tail, as MovieLens has


def test_popular_films_are_drawn_more_often_and_never_twice_per_user() -> None:
    import numpy as np

    from bench import synthetic

    rng = np.random.default_rng(2)
    log_weights = np.log(synthetic.popularity_weights(1000))
    counts = np.zeros(1000)
    for _ in range(300):
        picked = synthetic.sample_without_repeats(log_weights, 50, rng)
        assert len(set(picked.tolist())) == 50
        counts[picked] += 1
    assert counts[:10].mean() > 5 * counts[-100:].mean()
    assert sorted(synthetic.sample_without_repeats(log_weights, 1000, rng).tolist()) == list(range(1000))


@pytest.mark.django_db
def test_generate_writes_users_and_interactions_counted_on_their_own_days() -> None:
    from django.db.models import Sum

    from accounts.models import Favorite, Rating, User, WatchlistEntry
    from bench import synthetic
    from movies.models import MovieActivity

    made = synthetic.generate(3000, seed=7, days=30)
    assert made.interactions == 3000
    assert User.objects.filter(username__startswith="synthetic-7-").count() == made.users
    assert (Rating.objects.count(), Favorite.objects.count(), WatchlistEntry.objects.count()) == (
        made.ratings,
        made.favorites,
        made.watchlist,
    )
    assert made.ratings > made.favorites + made.watchlist
    totals = MovieActivity.objects.aggregate(f=Sum("favorites"), r=Sum("ratings"), w=Sum("watchlist"))
    assert (totals["f"], totals["r"], totals["w"]) == (made.favorites, made.ratings, made.watchlist)
    assert MovieActivity.objects.values("day").distinct().count() > 20  # spread over the 30 days


def test_the_scale_table_shows_each_size_and_the_growth() -> None:
    from bench.scale import Options, SizeResult, render

    def result(size: int, ms: float) -> SizeResult:
        return SizeResult(size, size // 150, 10, 1.0, 2.0, 300.0, [ms] * 20, [ms / 2] * 20, ms / 4, ms / 8)

    text = render([result(10_000, 10.0), result(1_000_000, 11.0)], Options())
    assert "| 10,000 | 66 | 10 | 10.0 | 10.0 | 2.5 | 5.0 | 5.0 | 1.2 | 2.0 | 300 | 1.0 |" in text
    assert "p95 1,000,000 / 10,000: 1.10x" in text


# ---------------------------------------------------------------- wrk driver (make bench)


def test_lua_strings_survive_any_closing_bracket() -> None:
    assert wrk.lua_string('{"query":"{ a }"}') == '[[{"query":"{ a }"}]]'
    tricky = "x]]y]=]z"
    assert wrk.lua_string(tricky) == "[==[x]]y]=]z]==]"


def test_wrk_output_is_parsed_from_the_scripts_line() -> None:
    output = (
        "Running 1s test\n"
        'WRKJSON {"requests":120,"duration_us":2000000,"p50_us":1500,"p99_us":9000,'
        '"errors":3,"socket_errors":1,"non_2xx":2}\n'
        'WRKSAMPLE 500 {"detail":"server error"}\n'
    )
    result = wrk.parse(output)
    assert (result.requests, result.duration, result.throughput) == (120, 2.0, 60.0)
    assert (result.p50_ms, result.p99_ms, result.failures) == (1.5, 9.0, 4)
    assert result.sample_error.startswith("500 ")
    with pytest.raises(RuntimeError):
        wrk.parse("Running 1s test\n")


def test_wrk_is_pinned_to_one_core() -> None:
    command = wrk.command("http://127.0.0.1:1", Path("s.lua"), connections=20, seconds=3)
    assert command[-9:-7] == ["-t1", "-c20"]
    if (os.cpu_count() or 1) > 1 and shutil.which("taskset"):
        assert command[:3] == ["taskset", "-c", str((os.cpu_count() or 1) - 1)]


@pytest.mark.skipif(not wrk.available(), reason="wrk is not installed")
def test_wrk_rotates_bodies_and_counts_errors_and_graphql_errors() -> None:
    async def scenario() -> tuple[wrk.WrkResult, TinyServer]:
        async with tiny_server() as (app, port):
            bodies = [json.dumps({"query": q}).encode() for q in ("ok", "gql", "fail")]
            result = await asyncio.to_thread(
                wrk.run, f"http://127.0.0.1:{port}", "/graphql", bodies, {"Authorization": "JWT x"}, 2, 1
            )
            return result, app

    result, app = run(scenario)
    assert result.requests > 30
    assert {"ok", "gql", "fail"} <= set(app.requests)
    # Two bodies in three fail (a 500, a GraphQL error), whichever request was in flight at the end.
    assert abs(result.errors / result.requests - 2 / 3) < 0.1
    assert result.non_2xx > 0
    assert result.sample_error


# ---------------------------------------------------------------- fake TMDb, cold burst (make bench)


def test_fake_tmdb_counts_calls_by_distinct_key(fake_tmdb: FakeTmdb) -> None:
    from bench.speed import ColdBurst, cold_table

    def get(path_and_query: str) -> None:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{fake_tmdb.port}{path_and_query}", timeout=5
        ) as answer:
            answer.read()

    key = fake_tmdb.api_key
    get(f"/3/genre/movie/list?api_key={key}")  # before the burst: left out by ``since``
    since = len(fake_tmdb.requests)
    # One list page three times (parameters in any order, the key anywhere), page 2 and details once.
    get(f"/3/movie/popular?api_key={key}&language=en-US&page=1")
    get(f"/3/movie/popular?page=1&language=en-US&api_key={key}")
    get(f"/3/movie/popular?language=en-US&page=1&api_key={key}")
    get(f"/3/movie/popular?language=en-US&page=2&api_key={key}")
    get(f"/3/movie/550?api_key={key}")

    calls = fake_tmdb.calls_by_key(since)
    assert calls == Counter(
        {
            "/3/movie/popular?language=en-US&page=1": 3,
            "/3/movie/popular?language=en-US&page=2": 1,
            "/3/movie/550": 1,
        }
    )
    assert fake_tmdb.calls_by_key()["/3/genre/movie/list"] == 1
    burst = ColdBurst(p50_ms=1.0, max_ms=2.0, failures=0, cpu_ms=1.0, upstream=calls)
    assert (burst.upstream_total, burst.max_per_key) == (5, 3)
    assert ColdBurst(1.0, 2.0, 0, 1.0, Counter()).max_per_key == 0
    table = cold_table({"this": burst}, signed_in=True)
    assert table.splitlines()[-1] == "| this | 100 signed in | 1 | 2 | 0 | 1.00 | 5 | 3 | 3 |"


def test_only_selects_by_name_prefix() -> None:
    from bench.speed import chosen

    assert chosen("", "cold")
    assert chosen("", "Home page, signed in")
    assert chosen("cold", "cold")
    assert not chosen("cold", "burst")
    assert chosen("home, burst", "burst")
    assert chosen("HOME", "Home page, anonymous (replayed)")
    assert chosen("{", "`{ __typename }`")
    assert not chosen("cold", "Home page, signed in")


def test_worker_cpu_and_memory_are_read_for_the_masters_children_only() -> None:
    import subprocess
    import sys

    from bench.services import GunicornServer

    server = GunicornServer({})
    # A master with one worker: the worker prints its pid and both wait.
    spawn = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import os, time; print(os.getpid(), flush=True); time.sleep(60)']); time.sleep(60)"
    master = subprocess.Popen([sys.executable, "-c", spawn], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert master.stdout is not None
        worker = int(master.stdout.readline())
        server.process = master
        assert set(server.worker_cpu()) == {worker}
        resident = server.worker_rss()
        assert set(resident) == {worker}
        assert resident[worker] > 1024 * 1024  # a Python interpreter's few MiB at least
    finally:
        os.killpg(master.pid, 9)
        master.wait()
        server.process = None
        server.remove_log()
