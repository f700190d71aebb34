"""Training the served collaborative model from all users' interactions, and publishing it.

The one production path from our tables to the model file that serving
processes load (``movies.recommender.serving``); the management command and
any scheduler call ``train_and_publish``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from django.apps import apps
from tqdm import tqdm

from movies.recommender.ease import DEFAULT_NEIGHBORS, EaseConfig
from movies.recommender.serving import interaction_weight

# The variant the offline evaluation selected on MovieLens validation splits
# (README, "Recommender quality"): EDLAE-style EASE on square-rooted weights.
PRODUCTION_CONFIG = EaseConfig(
    lam_relative=200.0, weighting="rating", weight_exponent=0.5, diag_penalty=4.0, user_exponent=0.25
)


class NothingToTrain(Exception):
    """No positive interactions yet: recommendations use content and priors only."""


@dataclass(frozen=True)
class TrainingResult:
    path: Path
    users: int
    movies: int
    interactions: int
    seconds: float


def interaction_matrix(progress: bool = False) -> tuple[sp.csr_matrix, np.ndarray]:
    """Users x movies matrix of positive interaction weights, and the movie id of each column."""
    model = apps.get_model
    weights: dict[tuple[int, int], float] = {}
    sources = [
        (
            model("accounts", "WatchlistEntry").objects.values_list("user_id", "movie_id"),
            lambda row: interaction_weight("watchlist"),
        ),
        (
            model("accounts", "Rating").objects.values_list("user_id", "movie_id", "score"),
            lambda row: interaction_weight("rating", float(row[2])),
        ),
        (
            model("accounts", "Favorite").objects.values_list("user_id", "movie_id"),
            lambda row: interaction_weight("favorite"),
        ),
    ]
    for rows, weight_of in tqdm(sources, desc="reading interactions", unit="table", disable=not progress):
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


def train_and_publish(
    path: Path,
    config: EaseConfig = PRODUCTION_CONFIG,
    neighbors: int = DEFAULT_NEIGHBORS,
    progress: bool = False,
) -> TrainingResult:
    """Trains on every interaction and publishes the model at ``path`` atomically.

    Raises ``NothingToTrain`` when there are no positive interactions.
    """
    started = time.perf_counter()
    matrix, movie_ids = interaction_matrix(progress)
    if matrix.nnz == 0:
        raise NothingToTrain("No interactions yet: nothing to train on")
    model = config.train(matrix, movie_ids, n_neighbors=min(neighbors, len(movie_ids)))
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write aside, then rename: a serving process never reads a half-written file.
    partial = path.with_name(path.name + ".partial")
    model.save(partial)
    os.replace(partial, path)
    return TrainingResult(path, matrix.shape[0], matrix.shape[1], matrix.nnz, time.perf_counter() - started)
