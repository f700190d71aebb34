"""GraphQL types of the catalog: Movie, Genre, MoviePage and their enums and inputs.

Movie and Genre are plain strawberry types over the records a catalog source
returns (not Django model types): a movie may come from TMDb or our database.
"""

from __future__ import annotations

import enum
from datetime import date
from typing import Annotated, TypeVar

import strawberry
from django.conf import settings

from accounts.graphql import loaders as viewer_loaders
from backend.errors import InvalidInput
from movies.catalog import reads
from movies.graphql.loaders import (
    credits_loader,
    genre_loader,
    movie_loader,
    person_credits_loader,
    person_loader,
)
from movies.records import (
    MAX_CAST_CREDITS,
    MAX_CREW_CREDITS,
    CompanyRecord,
    GenreRecord,
    MovieCredits,
    MovieDetails,
    MovieRecord,
    PageRecord,
    PersonDetails,
    PersonPageRecord,
    PersonRecord,
)
from schema.context import Info

MAX_SIMILAR = 50
ImageSizeT = TypeVar("ImageSizeT")
# Generic alias: `ImageSize[PosterSize]` is the enum with the argument's description.
ImageSize = Annotated[ImageSizeT, strawberry.argument(description="Image size; widths in pixels.")]
MAX_CAST = MAX_CAST_CREDITS
MAX_CREW = MAX_CREW_CREDITS
MAX_JOBS = 20
DIRECTOR = "Director"


@strawberry.enum(description="The window of a trending list.")
class TimeWindow(enum.Enum):
    DAY = "day"
    WEEK = "week"


@strawberry.enum(description="TMDb poster widths in pixels, or the original file.")
class PosterSize(enum.Enum):
    W92 = "w92"
    W154 = "w154"
    W185 = "w185"
    W342 = "w342"
    W500 = "w500"
    W780 = "w780"
    ORIGINAL = "original"


@strawberry.enum(description="TMDb backdrop widths in pixels, or the original file.")
class BackdropSize(enum.Enum):
    W300 = "w300"
    W780 = "w780"
    W1280 = "w1280"
    ORIGINAL = "original"


@strawberry.enum(description="Sizes TMDb serves profile pictures in.")
class ProfileSize(enum.Enum):
    W45 = "w45"
    W185 = "w185"
    H632 = "h632"
    ORIGINAL = "original"


@strawberry.enum(description="The order of discoverMovies results.")
class DiscoverSort(enum.Enum):
    POPULARITY_DESC = "popularity_desc"
    VOTE_AVERAGE_DESC = "vote_average_desc"
    RELEASE_DATE_DESC = "release_date_desc"
    REVENUE_DESC = "revenue_desc"
    TITLE_ASC = "title_asc"


@strawberry.type(description="A TMDb movie genre.")
class Genre:
    id: int = strawberry.field(description="TMDb genre id, e.g. 28 for Action.")
    name: str = strawberry.field(description="English genre name.")

    @classmethod
    def from_record(cls, record: GenreRecord) -> Genre:
        return cls(id=record.id, name=record.name)


GRAPHQL_INT_MAX = 2**31 - 1


def _as_graphql_int(value: int | None) -> int | None:
    """GraphQL's Int is 32-bit; box-office figures of the biggest films are not."""
    return value if value is not None and value <= GRAPHQL_INT_MAX else None


def _image_url(path: str | None, size: str) -> str | None:
    return f"{settings.TMDB_IMAGE_BASE_URL}/{size}{path}" if path else None


