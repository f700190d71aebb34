"""The results as markdown: scenario figures, targets, and the cache hit ratio per kind."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bench import promtext
from bench.loadgen import LoadResult

# Targets the figures are compared with (never a reason to fail the run).
WARM_P95_MS = 50.0
WARM_TO_CEILING = 0.5
COLD_P95_MS = 500.0
HIT_RATIO = 0.90


@dataclass
class ScenarioResult:
    """One measured scenario: its load run, upstream calls and cache counter deltas."""

    name: str
    result: LoadResult
    upstream_calls: int
    cache: promtext.CacheCounts = field(default_factory=dict)
    sql_per_request: int | None = None
    worker_cpu: dict[int, float] = field(default_factory=dict)  # server CPU seconds per worker pid

    @property
    def server_cpu_ms_per_request(self) -> float:
        total = sum(self.worker_cpu.values())
        return total / self.result.requests * 1000 if self.result.requests else math.nan

    @property
    def worker_split(self) -> str:
        """Each worker's share of the server CPU, e.g. ``52/48``."""
        total = sum(self.worker_cpu.values())
        if not total:
            return "—"
        return "/".join(
            f"{value / total * 100:.0f}" for value in sorted(self.worker_cpu.values(), reverse=True)
        )

    @property
    def upstream_per_request(self) -> float:
        return self.upstream_calls / self.result.requests if self.result.requests else math.nan

    @property
    def hit_ratio(self) -> float | None:
        hits, misses = promtext.hit_ratios(self.cache)["overall"]
        return promtext.ratio(hits, misses)


def _ms(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.1f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**no**")


def scenario_table(rows: list[ScenarioResult]) -> str:
    """One row per scenario."""
    lines = [
        "| Scenario | Requests | Errors | req/s | p50 ms | p95 ms | p99 ms "
        "| Upstream calls/req | SQL queries/req | Cache hit ratio | Server CPU ms/req | CPU split by worker % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        r = row.result
        sql = "—" if row.sql_per_request is None else str(row.sql_per_request)
        lines.append(
            f"| {row.name} | {r.requests} | {r.errors} | {r.throughput:.0f} | {_ms(r.latency_ms(50))} "
            f"| {_ms(r.latency_ms(95))} | {_ms(r.latency_ms(99))} | {row.upstream_per_request:.3f} "
            f"| {sql} | {_pct(row.hit_ratio)} | {_ms(row.server_cpu_ms_per_request)} | {row.worker_split} |"
        )
    return "\n".join(lines)


def targets_table(
    ceiling: ScenarioResult, cold: ScenarioResult, warm: ScenarioResult, mix: ScenarioResult
) -> str:
    """Each target next to its measured figure."""
    ratio = warm.result.throughput / ceiling.result.throughput if ceiling.result.throughput else math.nan
    warm_p95 = warm.result.latency_ms(95)
    cold_p95 = cold.result.latency_ms(95)
    hit = mix.hit_ratio
    rows = [
        ("Home page, warm: p95 < 50 ms", f"{_ms(warm_p95)} ms", warm_p95 < WARM_P95_MS),
        (
            "Home page, warm throughput ≥ 0.5 x ceiling",
            f"{ratio:.2f} x ({warm.result.throughput:.0f} / {ceiling.result.throughput:.0f} req/s)",
            ratio >= WARM_TO_CEILING,
        ),
        ("Home page, cold (first wave): p95 < 500 ms", f"{_ms(cold_p95)} ms", cold_p95 < COLD_P95_MS),
        ("Zipf mix: cache hit ratio > 90%", _pct(hit), None if hit is None else hit > HIT_RATIO),
    ]
    lines = ["| Target | Measured | Met |", "|---|---:|:---:|"]
    lines += [f"| {name} | {value} | {_met(ok)} |" for name, value, ok in rows]
    return "\n".join(lines)


def hit_ratio_table(counts: promtext.CacheCounts) -> str:
    """Hits, misses and ratio per cache kind, and overall."""
    lines = ["| Cache kind | Hits | Misses | Hit ratio |", "|---|---:|---:|---:|"]
    for kind, (hits, misses) in promtext.hit_ratios(counts).items():
        name = f"**{kind}**" if kind == "overall" else kind
        lines.append(f"| {name} | {hits:.0f} | {misses:.0f} | {_pct(promtext.ratio(hits, misses))} |")
    return "\n".join(lines)
