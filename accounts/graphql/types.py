"""GraphQL types of accounts and users' movie lists (strawberry-django model types)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

import strawberry
import strawberry_django
from asgiref.sync import sync_to_async
from django.db.models import Model, QuerySet

from accounts import models, services
from backend.errors import InvalidInput
from movies.graphql.loaders import movie_loader
from movies.graphql.types import Genre, Movie
from movies.models import Genre as GenreModel
from movies.records import MovieRecord
from schema.context import Info

MAX_LIMIT = 100
Offset = Annotated[int, strawberry.argument(description="Rows to skip, from 0.")]
Limit = Annotated[int, strawberry.argument(description="Rows to return, 1 to 100.")]
logger = logging.getLogger(__name__)


UNAVAILABLE_TITLE = "Unavailable movie"


async def _movie(info: Info, movie_id: int) -> Movie:
    """The row's movie. One the catalog no longer knows keeps its id with a stand-in
    title: an error here would null the whole page (``movie`` is non-null), hiding
    every other row of the user's list."""
    entry = await movie_loader(info).load(movie_id)
    if entry is None:
        logger.warning("movie %s of a user's list is not in the catalog", movie_id)
        return Movie.of(MovieRecord(id=movie_id, title=UNAVAILABLE_TITLE))
    return Movie.of(*entry)


@strawberry_django.type(models.Favorite, description="A movie the user marked as a favorite.")
class Favorite:
    id: strawberry.ID = strawberry_django.field(description="Stable id of this favorite.")
    movie_id: int = strawberry_django.field(description="TMDb id of the movie.")
    created_at: datetime = strawberry_django.field(description="When it was added.")

    @strawberry_django.field(description="The favorited movie (batched per request).")
    async def movie(self, info: Info) -> Movie:
        return await _movie(info, self.movie_id)

    @strawberry_django.field(description="The user's note, if any.")
    def note(self) -> str | None:
        return self.note or None  # type: ignore[attr-defined]


@strawberry_django.type(models.WatchlistEntry, description="A movie on the user's watchlist.")
class WatchlistEntry:
    id: strawberry.ID = strawberry_django.field(description="Stable id of this entry.")
    movie_id: int = strawberry_django.field(description="TMDb id of the movie.")
    created_at: datetime = strawberry_django.field(description="When it was added.")

    @strawberry_django.field(description="The movie (batched per request).")
    async def movie(self, info: Info) -> Movie:
        return await _movie(info, self.movie_id)


@strawberry_django.type(models.Rating, description="The user's rating of a movie.")
class Rating:
    id: strawberry.ID = strawberry_django.field(description="Stable id of this rating.")
    movie_id: int = strawberry_django.field(description="TMDb id of the movie.")
    updated_at: datetime = strawberry_django.field(description="When the score was last set.")

    @strawberry_django.field(description="0.5 to 5.0 in steps of 0.5")
    def score(self) -> float:
        return float(self.score)  # type: ignore[arg-type]

    @strawberry_django.field(description="The rated movie (batched per request).")
    async def movie(self, info: Info) -> Movie:
        return await _movie(info, self.movie_id)


@strawberry.type(description="A page of the user's favorites, newest first.")
class FavoritePage:
    total_count: int = strawberry.field(description="Favorites in the whole list.")
    results: list[Favorite] = strawberry.field(description="This window of the list.")


@strawberry.type(description="A page of the user's watchlist, newest first.")
class WatchlistPage:
    total_count: int = strawberry.field(description="Entries in the whole watchlist.")
    results: list[WatchlistEntry] = strawberry.field(description="This window of the list.")


@strawberry.type(description="A page of the user's ratings, most recently changed first.")
class RatingPage:
    total_count: int = strawberry.field(description="Ratings in the whole list.")
    results: list[Rating] = strawberry.field(description="This window of the list.")


def _genres(prefs: models.Preferences, relation: str) -> list[Genre]:
    if prefs.pk is None:
        return []
    rows: QuerySet[GenreModel] = getattr(prefs, relation).order_by("name")
    return [Genre.from_record(row.to_record()) for row in rows]