@strawberry.type(description="A movie, identified by its TMDb id.")
class Movie:
    # Plain fields, copied from the record once: strawberry resolves them with a
    # getattr, several times cheaper per field than a resolver method.
    id: int = strawberry.field(description="TMDb movie id.")
    title: str = strawberry.field(description="Title in the catalog's language.")
    original_title: str | None = strawberry.field(description="Title in the original language.")
    original_language: str | None = strawberry.field(description="ISO 639-1 code of the original language.")
    overview: str | None = strawberry.field(description="Plot summary.")
    release_date: date | None = strawberry.field(description="First release date.")
    year: int | None = strawberry.field(description="Year of release.")
    vote_average: float | None = strawberry.field(description="TMDb average vote, 0 to 10.")
    vote_count: int | None = strawberry.field(description="Number of TMDb votes behind voteAverage.")
    popularity: float | None = strawberry.field(description="TMDb popularity score.")
    adult: bool = strawberry.field(description="Adult content (hidden unless asked for).")
    poster_path: str | None = strawberry.field(description="TMDb image path; see posterUrl for a full URL.")
    backdrop_path: str | None = strawberry.field(
        description="TMDb image path; see backdropUrl for a full URL."
    )
    record: strawberry.Private[MovieRecord]
    # Known when the movie came from a details lookup; else fetched on demand.
    known_details: strawberry.Private[MovieDetails | None] = None

    @classmethod
    def of(cls, record: MovieRecord, details: MovieDetails | None = None) -> Movie:
        """The GraphQL movie for a record (and its details, when already known)."""
        return cls(
            id=record.id,
            title=record.title,
            original_title=record.original_title,
            original_language=record.original_language,
            overview=record.overview,
            release_date=record.release_date,
            year=record.year,
            vote_average=record.vote_average,
            vote_count=record.vote_count,
            popularity=record.popularity,
            adult=record.adult,
            poster_path=record.poster_path,
            backdrop_path=record.backdrop_path,
            record=record,
            known_details=details,
        )

    @strawberry.field(description="Full poster image URL at the given size; null without a poster.")
    def poster_url(self, size: ImageSize[PosterSize] = PosterSize.W500) -> str | None:
        return _image_url(self.record.poster_path, size.value)

    @strawberry.field(description="Full backdrop image URL at the given size; null without one.")
    def backdrop_url(self, size: ImageSize[BackdropSize] = BackdropSize.W780) -> str | None:
        return _image_url(self.record.backdrop_path, size.value)

    @strawberry.field(description="The movie's genres (batched per request).")
    def genres(self, info: Info) -> list[Genre]:
        # Usually the genre list is in this process's memory: answer at once,
        # without a coroutine per movie. Otherwise hand graphql-core an
        # awaitable that goes through the request's genre loader.
        by_id = reads.genre_map(local_only=True)
        if by_id is None:
            return self._genres_via_loader(info)  # type: ignore[return-value]
        return [Genre.from_record(by_id[genre_id]) for genre_id in self.record.genre_ids if genre_id in by_id]

    async def _genres_via_loader(self, info: Info) -> list[Genre]:
        found = await genre_loader(info).load_many(list(self.record.genre_ids))
        return [Genre.from_record(genre) for genre in found if genre is not None]

    async def _details(self, info: Info) -> MovieDetails:
        if self.known_details is None:
            entry = await movie_loader(info).load(self.record.id)
            self.known_details = (entry[1] if entry else None) or MovieDetails()
        return self.known_details

    @strawberry.field(description="Detail field: costs a batched, cached details lookup.")
    async def tagline(self, info: Info) -> str | None:
        return (await self._details(info)).tagline

    @strawberry.field(description="Detail field: running time in minutes.")
    async def runtime(self, info: Info) -> int | None:
        return (await self._details(info)).runtime

    @strawberry.field(description="Detail field: e.g. Released, Post Production.")
    async def status(self, info: Info) -> str | None:
        return (await self._details(info)).status

    @strawberry.field(description="Detail field: IMDb id, e.g. tt0137523.")
    async def imdb_id(self, info: Info) -> str | None:
        return (await self._details(info)).imdb_id

    @strawberry.field(description="Detail field.")
    async def homepage(self, info: Info) -> str | None:
        return (await self._details(info)).homepage

    @strawberry.field(
        description="Detail field: in US dollars; null above 2,147,483,647 (GraphQL Int), see budgetUsd."
    )
    async def budget(self, info: Info) -> int | None:
        return _as_graphql_int((await self._details(info)).budget)

    @strawberry.field(description="Detail field: in US dollars, exact for any amount.")
    async def budget_usd(self, info: Info) -> float | None:
        budget = (await self._details(info)).budget
        return float(budget) if budget is not None else None

    @strawberry.field(
        description="Detail field: in US dollars; null above 2,147,483,647 (GraphQL Int), see revenueUsd."
    )
    async def revenue(self, info: Info) -> int | None:
        return _as_graphql_int((await self._details(info)).revenue)

    @strawberry.field(description="Detail field: in US dollars, exact for any amount.")
    async def revenue_usd(self, info: Info) -> float | None:
        revenue = (await self._details(info)).revenue
        return float(revenue) if revenue is not None else None

    @strawberry.field(description="Detail field: TMDb keywords.")
    async def keywords(self, info: Info) -> list[str]:
        return list((await self._details(info)).keywords)

    async def _credits(self, info: Info) -> MovieCredits:
        return await credits_loader(info).load(self.record.id) or MovieCredits()

    @strawberry.field(description="top-billed first")
    async def cast(
        self,
        info: Info,
        limit: Annotated[int, strawberry.argument(description="How many, 1 to 100.")] = 15,
    ) -> list[CastCredit]:
        if not 1 <= limit <= MAX_CAST:
            raise InvalidInput(f"limit must be between 1 and {MAX_CAST}.")
        credits = await self._credits(info)
        return [
            CastCredit(person=Person.of(c.person), character=c.character, order=c.order)
            for c in credits.cast[:limit]
        ]

    @strawberry.field(description="jobs as TMDb names them, e.g. Director, Screenplay; all when left out")
    async def crew(
        self,
        info: Info,
        jobs: Annotated[
            list[str] | None,
            strawberry.argument(description="Jobs to keep (at most 20; case ignored); all when left out."),
        ] = None,
        limit: Annotated[int, strawberry.argument(description="How many, 1 to 200.")] = 50,
    ) -> list[CrewCredit]:
        if not 1 <= limit <= MAX_CREW:
            raise InvalidInput(f"limit must be between 1 and {MAX_CREW}.")
        if jobs is not None and len(jobs) > MAX_JOBS:
            raise InvalidInput(f"jobs may name at most {MAX_JOBS} jobs.")
        wanted = {job.casefold() for job in jobs} if jobs is not None else None
        credits = await self._credits(info)
        kept = [c for c in credits.crew if wanted is None or c.job.casefold() in wanted]
        return [
            CrewCredit(person=Person.of(c.person), job=c.job, department=c.department) for c in kept[:limit]
        ]

    @strawberry.field(description="The people credited with the job Director, in credit order.")
    async def directors(self, info: Info) -> list[Person]:
        credits = await self._credits(info)
        people = {c.person.id: c.person for c in credits.crew if c.job == DIRECTOR}
        return [Person.of(person) for person in people.values()]

    @strawberry.field(description="Detail field: production companies, in TMDb's order.")
    async def production_companies(self, info: Info) -> list[Company]:
        return [Company.from_record(c) for c in (await self._details(info)).production_companies]

    @strawberry.field(description="ISO 3166-1 alpha-2 codes")
    async def production_countries(self, info: Info) -> list[str]:
        return list((await self._details(info)).production_countries)

    @strawberry.field(description="ISO 639-1 codes")
    async def spoken_languages(self, info: Info) -> list[str]:
        return list((await self._details(info)).spoken_languages)

    @strawberry.field(description="Movies like this one, most similar first (1 to 50).")
    async def similar(
        self,
        info: Info,
        limit: Annotated[int, strawberry.argument(description="How many, 1 to 50.")] = 10,
    ) -> list[Movie]:
        if not 1 <= limit <= MAX_SIMILAR:
            raise InvalidInput(f"limit must be between 1 and {MAX_SIMILAR}.")
        info.context.similar_budget -= limit
        if info.context.similar_budget < 0:
            raise InvalidInput("Too many similar movies asked for in one request (at most 1000 in all).")
        records = await reads.read(reads.similar, self.record.id, limit)
        return [Movie.of(record) for record in records]

    @strawberry.field(description="Whether the viewer has favorited it; false for anonymous viewers.")
    async def is_favorite(self, info: Info) -> bool:
        return await viewer_loaders.is_favorite(info, self.record.id)

    @strawberry.field(description="Whether it is on the viewer's watchlist; false for anonymous viewers.")
    async def in_watchlist(self, info: Info) -> bool:
        return await viewer_loaders.in_watchlist(info, self.record.id)

    @strawberry.field(description="The viewer's rating (0.5 to 5.0); null if unrated or anonymous.")
    async def my_rating(self, info: Info) -> float | None:
        return await viewer_loaders.my_rating(info, self.record.id)


