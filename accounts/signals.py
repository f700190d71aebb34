"""Drops a user's cached recommendations whenever their lists or preferences change.

Signals rather than calls in the services, so every path counts: the GraphQL
mutations, the admin, a shell, a cascade when an account is deleted.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from accounts.models import Favorite, Preferences, Rating, WatchlistEntry
from movies.catalog.cache_policy import drop_recommendations


def _changed(user_id: int) -> None:
    # Now, so the answer to this very request is fresh; and again at commit, because a
    # recommendation computed meanwhile read the rows as they were before the commit.
    drop_recommendations(user_id)
    transaction.on_commit(lambda: drop_recommendations(user_id))


@receiver([post_save, post_delete], sender=Favorite)
@receiver([post_save, post_delete], sender=WatchlistEntry)
@receiver([post_save, post_delete], sender=Rating)
@receiver([post_save, post_delete], sender=Preferences)
def _user_data_changed(sender: type, instance: Any, **kwargs: Any) -> None:
    _changed(instance.user_id)


@receiver(m2m_changed, sender=Preferences.favorite_genres.through)
@receiver(m2m_changed, sender=Preferences.disliked_genres.through)
def _preferred_genres_changed(sender: type, instance: Any, action: str, **kwargs: Any) -> None:
    if action.startswith("post_") and isinstance(instance, Preferences):
        _changed(instance.user_id)
