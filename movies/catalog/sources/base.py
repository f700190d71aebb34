"""The interface every catalog source implements.

Methods are synchronous (HTTP and ORM); the GraphQL layer calls them off the
event loop through the cached ``movies.catalog.reads`` functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from movies.records import (
    DiscoverQuery,
    GenreRecord,
    ListKind,
    MovieCredits,
    MovieDetails,
    MovieRecord,
    PageRecord,
    PersonCredits,
    PersonDetails,
    PersonPageRecord,
    PersonRecord,
)

MovieEntry = tuple[MovieRecord, MovieDetails | None]
PersonEntry = tuple[PersonRecord, PersonDetails | None]


class CatalogSource(Protocol):
    """Reads the movie catalog; raises ``UpstreamUnavailable`` when it cannot answer."""

    #: Namespaces cache keys, so two sources never share an entry.
    name: str
    #: Whether answers follow the request's language (TMDb) or are always English (our tables).
    localized: bool

    def genres(self) -> list[GenreRecord]:
        """All movie genres."""
        ...

    def movie_list(self, kind: ListKind, page: int) -> PageRecord:
        """One page of a curated list (trending, popular, top rated, now playing, upcoming)."""
        ...

    def lookup(self, ids: Sequence[int]) -> dict[int, MovieEntry]:
        """Movies by id with their details where known; unknown ids are absent."""
        ...

    def credits(self, ids: Sequence[int]) -> dict[int, MovieCredits]:
        """Cast and crew of movies by id; unknown ids are absent."""
        ...

    def people(self, ids: Sequence[int]) -> dict[int, PersonEntry]:
        """People by id with their details where known; unknown ids are absent."""
        ...

    def person_credits(self, ids: Sequence[int]) -> dict[int, PersonCredits]:
        """The films of people by id, newest first; unknown ids are absent."""
        ...

    def search_people(self, query: str, page: int) -> PersonPageRecord:
        """People whose name matches a free-text query, best match first."""
        ...

    def search(self, query: str, year: int | None, page: int) -> PageRecord:
        """Movies matching a free-text query, best match first."""
        ...

    def discover(self, query: DiscoverQuery, page: int) -> PageRecord:
        """Movies matching filters, in the query's sort order."""
        ...

    def similar(self, movie_id: int, limit: int) -> list[MovieRecord]:
        """Movies like ``movie_id``, most similar first."""
        ...

    def check(self) -> str:
        """Raises if the source cannot serve; returns a short status for /readyz."""
        ...


class BundlingSource(Protocol):
    """A source whose one call answers two kinds (TMDb's append_to_response).

    The cache layer stores the companion half under its own key, so asking
    for a movie's cast after its runtime (or the other way round) costs no
    second call.
    """

    def movie_bundles(self, ids: Sequence[int]) -> dict[int, tuple[MovieEntry, MovieCredits]]:
        """Movies with details and their credits, from one call per movie."""
        ...

    def person_bundles(self, ids: Sequence[int]) -> dict[int, tuple[PersonEntry, PersonCredits]]:
        """People with details and their films, from one call per person."""
        ...