@strawberry.type(description="One page of a TMDb-style list: 20 results a page, pages 1..500.")
class MoviePage:
    page: int = strawberry.field(description="This page's number, from 1.")
    total_pages: int = strawberry.field(description="Pages in the list (at most 500 can be asked for).")
    total_results: int = strawberry.field(description="Movies in the whole list.")
    results: list[Movie] = strawberry.field(description="Up to 20 movies, in the list's order.")

    @classmethod
    def from_record(cls, record: PageRecord) -> MoviePage:
        return cls(
            page=record.page,
            total_pages=record.total_pages,
            total_results=record.total_results,
            results=[Movie.of(movie) for movie in record.results],
        )


@strawberry.type(description="A production company.")
class Company:
    id: int = strawberry.field(description="TMDb company id.")
    name: str = strawberry.field(description="The company's name.")
    logo_path: str | None = strawberry.field(description="TMDb image path of its logo; null when unknown.")

    @classmethod
    def from_record(cls, record: CompanyRecord) -> Company:
        return cls(id=record.id, name=record.name, logo_path=record.logo_path)


@strawberry.type(description="A person in TMDb: actor, director, writer...")
class Person:
    id: int = strawberry.field(description="TMDb person id.")
    name: str = strawberry.field(description="The name they are credited under.")
    known_for_department: str | None = strawberry.field(
        description="The department most of their credits are in: Acting, Directing, Writing..."
    )
    profile_path: str | None = strawberry.field(
        description="TMDb image path of their picture; see profileUrl. Null in the local catalog."
    )
    popularity: float | None = strawberry.field(
        description="TMDb popularity score; null in the local catalog."
    )
    record: strawberry.Private[PersonRecord]
    # Known when the person came from a person lookup; else fetched on demand.
    known_details: strawberry.Private[PersonDetails | None] = None

    @classmethod
    def of(cls, record: PersonRecord, details: PersonDetails | None = None) -> Person:
        """The GraphQL person for a record (and its details, when already known)."""
        return cls(
            id=record.id,
            name=record.name,
            known_for_department=record.known_for_department,
            profile_path=record.profile_path,
            popularity=record.popularity,
            record=record,
            known_details=details,
        )

    @strawberry.field(description="Full profile picture URL at the given size; null without a picture.")
    def profile_url(
        self, size: Annotated[ProfileSize, strawberry.argument(description="Image size.")] = ProfileSize.W185
    ) -> str | None:
        return _image_url(self.record.profile_path, size.value)

    async def _details(self, info: Info) -> PersonDetails:
        if self.known_details is None:
            entry = await person_loader(info).load(self.record.id)
            self.known_details = (entry[1] if entry else None) or PersonDetails()
        return self.known_details

    @strawberry.field(description="Detail field (batched per request): null in the local catalog.")
    async def biography(self, info: Info) -> str | None:
        return (await self._details(info)).biography

    @strawberry.field(description="Detail field: date of birth; null in the local catalog.")
    async def birthday(self, info: Info) -> date | None:
        return (await self._details(info)).birthday

    @strawberry.field(description="Detail field: where they were born; null in the local catalog.")
    async def place_of_birth(self, info: Info) -> str | None:
        return (await self._details(info)).place_of_birth

    @strawberry.field(
        description="Their films in the catalog, newest first (one batch for a page of people)."
    )
    async def movie_credits(self, info: Info) -> PersonMovieCredits:
        found = await person_credits_loader(info).load(self.record.id)
        if found is None:
            return PersonMovieCredits(cast=[], crew=[])
        return PersonMovieCredits(
            cast=[PersonCastCredit(movie=Movie.of(c.movie), character=c.character) for c in found.cast],
            crew=[
                PersonCrewCredit(movie=Movie.of(c.movie), job=c.job, department=c.department)
                for c in found.crew
            ],
        )


