"""Plain data that catalog sources return and caches store.

Sources (TMDb, the local database) speak these records, never Django models
or HTTP bodies, so the GraphQL layer and the cache do not care where a movie
came from. Each record round-trips through ``to_dict``/``from_dict`` as
JSON-safe data for the cache.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

ListKind = Literal["trending_day", "trending_week", "popular", "top_rated", "now_playing", "upcoming"]
DiscoverSortKey = Literal[
    "popularity_desc", "vote_average_desc", "release_date_desc", "revenue_desc", "title_asc"
]

PAGE_SIZE = 20
MAX_PAGE = 500
# The most ids one `movies(ids:)` query (and one loader batch) takes.
MAX_IDS = 100
# Years a filter may name (the first films are from the 1870s).
MIN_YEAR, MAX_YEAR = 1870, 2100
# The most people one discover filter may name (TMDb's with_people takes a short list).
MAX_PEOPLE_IDS = 10
# The most cast and crew credits kept per movie (the API's largest limits).
MAX_CAST_CREDITS = 100
MAX_CREW_CREDITS = 200


def _date_or_none(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


@dataclass(frozen=True, slots=True)
class CompanyRecord:
    """A production company."""

    id: int
    name: str
    logo_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "logo_path": self.logo_path}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompanyRecord:
        return cls(id=int(data["id"]), name=str(data["name"]), logo_path=data.get("logo_path"))


@dataclass(frozen=True, slots=True)
class GenreRecord:
    id: int
    name: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenreRecord:
        return cls(id=int(data["id"]), name=str(data["name"]))


@dataclass(frozen=True, slots=True)
class MovieDetails:
    """Fields that TMDb list endpoints leave out; fetched per movie on demand."""

    tagline: str | None = None
    runtime: int | None = None
    status: str | None = None
    imdb_id: str | None = None
    homepage: str | None = None
    budget: int | None = None
    revenue: int | None = None
    keywords: tuple[str, ...] = ()
    production_companies: tuple[CompanyRecord, ...] = ()
    # ISO 3166-1 alpha-2 and ISO 639-1 codes.
    production_countries: tuple[str, ...] = ()
    spoken_languages: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["keywords"] = list(self.keywords)
        data["production_companies"] = [company.to_dict() for company in self.production_companies]
        data["production_countries"] = list(self.production_countries)
        data["spoken_languages"] = list(self.spoken_languages)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MovieDetails:
        return cls(
            **{
                **data,
                "keywords": tuple(data.get("keywords") or ()),
                "production_companies": tuple(
                    CompanyRecord.from_dict(item) for item in data.get("production_companies") or ()
                ),
                "production_countries": tuple(data.get("production_countries") or ()),
                "spoken_languages": tuple(data.get("spoken_languages") or ()),
            }
        )


@dataclass(frozen=True, slots=True)
class MovieRecord:
    """A movie as list endpoints know it: everything but the detail fields."""

    id: int
    title: str
    original_title: str | None = None
    original_language: str | None = None
    overview: str | None = None
    release_date: date | None = None
    vote_average: float | None = None
    vote_count: int | None = None
    popularity: float | None = None
    adult: bool = False
    poster_path: str | None = None
    backdrop_path: str | None = None
    genre_ids: tuple[int, ...] = ()

    @property
    def year(self) -> int | None:
        return self.release_date.year if self.release_date else None

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: its recursive deep copy was most of the cost of caching a list.
        data = {name: getattr(self, name) for name in _MOVIE_RECORD_FIELDS}
        data["release_date"] = self.release_date.isoformat() if self.release_date else None
        data["genre_ids"] = list(self.genre_ids)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MovieRecord:
        released = data.get("release_date")
        return cls(
            **{
                **data,
                "release_date": date.fromisoformat(released) if released else None,
                "genre_ids": tuple(data.get("genre_ids") or ()),
            }
        )


_MOVIE_RECORD_FIELDS = tuple(field.name for field in dataclasses.fields(MovieRecord))


@dataclass(frozen=True, slots=True)
class PageRecord:
    """One page of a TMDb-style paginated list."""

    page: int
    total_pages: int
    total_results: int
    results: tuple[MovieRecord, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "page": self.page,
            "total_pages": self.total_pages,
            "total_results": self.total_results,
            "results": [movie.to_dict() for movie in self.results],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PageRecord:
        return cls(
            page=int(data["page"]),
            total_pages=int(data["total_pages"]),
            total_results=int(data["total_results"]),
            results=tuple(MovieRecord.from_dict(m) for m in data["results"]),
        )


@dataclass(frozen=True, slots=True)
class DiscoverQuery:
    """Validated discover filters, in source-neutral terms."""

    genre_ids: tuple[int, ...] = ()
    exclude_genre_ids: tuple[int, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    min_vote_average: float | None = None
    min_vote_count: int | None = None
    language: str | None = None
    include_adult: bool = False
    sort: DiscoverSortKey = "popularity_desc"
    # Films with all of these people in cast or crew.
    people_ids: tuple[int, ...] = ()

    def cache_key_part(self) -> str:
        return repr(dataclasses.astuple(self))


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A person as credit lists and searches know them: everything but the detail fields."""

    id: int
    name: str
    known_for_department: str | None = None
    profile_path: str | None = None
    popularity: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PersonRecord:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class PersonDetails:
    """Fields only a person's own page has (TMDb ``/person/{id}``); the local catalog lacks them."""

    biography: str | None = None
    birthday: date | None = None
    place_of_birth: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "biography": self.biography,
            "birthday": self.birthday.isoformat() if self.birthday else None,
            "place_of_birth": self.place_of_birth,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PersonDetails:
        return cls(
            biography=data.get("biography"),
            birthday=_date_or_none(data.get("birthday")),
            place_of_birth=data.get("place_of_birth"),
        )


