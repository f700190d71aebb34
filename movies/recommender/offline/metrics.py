"""Top-k ranking metrics, defined exactly as in the Microsoft Recommenders benchmark.

The definitions follow ``recommenders.evaluation.python_evaluation`` (the versions behind the
published MovieLens table), so our numbers are comparable to that table:

* MAP (the older ``map_at_k``): for one user, sum over the hits inside the top-k of the precision
  at that hit's rank, divided by the user's number of relevant test items (not by min(|test|, k)).
* nDCG@k with binary relevance: DCG = sum over hits of 1 / log2(1 + rank); the ideal DCG has
  min(|test|, k) hits at ranks 1..min(|test|, k). (MS uses the natural log; the base cancels.)
* Precision@k = hits / k (even if fewer than k items were recommended).
* Recall@k = hits / |test|.

Averages are over the users that have at least one relevant test item; a user without a
recommendation list scores zero, as a user with no hits does in MS Recommenders.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class RankingMetrics:
    """Averaged top-k metrics over ``n_users`` users."""

    map: float
    ndcg: float
    precision: float
    recall: float
    n_users: int


def _hits(recommended: Sequence[int] | np.ndarray, relevant: Collection[int], k: int) -> np.ndarray:
    """Boolean hit vector over the first ``k`` recommendations."""
    top = list(recommended)[:k]
    return np.fromiter((item in relevant for item in top), dtype=bool, count=len(top))


def precision_at_k(recommended: Sequence[int] | np.ndarray, relevant: Collection[int], k: int) -> float:
    """Hits in the top-k divided by k."""
    return float(_hits(recommended, relevant, k).sum()) / k


def recall_at_k(recommended: Sequence[int] | np.ndarray, relevant: Collection[int], k: int) -> float:
    """Hits in the top-k divided by the number of relevant items (0 if there are none)."""
    if not relevant:
        return 0.0
    return float(_hits(recommended, relevant, k).sum()) / len(relevant)


def ndcg_at_k(recommended: Sequence[int] | np.ndarray, relevant: Collection[int], k: int) -> float:
    """Binary-relevance nDCG@k with a log2(1 + rank) discount."""
    if not relevant:
        return 0.0
    hits = _hits(recommended, relevant, k)
    ranks = np.arange(1, len(hits) + 1, dtype=np.float64)
    dcg = float((hits / np.log2(1.0 + ranks)).sum())
    ideal_ranks = np.arange(1, min(len(relevant), k) + 1, dtype=np.float64)
    idcg = float((1.0 / np.log2(1.0 + ideal_ranks)).sum())
    return dcg / idcg


def average_precision_at_k(
    recommended: Sequence[int] | np.ndarray, relevant: Collection[int], k: int
) -> float:
    """MS Recommenders' per-user AP: sum of precision at each hit's rank, divided by |relevant|."""
    if not relevant:
        return 0.0
    hits = _hits(recommended, relevant, k)
    ranks = np.flatnonzero(hits) + 1  # 1-based ranks of the hits
    precision_at_hits = np.arange(1, len(ranks) + 1) / ranks
    return float(precision_at_hits.sum()) / len(relevant)


def evaluate_rankings(
    recommendations: Mapping[int, Sequence[int] | np.ndarray],
    ground_truth: Mapping[int, Collection[int]],
    k: int = 10,
    users: Iterable[int] | None = None,
) -> RankingMetrics:
    """Average the four metrics over users with relevant test items.

    ``users`` optionally restricts the average to a slice (e.g. cold-start users); users in it
    without relevant items are ignored, as MS Recommenders ignores users absent from the test set.
    """
    selected = ground_truth.keys() if users is None else users
    totals = np.zeros(4, dtype=np.float64)
    n = 0
    for user in selected:
        relevant = ground_truth.get(user)
        if not relevant:
            continue
        recs = recommendations.get(user, ())
        totals += (
            average_precision_at_k(recs, relevant, k),
            ndcg_at_k(recs, relevant, k),
            precision_at_k(recs, relevant, k),
            recall_at_k(recs, relevant, k),
        )
        n += 1
    if n == 0:
        return RankingMetrics(0.0, 0.0, 0.0, 0.0, 0)
    avg = totals / n
    return RankingMetrics(float(avg[0]), float(avg[1]), float(avg[2]), float(avg[3]), n)