@strawberry.type(description="A person's films: the roles they played and the jobs they did.")
class PersonMovieCredits:
    cast: list[PersonCastCredit] = strawberry.field(description="Films they acted in, newest first.")
    crew: list[PersonCrewCredit] = strawberry.field(description="Films they worked on, newest first.")


@strawberry.type(description="A film a person acted in.")
class PersonCastCredit:
    movie: Movie = strawberry.field(description="The film.")
    character: str | None = strawberry.field(description="Whom they played; null when unknown.")


@strawberry.type(description="A film a person worked on.")
class PersonCrewCredit:
    movie: Movie = strawberry.field(description="The film.")
    job: str = strawberry.field(description="As TMDb names it, e.g. Director, Screenplay.")
    department: str = strawberry.field(description="As TMDb names it, e.g. Directing, Writing.")


@strawberry.type(description="A role in a movie's cast.")
class CastCredit:
    person: Person = strawberry.field(description="Who plays it.")
    character: str | None = strawberry.field(description="The character; null when unknown.")
    order: int = strawberry.field(description="billing order, 0 first")


@strawberry.type(description="A job in a movie's crew.")
class CrewCredit:
    person: Person = strawberry.field(description="Who did it.")
    job: str = strawberry.field(description="As TMDb names it, e.g. Director, Screenplay.")
    department: str = strawberry.field(description="As TMDb names it, e.g. Directing, Writing.")


