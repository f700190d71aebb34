"""Drops a user's cached recommendations whenever their lists, dismissals or preferences change,
and keeps the per-day interaction counts (trending) as favorites, ratings and
watchlist entries come and go.

Signals rather than calls in the services, so every path counts: the GraphQL
mutations, the admin, a shell, a cascade when an account is deleted. Bulk
writes that skip signals are counted by ``activity.rebuild``.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.dispatch import receiver

from accounts import user_cache
from accounts.models import Dismissal, Favorite, Preferences, Rating, User, WatchlistEntry
from movies.catalog import activity
from movies.catalog.cache_policy import drop_recommendations


def _changed(user_id: int) -> None:
    # Now, so the answer to this very request is fresh; and again at commit, because a
    # recommendation computed meanwhile read the rows as they were before the commit.
    drop_recommendations(user_id)
    transaction.on_commit(lambda: drop_recommendations(user_id))


@receiver([post_save, post_delete], sender=User)
def _user_changed(sender: type, instance: User, **kwargs: Any) -> None:
    # Password, activity or profile: whatever changed, signed-in requests read it afresh.
    user_cache.forget(instance.pk)


@receiver([post_save, post_delete], sender=Favorite)
@receiver([post_save, post_delete], sender=WatchlistEntry)
@receiver([post_save, post_delete], sender=Rating)
@receiver([post_save, post_delete], sender=Preferences)
@receiver([post_save, post_delete], sender=Dismissal)
def _user_data_changed(sender: type, instance: Any, **kwargs: Any) -> None:
    _changed(instance.user_id)


@receiver(m2m_changed, sender=Preferences.favorite_genres.through)
@receiver(m2m_changed, sender=Preferences.disliked_genres.through)
def _preferred_genres_changed(sender: type, instance: Any, action: str, **kwargs: Any) -> None:
    if action.startswith("post_") and isinstance(instance, Preferences):
        _changed(instance.user_id)


# --- interaction counts ----------------------------------------------------------------------


def _counted_at(sender: type, instance: Any) -> tuple[int, Any]:
    time_field, _ = activity.COLUMN_OF[sender.__name__]
    return instance.movie_id, getattr(instance, time_field)


@receiver(pre_save, sender=Favorite)
@receiver(pre_save, sender=WatchlistEntry)
@receiver(pre_save, sender=Rating)
def _remember_counted_day(sender: type, instance: Any, **kwargs: Any) -> None:
    """An update may move the interaction to another movie or day: note where it counted before."""
    if instance._state.adding or instance.pk is None:
        return
    time_field, _ = activity.COLUMN_OF[sender.__name__]
    instance._counted_before = (
        sender.objects.filter(pk=instance.pk).values_list("movie_id", time_field).first()  # type: ignore[attr-defined]
    )


@receiver(post_save, sender=Favorite)
@receiver(post_save, sender=WatchlistEntry)
@receiver(post_save, sender=Rating)
def _count_interaction(sender: type, instance: Any, created: bool, **kwargs: Any) -> None:
    movie_id, moment = _counted_at(sender, instance)
    if created:
        activity.record(sender.__name__, movie_id, moment, +1)
        return
    before = instance.__dict__.pop("_counted_before", None)
    if before is None:
        return
    if (before[0], activity.day_of(before[1])) != (movie_id, activity.day_of(moment)):
        activity.record(sender.__name__, before[0], before[1], -1)
        activity.record(sender.__name__, movie_id, moment, +1)


@receiver(post_delete, sender=Favorite)
@receiver(post_delete, sender=WatchlistEntry)
@receiver(post_delete, sender=Rating)
def _uncount_interaction(sender: type, instance: Any, **kwargs: Any) -> None:
    movie_id, moment = _counted_at(sender, instance)
    activity.record(sender.__name__, movie_id, moment, -1)
