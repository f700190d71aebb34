"""Filling the catalog cache with what the home page reads first, and refreshing it ahead of expiry.

Genres, the first pages of every curated list, and the details of the movies
on them. ``manage.py warm_cache`` fills what is missing (after a deploy); the
``movies.refresh_catalog_cache`` task, every ``CATALOG_REFRESH_SECONDS``,
also recomputes what would expire before its next run, so popular keys never
go cold for users.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from backend.errors import UpstreamUnavailable
from movies.catalog import reads
from movies.records import ListKind

LISTS: tuple[ListKind, ...] = (
    "trending_day",
    "trending_week",
    "popular",
    "top_rated",
    "now_playing",
    "upcoming",
)


@dataclass
class Warmed:
    """What one pass did: list pages and movies in the cache, and what failed upstream."""

    pages: int = 0
    movies: int = 0
    failures: list[str] = field(default_factory=list)


def warm(pages: int, refresh_ahead: float | None = None) -> Warmed:
    """Fills genres, ``pages`` pages of every list and their movies' details.

    With ``refresh_ahead`` (seconds), entries that expire within that time are
    recomputed too, not only missing ones. Upstream failures are collected,
    never raised: one failing list must not keep the others cold.
    """
    warmed = Warmed()
    try:
        reads.genres() if refresh_ahead is None else reads.refresh_genres(refresh_ahead)
    except UpstreamUnavailable as error:
        warmed.failures.append(f"genres: {error}")
    movie_ids: set[int] = set()
    for kind in LISTS:
        for page in range(1, pages + 1):
            try:
                found = (
                    reads.movie_list(kind, page)
                    if refresh_ahead is None
                    else reads.refresh_list(kind, page, refresh_ahead)
                )
            except UpstreamUnavailable as error:
                warmed.failures.append(f"{kind} page {page}: {error}")
                continue
            assert found is not None
            warmed.pages += 1
            movie_ids.update(movie.id for movie in found.results)
    try:
        if refresh_ahead is None:
            reads.lookup(sorted(movie_ids))
        else:
            reads.refresh_movies(sorted(movie_ids), refresh_ahead)
        warmed.movies = len(movie_ids)
    except UpstreamUnavailable as error:
        warmed.failures.append(f"movies: {error}")
    return warmed
