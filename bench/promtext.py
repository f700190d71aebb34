"""Counters out of a Prometheus text exposition (what /metrics serves)."""

from __future__ import annotations

import re
from collections.abc import Mapping

_SAMPLE = re.compile(r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?:\{(?P<labels>[^}]*)\})?\s+(?P<value>\S+)")
_LABEL = re.compile(r'(?P<key>[A-Za-z_][A-Za-z0-9_]*)="(?P<value>(?:[^"\\]|\\.)*)"')

CacheCounts = dict[tuple[str, str], float]  # (kind, result) -> count


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample of metric ``name`` as (labels, value)."""
    found = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None or match["name"] != name:
            continue
        labels = {m["key"]: m["value"] for m in _LABEL.finditer(match["labels"] or "")}
        found.append((labels, float(match["value"])))
    return found


def cache_counts(text: str) -> CacheCounts:
    """``moviegraph_cache_requests_total`` by (kind, result), plus replayed answers as ("response", "hit").

    A replayed anonymous answer skipped every lookup of its request, so it counts
    as one hit; an executed request is no miss of its own: its catalog lookups are
    counted in the other kinds.
    """
    counts: CacheCounts = {}
    for labels, value in samples(text, "moviegraph_cache_requests_total"):
        key = (labels.get("kind", ""), labels.get("result", ""))
        counts[key] = counts.get(key, 0.0) + value
    for labels, value in samples(text, "moviegraph_response_cache_total"):
        if labels.get("result") == "hit":
            counts[("response", "hit")] = counts.get(("response", "hit"), 0.0) + value
    return counts


def delta(after: Mapping[tuple[str, str], float], before: Mapping[tuple[str, str], float]) -> CacheCounts:
    """``after - before`` per key (counters only grow; keys absent before count from 0)."""
    return {key: value - before.get(key, 0.0) for key, value in after.items() if value - before.get(key, 0.0)}


def hit_ratios(counts: Mapping[tuple[str, str], float]) -> dict[str, tuple[float, float]]:
    """Per kind, and ``"overall"``: (hits, misses).

    A stale answer is counted by the app after the miss it follows, so ``stale`` is ignored here.
    """
    by_kind: dict[str, list[float]] = {}
    for (kind, result), value in counts.items():
        if result not in ("hit", "miss"):
            continue
        pair = by_kind.setdefault(kind, [0.0, 0.0])
        pair[0 if result == "hit" else 1] += value
    ratios = {kind: (hits, misses) for kind, (hits, misses) in sorted(by_kind.items())}
    ratios["overall"] = (sum(h for h, _ in ratios.values()), sum(m for _, m in ratios.values()))
    return ratios


def ratio(hits: float, misses: float) -> float | None:
    """hits / (hits + misses), or None with no lookups."""
    total = hits + misses
    return hits / total if total else None
