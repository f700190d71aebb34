"""What our own users did with each movie lately: the local trending signal.

Read through the app registry, not imports: the catalog does not depend on
the accounts app, it only counts its rows when the app is installed.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from django.apps import apps
from django.db.models import Count
from django.utils import timezone

# (model, the time that counts): a rating counts when it was last changed.
INTERACTIONS = (("Favorite", "created_at"), ("Rating", "updated_at"), ("WatchlistEntry", "created_at"))


def recent_interactions(days: int) -> Counter[int]:
    """Favorites, ratings and watchlist entries per movie in the last ``days`` days (counted in SQL)."""
    since = timezone.now() - timedelta(days=days)
    counts: Counter[int] = Counter()
    for model_name, time_field in INTERACTIONS:
        rows = (
            apps.get_model("accounts", model_name)
            .objects.filter(**{f"{time_field}__gte": since})
            .values("movie_id")
            .annotate(n=Count("id"))
            .values_list("movie_id", "n")
        )
        counts.update(dict(rows))
    return counts
