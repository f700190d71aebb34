"""Training the served collaborative model from all users' interactions, and publishing it.

The one production path from our tables to the published versions that
serving processes load (``movies.recommender.serving``); the management
command and the ``movies.retrain_recommender`` task call ``train_and_publish``,
the task only when ``retraining_due`` says enough changed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import scipy.sparse as sp
from django.apps import apps
from django.utils import timezone
from tqdm import tqdm

from movies.catalog import activity
from movies.recommender import publishing
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
    version: int
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
    config: EaseConfig = PRODUCTION_CONFIG,
    neighbors: int = DEFAULT_NEIGHBORS,
    progress: bool = False,
) -> TrainingResult:
    """Trains on every interaction and publishes the model as the newest version.

    Raises ``NothingToTrain`` when there are no positive interactions.
    """
    started = time.perf_counter()
    # Read before the interactions, so what arrives while training counts towards the next one.
    today = activity.day_of(timezone.now())
    baseline = {"day": today.isoformat(), "total": activity.total_since(today)}
    matrix, movie_ids = interaction_matrix(progress)
    if matrix.nnz == 0:
        raise NothingToTrain("No interactions yet: nothing to train on")
    model = config.train(matrix, movie_ids, n_neighbors=min(neighbors, len(movie_ids)))
    seconds = time.perf_counter() - started
    meta = {
        **model.meta,
        "users": matrix.shape[0],
        "movies": matrix.shape[1],
        "interactions": int(matrix.nnz),
        "seconds": round(seconds, 3),
        "activity_baseline": baseline,
    }
    version = publishing.publish(model, meta)
    return TrainingResult(version, matrix.shape[0], matrix.shape[1], matrix.nnz, seconds)


def new_interactions_since_last_model() -> int | None:
    """Interactions counted since the newest model was trained (None when there is no model)."""
    latest = publishing.latest()
    if latest is None:
        return None
    baseline = latest.meta.get("activity_baseline") or {}
    if "day" not in baseline:
        return activity.total_since(activity.day_of(latest.created_at))
    day = date.fromisoformat(baseline["day"])
    return activity.total_since(day) - int(baseline.get("total", 0))


def retraining_due(min_new: int, max_age: timedelta) -> str | None:
    """Why the model should be retrained now, or None.

    Due when there is no model yet, when ``min_new`` interactions arrived
    since the last one, or when it is older than ``max_age`` and anything changed.
    """
    new = new_interactions_since_last_model()
    if new is None:
        return "no model yet"
    if new >= min_new:
        return f"{new} new interactions"
    latest = publishing.latest()
    if new > 0 and latest is not None and timezone.now() - latest.created_at >= max_age:
        return f"model older than {max_age}"
    return None
