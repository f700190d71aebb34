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

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["keywords"] = list(self.keywords)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MovieDetails:
        return cls(**{**data, "keywords": tuple(data.get("keywords") or ())})


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

    def cache_key_part(self) -> str:
        return repr(dataclasses.astuple(self))
