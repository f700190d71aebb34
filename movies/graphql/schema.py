"""Catalog queries of the schema."""

from __future__ import annotations

from typing import TypeVar

import strawberry
from asgiref.sync import sync_to_async

from backend.errors import InvalidInput
from movies.catalog import reads
from movies.catalog.languages import ISO_639_1
from movies.graphql.loaders import movie_loader
from movies.graphql.types import (
    DiscoverFilter,
    DiscoverSort,
    Genre,
    Movie,
    MoviePage,
    Recommendation,
    TimeWindow,
)
from movies.recommender.serving import MAX_RECOMMENDATIONS, recommendations_for
from movies.records import MAX_IDS, MAX_PAGE, MAX_YEAR, MIN_YEAR, DiscoverQuery
from schema.context import Info
from schema.permissions import IsAuthenticated, require_user

MAX_QUERY_LENGTH = 200
MAX_QUERY_WORDS = 12
T = TypeVar("T")


def check_page(page: int) -> None:
    if not 1 <= page <= MAX_PAGE:
        raise InvalidInput(f"page must be between 1 and {MAX_PAGE}.")


def check_year(name: str, year: int | None) -> None:
    if year is not None and not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInput(f"{name} must be a year between {MIN_YEAR} and {MAX_YEAR}.")


def check_year_range(year_from: int | None, year_to: int | None) -> None:
    check_year("yearFrom", year_from)
    check_year("yearTo", year_to)
    if year_from is not None and year_to is not None and year_from > year_to:
        raise InvalidInput("yearFrom must not be after yearTo.")


def check_language(language: str) -> None:
    if language not in ISO_639_1:
        raise InvalidInput(f"{language!r} is not an ISO 639-1 language code (two lowercase letters).")


def _given(value: T | None) -> T | None:
    """An optional input field's value; left out (UNSET) reads as None."""
    return None if value is strawberry.UNSET else value


def discover_query(filter: DiscoverFilter | None, sort: DiscoverSort) -> DiscoverQuery:
    """Validates a DiscoverFilter into the source-neutral query."""
    if filter is None:
        return DiscoverQuery(sort=sort.value)
    year_from, year_to = _given(filter.year_from), _given(filter.year_to)
    min_vote_average, min_vote_count = _given(filter.min_vote_average), _given(filter.min_vote_count)
    language = _given(filter.language)
    # Duplicates mean nothing here; dropping them keeps the source's query as small as the ask.
    genre_ids = tuple(dict.fromkeys(_given(filter.genre_ids) or ()))
    excluded = tuple(dict.fromkeys(_given(filter.exclude_genre_ids) or ()))
    check_year_range(year_from, year_to)
    if min_vote_average is not None and not 0 <= min_vote_average <= 10:
        raise InvalidInput("minVoteAverage must be between 0 and 10.")
    if min_vote_count is not None and min_vote_count < 0:
        raise InvalidInput("minVoteCount must not be negative.")
    if language is not None:
        check_language(language)
    if set(genre_ids) & set(excluded):
        raise InvalidInput("A genre cannot be both in genreIds and excludeGenreIds.")
    return DiscoverQuery(
        genre_ids=genre_ids,
        exclude_genre_ids=excluded,
        year_from=year_from,
        year_to=year_to,
        min_vote_average=min_vote_average,
        min_vote_count=min_vote_count,
        language=language,
        include_adult=filter.include_adult,
        sort=sort.value,
    )


async def _list(kind: str, page: int) -> MoviePage:
    check_page(page)
    return MoviePage.from_record(await reads.read(reads.movie_list, kind, page))  # type: ignore[arg-type]


@strawberry.type
class CatalogQuery:
    @strawberry.field(description="All movie genres.")
    async def genres(self) -> list[Genre]:
        return [Genre.from_record(genre) for genre in await reads.read(reads.genres)]

    @strawberry.field(description="Movies trending today or this week.")
    async def trending_movies(self, time_window: TimeWindow = TimeWindow.WEEK, page: int = 1) -> MoviePage:
        return await _list(f"trending_{time_window.value}", page)

    @strawberry.field(description="Most popular movies right now.")
    async def popular_movies(self, page: int = 1) -> MoviePage:
        return await _list("popular", page)

    @strawberry.field(description="Highest rated movies (with enough votes to count).")
    async def top_rated_movies(self, page: int = 1) -> MoviePage:
        return await _list("top_rated", page)

    @strawberry.field(description="Movies in cinemas now.")
    async def now_playing_movies(self, page: int = 1) -> MoviePage:
        return await _list("now_playing", page)

    @strawberry.field(description="Movies coming to cinemas soon.")
    async def upcoming_movies(self, page: int = 1) -> MoviePage:
        return await _list("upcoming", page)

    @strawberry.field(description="One movie by TMDb id; null if there is no such movie.")
    async def movie(self, info: Info, id: int) -> Movie | None:
        entry = await movie_loader(info).load(id)
        return Movie.of(*entry) if entry else None

    @strawberry.field(description="at most 100 ids; order kept, null where an id is unknown")
    async def movies(self, info: Info, ids: list[int]) -> list[Movie | None]:
        if len(ids) > MAX_IDS:
            raise InvalidInput(f"At most {MAX_IDS} ids per query.")
        entries = await movie_loader(info).load_many(ids)
        return [Movie.of(*entry) if entry else None for entry in entries]

    @strawberry.field(description="Movies matching a title (typos tolerated on PostgreSQL).")
    async def search_movies(self, query: str, year: int | None = None, page: int = 1) -> MoviePage:
        check_page(page)
        text = " ".join(query.split())
        if not text:
            raise InvalidInput("query must not be empty.")
        if len(text) > MAX_QUERY_LENGTH:
            raise InvalidInput(f"query must be at most {MAX_QUERY_LENGTH} characters.")
        if len(text.split()) > MAX_QUERY_WORDS:
            # Each word is one more condition (SQLite) or tsquery term (PostgreSQL) over every film.
            raise InvalidInput(f"query must have at most {MAX_QUERY_WORDS} words.")
        check_year("year", year)
        return MoviePage.from_record(await reads.read(reads.search, text, year, page))

    @strawberry.field(description="Movies matching filters, sorted as asked.")
    async def discover_movies(
        self,
        filter: DiscoverFilter | None = None,
        sort_by: DiscoverSort = DiscoverSort.POPULARITY_DESC,
        page: int = 1,
    ) -> MoviePage:
        check_page(page)
        query = discover_query(filter, sort_by)
        return MoviePage.from_record(await reads.read(reads.discover, query, page))

    @strawberry.field(description="requires authentication", extensions=[IsAuthenticated()])
    async def recommendations(self, info: Info, limit: int = 20) -> list[Recommendation]:
        if not 1 <= limit <= MAX_RECOMMENDATIONS:
            raise InvalidInput(f"limit must be between 1 and {MAX_RECOMMENDATIONS}.")
        found = await sync_to_async(recommendations_for)(require_user(info).pk, limit)
        return [
            Recommendation(movie=Movie.of(record), score=item.score, reasons=list(item.reasons))
            for item, record in found
        ]