@dataclass(frozen=True, slots=True)
class CastCreditRecord:
    """One role in a movie's cast; ``order`` is the billing order, 0 first."""

    person: PersonRecord
    character: str | None
    order: int


@dataclass(frozen=True, slots=True)
class CrewCreditRecord:
    """One job in a movie's crew, as TMDb names it (job Director, department Directing)."""

    person: PersonRecord
    job: str
    department: str


@dataclass(frozen=True, slots=True)
class MovieCredits:
    """A movie's cast in billing order and its crew in the source's order."""

    cast: tuple[CastCreditRecord, ...] = ()
    crew: tuple[CrewCreditRecord, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "cast": [[c.person.to_dict(), c.character, c.order] for c in self.cast],
            "crew": [[c.person.to_dict(), c.job, c.department] for c in self.crew],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MovieCredits:
        return cls(
            cast=tuple(
                CastCreditRecord(PersonRecord.from_dict(p), character, order)
                for p, character, order in data["cast"]
            ),
            crew=tuple(
                CrewCreditRecord(PersonRecord.from_dict(p), job, department)
                for p, job, department in data["crew"]
            ),
        )


@dataclass(frozen=True, slots=True)
class PersonCastRecord:
    """A film a person acted in, and as whom."""

    movie: MovieRecord
    character: str | None


@dataclass(frozen=True, slots=True)
class PersonCrewRecord:
    """A film a person worked on, and in which job."""

    movie: MovieRecord
    job: str
    department: str


@dataclass(frozen=True, slots=True)
class PersonCredits:
    """A person's films, newest first."""

    cast: tuple[PersonCastRecord, ...] = ()
    crew: tuple[PersonCrewRecord, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "cast": [[c.movie.to_dict(), c.character] for c in self.cast],
            "crew": [[c.movie.to_dict(), c.job, c.department] for c in self.crew],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PersonCredits:
        return cls(
            cast=tuple(
                PersonCastRecord(MovieRecord.from_dict(m), character) for m, character in data["cast"]
            ),
            crew=tuple(
                PersonCrewRecord(MovieRecord.from_dict(m), job, department)
                for m, job, department in data["crew"]
            ),
        )


def newest_first(movie: MovieRecord) -> tuple[bool, float, int]:
    """Sort key of a filmography: newest release first, undated films last."""
    released = movie.release_date
    return (released is None, -released.toordinal() if released else 0, movie.id)


@dataclass(frozen=True, slots=True)
class PersonPageRecord:
    """One page of people (a people search), TMDb-style."""

    page: int
    total_pages: int
    total_results: int
    results: tuple[PersonRecord, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "page": self.page,
            "total_pages": self.total_pages,
            "total_results": self.total_results,
            "results": [person.to_dict() for person in self.results],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PersonPageRecord:
        return cls(
            page=int(data["page"]),
            total_pages=int(data["total_pages"]),
            total_results=int(data["total_results"]),
            results=tuple(PersonRecord.from_dict(p) for p in data["results"]),
        )
