"""Background work of the catalog and the recommender (Celery tasks; beat's schedule is in settings).

Each task is idempotent (running it twice leaves what running it once did),
retries with backoff when what it depends on fails (``BackgroundTask``), has
a time limit, and takes a lock where only one worker may do the work at once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings

from backend import locks
from backend.celery import BackgroundTask, app
from backend.errors import UpstreamUnavailable
from movies.catalog import activity, warming
from movies.catalog.sources.tmdb import decode_entries, store_genres_now
from movies.catalog.store import upsert_movies
from movies.recommender import training
from movies.records import GenreRecord

# (soft, hard) seconds: the soft limit raises inside the task, the hard one ends the worker process.
TRAIN_LIMITS = (600, 660)
REFRESH_LIMITS = (300, 330)
STORE_LIMITS = (60, 90)
REBUILD_LIMITS = (900, 960)


def _limits(limits: tuple[int, int]) -> dict[str, Any]:
    return {"soft_time_limit": limits[0], "time_limit": limits[1]}


@app.task(base=BackgroundTask, name="movies.retrain_recommender", **_limits(TRAIN_LIMITS))
def retrain_recommender(force: bool = False) -> str:
    """Trains and publishes a new model when enough changed since the last one (or always, with ``force``).

    One worker trains at a time; the others skip. Due when there is no model,
    after ``RECOMMENDER_RETRAIN_MIN_INTERACTIONS`` new interactions, or when the
    model is older than ``RECOMMENDER_RETRAIN_MAX_AGE_HOURS`` and anything changed.
    """

    def due() -> str | None:
        if force:
            return "forced"
        return training.retraining_due(
            settings.RECOMMENDER_RETRAIN_MIN_INTERACTIONS,
            timedelta(hours=settings.RECOMMENDER_RETRAIN_MAX_AGE_HOURS),
        )

    if due() is None:
        return "skipped: not due"
    with locks.exclusive("retrain-recommender", timeout=TRAIN_LIMITS[1] + 60) as held:
        if not held:
            return "skipped: another worker is training"
        # Again under the lock: the worker that held it before may have just published.
        reason = due()
        if reason is None:
            return "skipped: not due"
        try:
            result = training.train_and_publish()
        except training.NothingToTrain:
            return "skipped: no interactions yet"
        return f"published version {result.version} ({reason})"


@app.task(base=BackgroundTask, name="movies.refresh_catalog_cache", **_limits(REFRESH_LIMITS))
def refresh_catalog_cache() -> str:
    """Refresh-ahead: recomputes the lists and movie details that would expire before the next run.

    Upstream failures are retried (what succeeded stays fresh, so a retry only
    redoes what failed).
    """
    with locks.exclusive("refresh-catalog-cache", timeout=REFRESH_LIMITS[1] + 60) as held:
        if not held:
            return "skipped: another worker is refreshing"
        warmed = warming.warm(
            settings.CATALOG_REFRESH_PAGES, refresh_ahead=2.0 * settings.CATALOG_REFRESH_SECONDS
        )
    if warmed.failures:
        raise UpstreamUnavailable("; ".join(warmed.failures[:3]))
    return f"refreshed {warmed.pages} list pages and {warmed.movies} movies"


@app.task(base=BackgroundTask, name="movies.store_movies", **_limits(STORE_LIMITS))
def store_movies(payload: list[list[dict[str, Any] | None]]) -> int:
    """Upserts movies TMDb returned to a request into our tables (``TmdbSource`` queues it)."""
    # In id order, so two workers storing overlapping pages lock rows in the same order.
    entries = sorted(decode_entries(payload), key=lambda entry: entry[0].id)
    return upsert_movies(entries)


@app.task(base=BackgroundTask, name="movies.store_genres", **_limits(STORE_LIMITS))
def store_genres(payload: list[dict[str, Any]]) -> int:
    """Upserts TMDb's genres into our table."""
    genres = [GenreRecord.from_dict(item) for item in payload]
    store_genres_now(genres)
    return len(genres)


@app.task(base=BackgroundTask, name="movies.rebuild_interaction_counts", **_limits(REBUILD_LIMITS))
def rebuild_interaction_counts() -> str:
    """Recomputes the per-day interaction counts from the rows (counts bulk writes that skip signals)."""
    with locks.exclusive("rebuild-interaction-counts", timeout=REBUILD_LIMITS[1] + 60) as held:
        if not held:
            return "skipped: another worker is rebuilding"
        return f"rebuilt {activity.rebuild()} movie-day counts"
