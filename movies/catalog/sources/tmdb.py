"""The TMDb catalog source: TmdbClient's answers, kept in our tables as they pass.

Every movie TMDb returns is upserted into the local Movie table, so users'
lists and the recommender keep working when TMDb is down, and a movie TMDb
cannot return right now is answered from that copy. The writes happen in the
background (the ``movies.store_movies`` task): a request answers from what it
fetched and only queues them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.db import DatabaseError

from backend.celery import enqueue
from movies import metrics
from movies.catalog.sources.base import MovieEntry
from movies.catalog.sources.local import LocalCatalogSource
from movies.catalog.store import upsert_genres, upsert_movies
from movies.records import DiscoverQuery, GenreRecord, ListKind, MovieDetails, MovieRecord, PageRecord
from movies.tmdb import TmdbClient, TmdbPartialFailure

logger = logging.getLogger(__name__)


def store_now(entries: Sequence[MovieEntry]) -> None:
    """Stores what TMDb returned; a failed write only costs the local copy, never the answer."""
    try:
        upsert_movies(entries)
    except DatabaseError:
        logger.exception("could not store %d TMDb movies locally", len(entries))


def store_genres_now(genres: Sequence[GenreRecord]) -> None:
    """Stores TMDb's genres; a failed write only costs the local copy."""
    try:
        upsert_genres(genres)
    except DatabaseError:
        logger.exception("could not store TMDb genres locally")


def encode_entries(entries: Sequence[MovieEntry]) -> list[list[dict[str, object] | None]]:
    """Movies as a task's JSON arguments."""
    return [[record.to_dict(), details.to_dict() if details else None] for record, details in entries]


def decode_entries(payload: Sequence[Sequence[dict[str, object] | None]]) -> list[MovieEntry]:
    """The inverse of ``encode_entries``."""
    return [
        (MovieRecord.from_dict(record), MovieDetails.from_dict(details) if details else None)
        for record, details in payload
        if record is not None
    ]


def _keep(entries: Sequence[MovieEntry]) -> None:
    """Queues the write of what TMDb returned (done here if the broker cannot take it)."""
    if entries:
        enqueue("movies.store_movies", encode_entries(entries), fallback=lambda: store_now(entries))


def _keep_page(page: PageRecord) -> PageRecord:
    _keep([(movie, None) for movie in page.results])
    return page


class TmdbSource:
    """Catalog reads from live TMDb."""

    name = "tmdb"

    def __init__(self, client: TmdbClient) -> None:
        self.client = client
        self.local = LocalCatalogSource()

    @classmethod
    def from_settings(cls) -> TmdbSource:
        return cls(TmdbClient.from_settings(on_request=metrics.upstream_request))

    def genres(self) -> list[GenreRecord]:
        genres = self.client.genres()
        enqueue(
            "movies.store_genres",
            [genre.to_dict() for genre in genres],
            fallback=lambda: store_genres_now(genres),
        )
        return genres

    def movie_list(self, kind: ListKind, page: int) -> PageRecord:
        return _keep_page(self.client.movie_list(kind, page))

    def lookup(self, ids: Sequence[int]) -> dict[int, MovieEntry]:
        try:
            found: dict[int, MovieEntry] = dict(self.client.movies_many(ids))
        except TmdbPartialFailure as failure:
            # Keep what did arrive; the cache layer then tries stale copies, and
            # ``fallback_lookup`` after that.
            _keep(list(failure.results.values()))
            raise
        _keep(list(found.values()))
        return found

    def fallback_lookup(self, ids: Sequence[int]) -> dict[int, MovieEntry]:
        """Our stored copies, for when TMDb cannot answer (never cached as fresh)."""
        return self.local.lookup(ids)

    def search(self, query: str, year: int | None, page: int) -> PageRecord:
        return _keep_page(self.client.search(query, year, page))

    def discover(self, query: DiscoverQuery, page: int) -> PageRecord:
        return _keep_page(self.client.discover(query, page))

    def similar(self, movie_id: int, limit: int) -> list[MovieRecord]:
        movies: list[MovieRecord] = []
        page = 1
        while len(movies) < limit:
            found = _keep_page(self.client.similar(movie_id, page))
            movies.extend(found.results)
            if page >= found.total_pages or not found.results:
                break
            page += 1
        return movies[:limit]

    def check(self) -> str:
        # Readiness must not spend upstream quota on every probe: TMDb health
        # shows in the upstream metrics and the UPSTREAM_UNAVAILABLE errors.
        return "tmdb (configured)" if self.client.configured else "tmdb (no credentials)"
