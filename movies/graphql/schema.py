"""Catalog queries of the schema."""

from __future__ import annotations

from typing import Annotated, TypeVar

import strawberry
from asgiref.sync import sync_to_async

from backend.errors import InvalidInput
from movies.catalog import reads
from movies.catalog.cache_policy import TTL, CacheKind
from movies.catalog.languages import ISO_639_1
from movies.graphql.loaders import movie_loader, person_loader
from movies.graphql.types import (
    DiscoverFilter,
    DiscoverSort,
    Genre,
    Movie,
    MoviePage,
    Person,
    PersonPage,
    Recommendation,
    TimeWindow,
)
from movies.recommender.serving import MAX_RECOMMENDATIONS, recommendations_for
from movies.records import MAX_IDS, MAX_PAGE, MAX_PEOPLE_IDS, MAX_YEAR, MIN_YEAR, DiscoverQuery
from schema.context import Info
from schema.operations import MAX_AGE
from schema.permissions import IsAuthenticated, require_user

MAX_QUERY_LENGTH = 200
T = TypeVar("T")


Page = Annotated[int, strawberry.argument(description="Page number, 1 to 500; 20 movies a page.")]


def cached(kind: CacheKind) -> dict[str, int]:
    """Field metadata: a shared cache may keep an anonymous answer reading it as long as the catalog does."""
    return {MAX_AGE: TTL[kind]}


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


def clean_query(query: str) -> str:
    """Free text with runs of whitespace as one space; empty or overlong text is bad input."""
    text = " ".join(query.split())
    if not text:
        raise InvalidInput("query must not be empty.")
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidInput(f"query must be at most {MAX_QUERY_LENGTH} characters.")
    return text


def _people_ids(ids: list[int] | None) -> tuple[int, ...]:
    """Distinct person ids in the order given (repeats ignored), at most MAX_PEOPLE_IDS."""
    unique = tuple(dict.fromkeys(ids or ()))
    if len(unique) > MAX_PEOPLE_IDS:
        raise InvalidInput(f"withPeopleIds may name at most {MAX_PEOPLE_IDS} people.")
    if any(person_id <= 0 for person_id in unique):
        raise InvalidInput("withPeopleIds must be positive TMDb person ids.")
    return unique


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
    people_ids = _people_ids(_given(filter.with_people_ids))
    genre_ids = tuple(_given(filter.genre_ids) or ())
    excluded = tuple(_given(filter.exclude_genre_ids) or ())
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
        people_ids=people_ids,
    )


async def _list(kind: str, page: int) -> MoviePage:
    check_page(page)
    return MoviePage.from_record(await reads.read(reads.movie_list, kind, page))  # type: ignore[arg-type]


@strawberry.type
class CatalogQuery:
    @strawberry.field(description="All movie genres.", metadata=cached("genres"))
    async def genres(self) -> list[Genre]:
        return [Genre.from_record(genre) for genre in await reads.read(reads.genres)]

    @strawberry.field(description="Movies trending today or this week.", metadata=cached("trending"))
    async def trending_movies(
        self,
        time_window: Annotated[
            TimeWindow, strawberry.argument(description="Today or this week.")
        ] = TimeWindow.WEEK,
        page: Page = 1,
    ) -> MoviePage:
        return await _list(f"trending_{time_window.value}", page)

    @strawberry.field(description="Most popular movies right now.", metadata=cached("list"))
    async def popular_movies(self, page: Page = 1) -> MoviePage:
        return await _list("popular", page)

    @strawberry.field(
        description="Highest rated movies (with enough votes to count).", metadata=cached("list")
    )
    async def top_rated_movies(self, page: Page = 1) -> MoviePage:
        return await _list("top_rated", page)

    @strawberry.field(description="Movies in cinemas now.", metadata=cached("list"))
    async def now_playing_movies(self, page: Page = 1) -> MoviePage:
        return await _list("now_playing", page)

    @strawberry.field(description="Movies coming to cinemas soon.", metadata=cached("list"))
    async def upcoming_movies(self, page: Page = 1) -> MoviePage:
        return await _list("upcoming", page)

    @strawberry.field(
        description="One movie by TMDb id; null if there is no such movie.", metadata=cached("movie")
    )
    async def movie(
        self, info: Info, id: Annotated[int, strawberry.argument(description="TMDb movie id.")]
    ) -> Movie | None:
        entry = await movie_loader(info).load(id)
        return Movie.of(*entry) if entry else None

    @strawberry.field(
        description="at most 100 ids; order kept, null where an id is unknown", metadata=cached("movie")
    )
    async def movies(
        self,
        info: Info,
        ids: Annotated[list[int], strawberry.argument(description="TMDb movie ids, at most 100.")],
    ) -> list[Movie | None]:
        if len(ids) > MAX_IDS:
            raise InvalidInput(f"At most {MAX_IDS} ids per query.")
        entries = await movie_loader(info).load_many(ids)
        return [Movie.of(*entry) if entry else None for entry in entries]

    @strawberry.field(
        description="Movies matching a title, best first; typos tolerated.", metadata=cached("search")
    )
    async def search_movies(
        self,
        query: Annotated[str, strawberry.argument(description="Words of the title, up to 200 characters.")],
        year: Annotated[
            int | None, strawberry.argument(description="Only movies released that year.")
        ] = None,
        page: Page = 1,
    ) -> MoviePage:
        check_page(page)
        text = clean_query(query)
        check_year("year", year)
        return MoviePage.from_record(await reads.read(reads.search, text, year, page))

    @strawberry.field(
        description="One person by TMDb id; null if there is no such person.", metadata=cached("person")
    )
    async def person(
        self, info: Info, id: Annotated[int, strawberry.argument(description="TMDb person id.")]
    ) -> Person | None:
        entry = await person_loader(info).load(id)
        return Person.of(*entry) if entry else None

    @strawberry.field(
        description="People whose name matches, best first; typos tolerated.",
        metadata=cached("people-search"),
    )
    async def search_people(
        self,
        query: Annotated[
            str, strawberry.argument(description="A name or part of one, up to 200 characters.")
        ],
        page: Annotated[int, strawberry.argument(description="Page number, 1 to 500; 20 people a page.")] = 1,
    ) -> PersonPage:
        check_page(page)
        return PersonPage.from_record(await reads.read(reads.search_people, clean_query(query), page))

    @strawberry.field(description="Movies matching filters, sorted as asked.", metadata=cached("discover"))
    async def discover_movies(
        self,
        filter: Annotated[
            DiscoverFilter | None,
            strawberry.argument(description="What the movies must match; all if left out."),
        ] = None,
        sort_by: Annotated[DiscoverSort, strawberry.argument(description="Order of the results.")] = (
            DiscoverSort.POPULARITY_DESC
        ),
        page: Page = 1,
    ) -> MoviePage:
        check_page(page)
        query = discover_query(filter, sort_by)
        return MoviePage.from_record(await reads.read(reads.discover, query, page))

    @strawberry.field(description="requires authentication", extensions=[IsAuthenticated()])
    async def recommendations(
        self, info: Info, limit: Annotated[int, strawberry.argument(description="How many, 1 to 100.")] = 20
    ) -> list[Recommendation]:
        if not 1 <= limit <= MAX_RECOMMENDATIONS:
            raise InvalidInput(f"limit must be between 1 and {MAX_RECOMMENDATIONS}.")
        found = await sync_to_async(recommendations_for)(require_user(info).pk, limit)
        return [
            Recommendation(movie=Movie.of(record), score=item.score, reasons=list(item.reasons))
            for item, record in found
        ]