@strawberry.type(description="One page of people: 20 results a page, pages 1..500.")
class PersonPage:
    page: int = strawberry.field(description="This page's number, from 1.")
    total_pages: int = strawberry.field(description="How many pages there are (at most 500).")
    total_results: int = strawberry.field(description="How many people matched.")
    results: list[Person] = strawberry.field(description="Best match first.")

    @classmethod
    def from_record(cls, record: PersonPageRecord) -> PersonPage:
        return cls(
            page=record.page,
            total_pages=record.total_pages,
            total_results=record.total_results,
            results=[Person.of(person) for person in record.results],
        )


@strawberry.input(description="Filters for discoverMovies; every field is optional.")
class DiscoverFilter:
    genre_ids: list[int] | None = strawberry.field(
        default=strawberry.UNSET, description="Movies with all of these genres."
    )
    exclude_genre_ids: list[int] | None = strawberry.field(
        default=strawberry.UNSET, description="Movies with none of these genres."
    )
    year_from: int | None = strawberry.field(
        default=strawberry.UNSET, description="Released in or after this year."
    )
    year_to: int | None = strawberry.field(
        default=strawberry.UNSET, description="Released in or before this year."
    )
    min_vote_average: float | None = strawberry.field(
        default=strawberry.UNSET, description="At least this TMDb vote average, 0 to 10."
    )
    min_vote_count: int | None = strawberry.field(
        default=strawberry.UNSET, description="At least this many TMDb votes."
    )
    language: str | None = strawberry.field(
        default=strawberry.UNSET, description="Original language, an ISO 639-1 code such as en."
    )
    include_adult: bool = strawberry.field(default=False, description="Include adult titles.")
    with_people_ids: list[int] | None = strawberry.field(
        default=strawberry.UNSET,
        description="films with all of these people in cast or crew",
    )


@strawberry.type(description="A movie recommended to the viewer, with why.")
class Recommendation:
    movie: Movie = strawberry.field(description="The recommended movie.")
    score: float = strawberry.field(
        description="Relative strength; higher first, comparable within one answer."
    )
    reasons: list[str] = strawberry.field(
        description="Human-readable: 'Because you liked Heat', 'Matches your favorite genre: Crime'"
    )
