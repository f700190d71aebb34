"""The interface every catalog source implements.

Methods are synchronous (HTTP and ORM); the GraphQL layer calls them off the
event loop through the cached ``movies.catalog.reads`` functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from movies.records import DiscoverQuery, GenreRecord, ListKind, MovieDetails, MovieRecord, PageRecord

MovieEntry = tuple[MovieRecord, MovieDetails | None]


class CatalogSource(Protocol):
    """Reads the movie catalog; raises ``UpstreamUnavailable`` when it cannot answer."""

    #: Namespaces cache keys, so two sources never share an entry.
    name: str

    def genres(self) -> list[GenreRecord]:
        """All movie genres."""
        ...

    def movie_list(self, kind: ListKind, page: int) -> PageRecord:
        """One page of a curated list (trending, popular, top rated, now playing, upcoming)."""
        ...

    def lookup(self, ids: Sequence[int]) -> dict[int, MovieEntry]:
        """Movies by id with their details where known; unknown ids are absent."""
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
