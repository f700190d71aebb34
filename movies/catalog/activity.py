"""What our own users did with each movie lately: the local trending signal, as counts per movie and day.

Every favorite, rating and watchlist entry counts on the UTC day of its own
timestamp (a rating on the day it was last changed) in ``MovieActivity``,
updated as it happens, in the transaction that writes it (``accounts.signals``
calls ``record``). A window then reads at most one row per movie and day of
the window, however long the site's history. Writes that bypass model signals
(bulk imports with historical timestamps, ``QuerySet.update``) are counted by
``rebuild``, which recomputes the table from the rows (the nightly task and
``manage.py rebuild_interaction_counts``).

The interaction models are read through the app registry, not imports: the
catalog does not depend on the accounts app, it only counts its rows.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

from django.apps import apps
from django.apps.registry import Apps
from django.db import connection, transaction
from django.db.models import Case, Count, F, FloatField, QuerySet, Sum, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from backend import counters
from movies.models import MovieActivity

# (model, the time that counts, the MovieActivity column it counts in).
INTERACTIONS = (
    ("Favorite", "created_at", "favorites"),
    ("Rating", "updated_at", "ratings"),
    ("WatchlistEntry", "created_at", "watchlist"),
)
COLUMN_OF = {model: (time_field, column) for model, time_field, column in INTERACTIONS}
BATCH_SIZE = 5000


def day_of(moment: datetime) -> date:
    """The UTC day an interaction at ``moment`` counts on."""
    return moment.astimezone(UTC).date()


def record(model_name: str, movie_id: int, moment: datetime, delta: int) -> None:
    """Adds ``delta`` (+1 or -1) interactions of ``model_name`` to the movie's count on ``moment``'s day."""
    _, column = COLUMN_OF[model_name]
    counters.add(MovieActivity, {"day": day_of(moment), "movie_id": movie_id}, {column: delta})


def _total() -> F:
    return F("favorites") + F("ratings") + F("watchlist")


def recent_interactions(days: int, now: datetime | None = None) -> dict[int, float]:
    """Interactions per movie in the last ``days`` days (only movies with any), read from the day counts.

    The window's whole days count in full and its oldest day by the part of it
    inside the window (at 06:00 a one-day window is today plus 18/24 of
    yesterday), which is exact when a day's interactions are spread evenly.
    """
    first_day, inside, now = _window(days, now)
    weighted = Case(
        When(day=first_day, then=_total() * Value(inside)),
        default=_total() * Value(1.0),
        output_field=FloatField(),
    )
    rows = (
        MovieActivity.objects.filter(day__gte=first_day, day__lte=day_of(now))
        .values("movie_id")
        .annotate(n=Sum(weighted))
        .filter(n__gt=0)
        .values_list("movie_id", "n")
    )
    return {movie_id: float(n) for movie_id, n in rows}


def usual_interactions(days: int, before_days: int, now: datetime | None = None) -> dict[int, float]:
    """Interactions per movie per ``days`` days, averaged over the ``before_days`` days before
    the last ``days`` (the usual level a recent count is compared with).

    The window's last day is the recent window's first, counted in full here:
    a film's usual level errs high, so a claim that it is above it errs safe.
    """
    end = (now or timezone.now()) - timedelta(days=days)
    return {movie_id: n * days / before_days for movie_id, n in recent_interactions(before_days, end).items()}


def _window(days: int, now: datetime | None) -> tuple[date, float, datetime]:
    """The window's oldest day, the part of that day inside the window, and its end."""
    now = now or timezone.now()
    start = now - timedelta(days=days)
    first_day = day_of(start)
    inside = 1.0 - (start - datetime.combine(first_day, time(), tzinfo=UTC)).total_seconds() / 86400.0
    return first_day, inside, now


def active_movies(days: int, now: datetime | None = None) -> QuerySet[MovieActivity]:
    """Ids of the movies with counts in the window, as a subquery (``id__in=active_movies(7)``)."""
    first_day, _, now = _window(days, now)
    return MovieActivity.objects.filter(day__gte=first_day, day__lte=day_of(now)).values("movie_id")


def total_since(day: date) -> int:
    """All interactions counted on ``day`` and after (net of removals): retraining's yardstick."""
    total = MovieActivity.objects.filter(day__gte=day).aggregate(n=Sum(_total()))["n"]
    return int(total or 0)


def rebuild(registry: Apps = apps) -> int:
    """Recomputes every day count from the interaction rows; returns how many rows it wrote.

    Idempotent. Writers wait while it runs (PostgreSQL: the table is locked
    against writes; SQLite: one writer at a time), so an interaction saved
    meanwhile is counted exactly once, after it. ``registry`` is a migration's
    historical apps when the migration that creates the table fills it.
    """
    table = registry.get_model("movies", "MovieActivity")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {table._meta.db_table} IN EXCLUSIVE MODE")
        # Delete first: on SQLite that takes the write lock before anything is read.
        table.objects.all()._raw_delete(table.objects.db)
        counts: dict[tuple[date, int], dict[str, int]] = defaultdict(dict)
        for model_name, time_field, column in INTERACTIONS:
            rows = (
                registry.get_model("accounts", model_name)
                .objects.annotate(day=TruncDate(time_field, tzinfo=UTC))
                .values("day", "movie_id")
                .annotate(n=Count("id"))
                .values_list("day", "movie_id", "n")
                .order_by()
            )
            for day, movie_id, n in rows.iterator(chunk_size=BATCH_SIZE):
                counts[(day, movie_id)][column] = n
        # In day order, as live counts arrive: a window's rows then sit together on disk.
        table.objects.bulk_create(
            (
                table(day=day, movie_id=movie_id, **columns)
                for (day, movie_id), columns in sorted(counts.items())
            ),
            batch_size=BATCH_SIZE,
        )
    return len(counts)
