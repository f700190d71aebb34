"""Synthetic users and interactions, written into the configured database (for the scale benchmark).

``python -m bench.synthetic --interactions 1000000 [--seed 42] [--days 365]``

Shaped like MovieLens: per-user history lengths log-normal around a median
of about 70 (mean about 150, at least 5), films drawn by a Zipf-like
popularity over the catalog's popularity order without repeats per user,
half-star scores distributed as MovieLens' are, each interaction at its own
time spread over the last ``days`` days. Mostly ratings, some favorites and
watchlist entries. Rows go in by bulk copy (signals skipped, as any import
would), then the per-day counts are rebuilt from them, so every interaction
counts on its own day.

Needs Django set up (``main`` does it from the environment: DATABASE_URL ...).
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

# MovieLens (ml-latest-small) history lengths: median ~70, long tail; ours are log-normal like it.
MEDIAN_HISTORY = 70
HISTORY_SIGMA = 1.05
MIN_HISTORY = 5
MAX_HISTORY = 2000
ZIPF_S = 0.9
# Half-star scores and their MovieLens frequencies.
SCORES = np.arange(1, 11) / 2
SCORE_WEIGHTS = np.array([1.4, 2.8, 1.8, 7.5, 5.5, 20.0, 13.0, 26.6, 8.5, 13.0])
# Share of each kind of interaction.
KINDS = {"rating": 0.85, "favorite": 0.08, "watchlist": 0.07}
USERNAME_PREFIX = "synthetic"
BATCH = 20_000


@dataclass(frozen=True)
class Generated:
    """What ``generate`` wrote."""

    users: int
    ratings: int
    favorites: int
    watchlist: int
    seconds: float

    @property
    def interactions(self) -> int:
        return self.ratings + self.favorites + self.watchlist


def history_lengths(total: int, rng: np.random.Generator, catalog_size: int) -> list[int]:
    """Per-user history lengths summing to exactly ``total``."""
    lengths: list[int] = []
    remaining = total
    cap = min(MAX_HISTORY, catalog_size)
    while remaining > 0:
        draw = int(np.clip(rng.lognormal(math.log(MEDIAN_HISTORY), HISTORY_SIGMA), MIN_HISTORY, cap))
        lengths.append(min(draw, remaining))
        remaining -= lengths[-1]
    return lengths


def popularity_weights(n: int, s: float = ZIPF_S) -> np.ndarray:
    """Zipf-like probabilities over ranks 1..n (rank 1 the most popular)."""
    weights = 1.0 / np.arange(1, n + 1) ** s
    return weights / weights.sum()


def sample_without_repeats(log_weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` distinct indices drawn in proportion to ``exp(log_weights)`` (Gumbel top-k)."""
    keys = log_weights + rng.gumbel(size=log_weights.size)
    return np.argpartition(-keys, k - 1)[:k] if k < log_weights.size else np.arange(log_weights.size)


def generate(total: int, seed: int = 42, days: int = 365, now: datetime | None = None) -> Generated:
    """Creates users and ``total`` interactions, then rebuilds the day counts."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from backend.bulk import copy_rows
    from movies.catalog import activity
    from movies.models import Movie

    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    now = now or timezone.now()
    movie_ids = np.array(
        Movie.objects.filter(adult=False).order_by("-popularity", "id").values_list("id", flat=True)
    )
    if movie_ids.size == 0:
        raise RuntimeError("the catalog is empty: run manage.py load_catalog first")
    log_weights = np.log(popularity_weights(movie_ids.size))
    lengths = history_lengths(total, rng, movie_ids.size)
    User = get_user_model()
    first = User.objects.filter(username__startswith=f"{USERNAME_PREFIX}-{seed}-").count()
    users = User.objects.bulk_create(
        [
            # "!" is an unusable password: nobody signs in as them; the benchmark mints their tokens.
            User(
                username=f"{USERNAME_PREFIX}-{seed}-{first + i}",
                email=f"s{seed}-{first + i}@example.com",
                password="!",
            )
            for i in range(len(lengths))
        ],
        batch_size=BATCH,
    )
    user_ids = [user.pk for user in users]  # bulk_create returns ids on PostgreSQL and SQLite
    rows: dict[str, list[tuple[Any, ...]]] = {kind: [] for kind in KINDS}
    kinds = np.array(list(KINDS))
    window = timedelta(days=days).total_seconds()
    for user_id, length in zip(user_ids, lengths, strict=True):
        picked = movie_ids[sample_without_repeats(log_weights, length, rng)]
        kind_of = rng.choice(kinds, size=length, p=list(KINDS.values()))
        moments = [now - timedelta(seconds=float(s)) for s in rng.uniform(0, window, size=length)]
        scores = rng.choice(SCORES, size=length, p=SCORE_WEIGHTS / SCORE_WEIGHTS.sum())
        for movie_id, kind, moment, score in zip(
            picked.tolist(), kind_of.tolist(), moments, scores.tolist(), strict=True
        ):
            if kind == "rating":
                rows[kind].append((user_id, movie_id, Decimal(str(score)), moment, moment))
            elif kind == "favorite":
                rows[kind].append((user_id, movie_id, "", moment))
            else:
                rows[kind].append((user_id, movie_id, moment))
    copy_rows("accounts_rating", ("user_id", "movie_id", "score", "created_at", "updated_at"), rows["rating"])
    copy_rows("accounts_favorite", ("user_id", "movie_id", "note", "created_at"), rows["favorite"])
    copy_rows("accounts_watchlistentry", ("user_id", "movie_id", "created_at"), rows["watchlist"])
    activity.rebuild()
    return Generated(
        users=len(user_ids),
        ratings=len(rows["rating"]),
        favorites=len(rows["favorite"]),
        watchlist=len(rows["watchlist"]),
        seconds=time.perf_counter() - started,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.synthetic", description=__doc__.split("\n\n")[0])
    parser.add_argument("--interactions", type=int, required=True)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args(argv)
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    django.setup()
    made = generate(args.interactions, args.seed, args.days)
    print(
        f"{made.users} users, {made.interactions} interactions ({made.ratings} ratings, {made.favorites} "
        f"favorites, {made.watchlist} watchlist entries) in {made.seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
