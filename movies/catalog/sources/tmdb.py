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
from movies.catalog import locale
from movies.catalog.sources.base import MovieEntry, PersonEntry
from movies.catalog.sources.local import LocalCatalogSource
from movies.catalog.store import upsert_genres, upsert_movies
from movies.records import (
    DiscoverQuery,
    GenreRecord,
    ListKind,
    MovieCredits,
    MovieDetails,
    MovieRecord,
    PageRecord,
    PersonCredits,
    PersonPageRecord,
)
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
    localized = True

    def __init__(self, client: TmdbClient) -> None:
        self.client = client
        self.local = LocalCatalogSource()

    @classmethod
    def from_settings(cls) -> TmdbSource:
        return cls(TmdbClient.from_settings(on_request=metrics.upstream_request, language_of=locale.language))

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
        return {movie_id: entry for movie_id, (entry, _) in self.movie_bundles(ids).items()}

    def movie_bundles(self, ids: Sequence[int]) -> dict[int, tuple[MovieEntry, MovieCredits]]:
        """Movies with details and credits: TMDb sends both in the one details call."""
        try:
            found = self.client.movies_many(ids)
        except TmdbPartialFailure as failure:
            # Keep what did arrive; the cache layer then tries stale copies, and
            # ``fallback_lookup`` after that.
            _keep([(record, details) for record, details, _ in failure.results.values()])
            raise
        _keep([(record, details) for record, details, _ in found.values()])
        return {
            movie_id: ((record, details), credits) for movie_id, (record, details, credits) in found.items()
        }

    def credits(self, ids: Sequence[int]) -> dict[int, MovieCredits]:
        return {movie_id: credits for movie_id, (_, credits) in self.movie_bundles(ids).items()}

    def fallback_credits(self, ids: Sequence[int]) -> dict[int, MovieCredits]:
        """Our stored credits (the bundled catalog's), for when TMDb cannot answer."""
        return self.local.fallback_credits(ids)

    def person_bundles(self, ids: Sequence[int]) -> dict[int, tuple[PersonEntry, PersonCredits]]:
        """People with details and their films, from one ``/person/{id}`` call each."""
        return {
            person_id: ((record, details), credits)
            for person_id, (record, details, credits) in self.client.people_many(ids).items()
        }

    def people(self, ids: Sequence[int]) -> dict[int, PersonEntry]:
        return {person_id: entry for person_id, (entry, _) in self.person_bundles(ids).items()}

    def fallback_people(self, ids: Sequence[int]) -> dict[int, PersonEntry]:
        """Our stored people (the bundled catalog's), for when TMDb cannot answer."""
        return self.local.people(ids)

    def fallback_person_credits(self, ids: Sequence[int]) -> dict[int, PersonCredits]:
        """The films we store of the people we store, for when TMDb cannot answer."""
        return self.local.person_credits(list(self.local.people(ids)))

    def person_credits(self, ids: Sequence[int]) -> dict[int, PersonCredits]:
        return {person_id: credits for person_id, (_, credits) in self.person_bundles(ids).items()}

    def search_people(self, query: str, page: int) -> PersonPageRecord:
        return self.client.search_people(query, page)

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
