"""Trains the collaborative model on all users' interactions and publishes it atomically.

Serving processes pick up the new file within a minute, without a restart.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from accounts.models import Favorite, Rating, WatchlistEntry
from movies.recommender.evaluation import DEFAULT_NEIGHBORS, EaseConfig
from movies.recommender.serving import interaction_weight

# The variant the offline evaluation selected on MovieLens validation splits
# (README, "Recommender quality"): EDLAE-style EASE on square-rooted weights.
PRODUCTION_CONFIG = EaseConfig(
    lam_relative=200.0, weighting="rating", weight_exponent=0.5, diag_penalty=4.0, user_exponent=0.25
)


def interaction_matrix() -> tuple[sp.csr_matrix, np.ndarray]:
    """Users x movies matrix of positive interaction weights, and the movie id of each column."""
    weights: dict[tuple[int, int], float] = {}
    sources = [
        (
            WatchlistEntry.objects.values_list("user_id", "movie_id"),
            lambda row: interaction_weight("watchlist"),
        ),
        (
            Rating.objects.values_list("user_id", "movie_id", "score"),
            lambda row: interaction_weight("rating", float(row[2])),
        ),
        (Favorite.objects.values_list("user_id", "movie_id"), lambda row: interaction_weight("favorite")),
    ]
    for rows, weight_of in tqdm(sources, desc="reading interactions", unit="table"):
        for row in rows.iterator(chunk_size=5000):
            # Later sources win: a favorite outranks a rating outranks a watchlist entry.
            weights[(row[0], row[1])] = weight_of(row)
    positive = {pair: weight for pair, weight in weights.items() if weight > 0}
    users = sorted({user for user, _ in positive})
    movies = sorted({movie for _, movie in positive})
    user_row = {user: i for i, user in enumerate(users)}
    movie_col = {movie: j for j, movie in enumerate(movies)}
    rows = [user_row[user] for user, _ in positive]
    cols = [movie_col[movie] for _, movie in positive]
    matrix = sp.csr_matrix(
        (list(positive.values()), (rows, cols)), shape=(len(users), len(movies)), dtype=np.float32
    )
    return matrix, np.array(movies, dtype=np.int64)


class Command(BaseCommand):
    help = "Train the recommender's item-item model (EASE) from all users' favorites, ratings and watchlists."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--lambda", dest="lam", type=float, default=PRODUCTION_CONFIG.lam_relative, help="relative lambda"
        )
        parser.add_argument("--neighbors", type=int, default=DEFAULT_NEIGHBORS)
        parser.add_argument("--output", type=Path, default=None, help="default: RECOMMENDER_MODEL_PATH")

    def handle(self, *args: Any, lam: float, neighbors: int, output: Path | None, **options: Any) -> None:
        path = Path(output or settings.RECOMMENDER_MODEL_PATH)
        started = time.perf_counter()
        matrix, movie_ids = interaction_matrix()
        if matrix.nnz == 0:
            raise CommandError(
                "No interactions yet: nothing to train on (recommendations use content and priors)."
            )
        config = dataclasses.replace(PRODUCTION_CONFIG, lam_relative=lam)
        model = config.train(matrix, movie_ids, n_neighbors=min(neighbors, len(movie_ids)))
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write aside, then rename: a serving process never reads a half-written file.
        partial = path.with_name(path.name + ".partial")
        model.save(partial)
        os.replace(partial, path)
        self.stdout.write(
            self.style.SUCCESS(
                f"Trained on {matrix.shape[0]} users, {matrix.shape[1]} movies, {matrix.nnz} interactions "
                f"in {time.perf_counter() - started:.2f}s; wrote {path}"
            )
        )
