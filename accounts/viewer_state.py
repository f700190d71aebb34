"""The viewer's lists (favorites, watchlist, ratings) in the shared cache, for one generation of them.

A signed-in catalog query needs, for every movie of its answer, whether the
viewer keeps it and how they rated it (schema.viewer_fields). Reading that
from the database costs each request a thread hop and a query; here the whole
of the three lists is one entry, ``viewer:state:<id>``, stamped with the
generation of the user's data it was read at (movies.catalog.cache_policy:
every change of a favorite, watchlist entry, rating, preference or dismissal
sets a new one, now and again at commit). An entry is used only while its
stamp is the current generation, so it never needs dropping: a reader that
read the rows before a change stamped them with the generation before it.

Only with Redis (like accounts.user_cache), and only for lists of at most
``MAX_ITEMS`` rows: a larger history is asked of the database per request,
among the movies of the answer, as before; the entry then says so (``LARGE``)
for its generation, so that the whole lists are not read again each time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

from accounts import user_cache
from accounts.models import Favorite, Rating, WatchlistEntry
from movies.catalog import cache_policy

# As long as the user cache keeps a sign-in: how long a change whose new generation Redis lost (with
# IGNORE_EXCEPTIONS) could go unseen.
TTL = 300
MAX_ITEMS = 5000
# The entry of a history longer than MAX_ITEMS, for the generation it was measured at.
LARGE = "large"


@dataclass(frozen=True)
class ViewerState:
    """What one viewer keeps: the movie ids of two lists and their ratings, as of ``generation``."""

    generation: int
    favorite: frozenset[int]
    watchlist: frozenset[int]
    rating: Mapping[int, float]

    def value(self, kind: str, movie_id: Any) -> bool | float | None:
        """The viewer field of ``kind`` for ``movie_id``: on the list or not, or the score (None: unrated)."""
        if kind == "rating":
            return self.rating.get(movie_id)
        return movie_id in (self.favorite if kind == "favorite" else self.watchlist)


def key(user_id: int) -> str:
    """The cache key of a viewer's entry (before the cache's prefix and version)."""
    return f"viewer:state:{user_id}"


def generation_key(user_id: int) -> str:
    """The cache key of the generation of a user's data (movies.catalog.cache_policy)."""
    return cache_policy.recommendations_generation_key(user_id)


def parse_generation(raw: bytes | str | int | None) -> int | None:
    """A generation as Redis holds it (django-redis keeps integers as plain digits), or None."""
    if raw is None or isinstance(raw, bool):
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def parse(raw: bytes | str | Mapping[str, Any] | None, generation: int | None) -> ViewerState | None:
    """The entry ``raw`` (JSON, or already decoded) when it was read at ``generation``, else None."""
    if raw is None or generation is None:
        return None
    try:
        entry = json.loads(raw) if isinstance(raw, bytes | str) else raw
        if not isinstance(entry, Mapping) or entry.get("g") != generation:
            return None
        return ViewerState(
            generation=generation,
            favorite=frozenset(int(movie_id) for movie_id in entry["favorite"]),
            watchlist=frozenset(int(movie_id) for movie_id in entry["watchlist"]),
            rating={int(movie_id): float(score) for movie_id, score in entry["rating"]},
        )
    except (KeyError, TypeError, ValueError):
        return None


def load(user_id: int) -> ViewerState | None:
    """The viewer's lists as the cache keeps them for the current generation, else read from the
    database and kept there; None when they are longer than ``MAX_ITEMS`` (or there is no Redis to
    keep them in): the caller reads among its movies instead."""
    if not user_cache.enabled():
        return None
    # The generation first (with the entry, one round trip): a change committed after this read sets
    # a newer one.
    gen_key = generation_key(user_id)
    try:
        found = cache.get_many([gen_key, key(user_id)])
    except ValueError:  # a value django-redis cannot decode: both are read afresh below
        found = {}
    generation = parse_generation(found.get(gen_key))
    kept = found.get(key(user_id))
    if generation is None:
        # Missing, or not a generation: cache_policy sets a new one, as a change does.
        generation = cache_policy.recommendations_generation(user_id)
    elif kept == {"g": generation, LARGE: True}:
        return None
    elif (state := parse(kept, generation)) is not None:
        return state
    favorites = list(
        Favorite.objects.filter(user_id=user_id).values_list("movie_id", flat=True)[: MAX_ITEMS + 1]
    )
    watchlist = list(
        WatchlistEntry.objects.filter(user_id=user_id).values_list("movie_id", flat=True)[: MAX_ITEMS + 1]
    )
    ratings = list(Rating.objects.filter(user_id=user_id).values_list("movie_id", "score")[: MAX_ITEMS + 1])
    if len(favorites) + len(watchlist) + len(ratings) > MAX_ITEMS:
        cache.set(key(user_id), {"g": generation, LARGE: True}, TTL)
        return None
    entry = {
        "g": generation,
        "favorite": sorted(favorites),
        "watchlist": sorted(watchlist),
        "rating": sorted([movie_id, float(score)] for movie_id, score in ratings),
    }
    cache.set(key(user_id), entry, TTL)
    return parse(entry, generation)