@strawberry_django.type(models.Preferences, description="What the user likes; shapes recommendations.")
class Preferences:
    @strawberry_django.field(description="stable per user, for client caches")
    def id(self) -> strawberry.ID:
        # The user's id: defaults that were never saved have no row id of their own, yet
        # a client cache must see the same object before and after the first save.
        return strawberry.ID(str(self.user_id))  # type: ignore[attr-defined]

    min_vote_average: float | None = strawberry_django.field(
        description="Recommend only movies rated at least this (0 to 10)."
    )
    year_from: int | None = strawberry_django.field(
        description="Recommend only movies released in or after this year."
    )
    year_to: int | None = strawberry_django.field(
        description="Recommend only movies released in or before this year."
    )
    include_adult: bool = strawberry_django.field(description="Whether adult titles may be recommended.")
    updated_at: datetime | None = strawberry_django.field(
        description="When they were last saved; null for defaults."
    )

    @strawberry_django.field(description="Genres the user likes (boosted in recommendations).")
    async def favorite_genres(self) -> list[Genre]:
        return await sync_to_async(_genres)(self, "favorite_genres")  # type: ignore[arg-type]

    @strawberry_django.field(description="Genres the user never wants recommended.")
    async def disliked_genres(self) -> list[Genre]:
        return await sync_to_async(_genres)(self, "disliked_genres")  # type: ignore[arg-type]

    @strawberry_django.field(description="ISO 639-1 codes, e.g. en, fr")
    def languages(self) -> list[str]:
        return list(self.languages or [])  # type: ignore[attr-defined]


def _check_window(offset: int, limit: int) -> None:
    if offset < 0:
        raise InvalidInput("offset must not be negative.")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.")


async def _user_rows(model: type[Model], user_id: int, offset: int, limit: int) -> tuple[int, list[Model]]:
    """One window of a user's list in the model's order, and the list's size: two queries."""
    _check_window(offset, limit)

    def read() -> tuple[int, list[Model]]:
        rows = model._default_manager.filter(user_id=user_id)
        return rows.count(), list(rows[offset : offset + limit])

    return await sync_to_async(read)()


@strawberry_django.type(models.User, description="An account. Only its owner can read it.")
class User:
    id: strawberry.ID = strawberry_django.field(description="Stable account id.")
    username: str = strawberry_django.field(description="Unique, case-insensitively.")
    email: str = strawberry_django.field(
        description="Unique, case-insensitively; also accepted by tokenAuth."
    )
    first_name: str = strawberry_django.field(description="May be empty.")
    last_name: str = strawberry_django.field(description="May be empty.")
    date_joined: datetime = strawberry_django.field(description="When the account was created.")

    @strawberry_django.field(description="The user's preferences (defaults until first saved).")
    async def preferences(self) -> Preferences:
        return await sync_to_async(services.preferences_of)(self)  # type: ignore[return-value,arg-type]

    @strawberry_django.field(description="Favorites, newest first; limit 1..100.")
    async def favorites(self, offset: Offset = 0, limit: Limit = 20) -> FavoritePage:
        total, results = await _user_rows(models.Favorite, self.pk, offset, limit)  # type: ignore[attr-defined]
        return FavoritePage(total_count=total, results=results)  # type: ignore[arg-type]

    @strawberry_django.field(description="Watchlist, newest first; limit 1..100.")
    async def watchlist(self, offset: Offset = 0, limit: Limit = 20) -> WatchlistPage:
        total, results = await _user_rows(models.WatchlistEntry, self.pk, offset, limit)  # type: ignore[attr-defined]
        return WatchlistPage(total_count=total, results=results)  # type: ignore[arg-type]

    @strawberry_django.field(description="Ratings, most recently changed first; limit 1..100.")
    async def ratings(self, offset: Offset = 0, limit: Limit = 20) -> RatingPage:
        total, results = await _user_rows(models.Rating, self.pk, offset, limit)  # type: ignore[attr-defined]
        return RatingPage(total_count=total, results=results)  # type: ignore[arg-type]


@strawberry.type(description="Tokens for a signed-in session.")
class AuthPayload:
    token: str = strawberry.field(description="Access token: send it as `Authorization: JWT <token>`.")
    refresh_token: str = strawberry.field(description="Single-use: refreshToken spends it for a new pair.")
    expires_in: int = strawberry.field(description="seconds until the access token expires")
    refresh_expires_in: int = strawberry.field(description="Seconds until the refresh token expires.")
    user: User = strawberry.field(description="The signed-in account.")
