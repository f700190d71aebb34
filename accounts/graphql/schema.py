"""Account queries and mutations: auth (django-graphql-jwt's names), profile, user lists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import strawberry
from asgiref.sync import sync_to_async

from accounts import models, ratelimit, services, tokens
from accounts.graphql import loaders as viewer_loaders
from accounts.graphql.types import AuthPayload, Favorite, Preferences, Rating, User, WatchlistEntry
from backend.errors import InvalidInput, NotAuthenticated
from schema.context import Info
from schema.permissions import IsAuthenticated, require_user

MovieId = Annotated[int, strawberry.argument(description="TMDb id of the movie.")]
Password = Annotated[str, strawberry.argument(description="The account's password.")]
RefreshTokenArgument = Annotated[str, strawberry.argument(description="A refresh token from an AuthPayload.")]
T = TypeVar("T")


@strawberry.input(description="A new account.")
class RegisterInput:
    username: str = strawberry.field(description="Letters, digits and . + - _ (no @), unique.")
    email: str = strawberry.field(description="Unique, case-insensitively.")
    password: str = strawberry.field(description="Checked by Django's password validators.")
    first_name: str | None = strawberry.field(default=None, description="Optional.")
    last_name: str | None = strawberry.field(default=None, description="Optional.")


@strawberry.input(description="Profile changes; each field left out keeps its value.")
class ProfileInput:
    email: str | None = strawberry.field(default=None, description="A new email, unique.")
    first_name: str | None = strawberry.field(default=None, description="A new first name.")
    last_name: str | None = strawberry.field(default=None, description="A new last name.")


@strawberry.input(description="Preference changes.")
class PreferencesInput:
    favorite_genre_ids: list[int] | None = strawberry.field(
        default=strawberry.UNSET, description="each field left out keeps its stored value"
    )
    disliked_genre_ids: list[int] | None = strawberry.field(
        default=strawberry.UNSET, description="Genres never to recommend."
    )
    languages: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="ISO 639-1 codes; recommend only these original languages."
    )
    min_vote_average: float | None = strawberry.field(
        default=strawberry.UNSET, description="0 to 10; null clears it."
    )
    year_from: int | None = strawberry.field(default=strawberry.UNSET, description="A year; null clears it.")
    year_to: int | None = strawberry.field(default=strawberry.UNSET, description="A year; null clears it.")
    include_adult: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Whether adult titles may be recommended."
    )


def _payload(pair: tokens.TokenPair) -> AuthPayload:
    return AuthPayload(
        token=pair.token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        refresh_expires_in=pair.refresh_expires_in,
        user=pair.user,  # type: ignore[arg-type]
    )


@strawberry.type
class AccountQuery:
    @strawberry.field(description="null for anonymous viewers")
    def me(self, info: Info) -> User | None:
        if info.context.auth_error:
            require_user(info)
        return info.context.user  # type: ignore[return-value]


@strawberry.type
class AccountMutation:
    @strawberry.mutation(description="Creates an account and signs it in.")
    async def register(
        self, info: Info, input: Annotated[RegisterInput, strawberry.argument(description="The new account.")]
    ) -> AuthPayload:
        def run() -> tokens.TokenPair:
            request = info.context.request
            ratelimit.attempt(request, "register", input.email)
            user = services.register(
                input.username, input.email, input.password, input.first_name, input.last_name
            )
            return tokens.issue(user)

        return _payload(await sync_to_async(run)())

    @strawberry.mutation(description="username may also be the account's email")
    async def token_auth(
        self,
        info: Info,
        username: Annotated[str, strawberry.argument(description="Username or email, any case.")],
        password: Password,
    ) -> AuthPayload:
        def run() -> tokens.TokenPair:
            # Counted per name as typed (normalised): a budget shared by an account's username
            # and email would tell an attacker which email belongs to which username.
            request = info.context.request
            ratelimit.attempt(request, "login", username)
            try:
                user = services.authenticate(services.find_account(username), password)
            except NotAuthenticated:
                ratelimit.failure(request, "login", username)
                raise
            return tokens.issue(user)

        return _payload(await sync_to_async(run)())

    @strawberry.mutation(description="rotates: the refresh token passed in is spent")
    async def refresh_token(self, refresh_token: RefreshTokenArgument) -> AuthPayload:
        return _payload(await sync_to_async(tokens.rotate)(refresh_token))

    @strawberry.mutation(description="logout: revokes the refresh token")
    async def revoke_token(self, refresh_token: RefreshTokenArgument) -> bool:
        await sync_to_async(tokens.revoke)(refresh_token)
        return True

    @strawberry.mutation(description="Changes the viewer's email or names.", extensions=[IsAuthenticated()])
    async def update_profile(
        self, info: Info, input: Annotated[ProfileInput, strawberry.argument(description="The changes.")]
    ) -> User:
        user = require_user(info)

        def run() -> models.User:
            if input.email is None:
                return services.update_profile(user, None, input.first_name, input.last_name)
            # "An account with this email already exists" answers whether an email is taken.
            return _limited(info, "email", {"email"}, services.update_profile)(
                user, input.email, input.first_name, input.last_name
            )

        return await sync_to_async(run)()  # type: ignore[return-value]

    @strawberry.mutation(
        description="revokes every other session; the caller gets a fresh pair and stays signed in",
        extensions=[IsAuthenticated()],
    )
    async def change_password(
        self,
        info: Info,
        old_password: Annotated[str, strawberry.argument(description="The current password.")],
        new_password: Annotated[
            str, strawberry.argument(description="Checked by Django's password validators.")
        ],
    ) -> AuthPayload:
        change = _limited(info, "password", {"oldPassword"}, services.change_password)
        pair = await sync_to_async(change)(require_user(info), old_password, new_password)
        return _payload(pair)

    @strawberry.mutation(
        description="Deletes the account and all its lists; needs the password.",
        extensions=[IsAuthenticated()],
    )
    async def delete_account(self, info: Info, password: Password) -> bool:
        delete = _limited(info, "password", {"password"}, services.delete_account)
        await sync_to_async(delete)(require_user(info), password)
        return True

    @strawberry.mutation(
        description="idempotent: adding twice keeps one favorite", extensions=[IsAuthenticated()]
    )
    async def add_favorite(
        self,
        info: Info,
        movie_id: MovieId,
        note: Annotated[
            str | None, strawberry.argument(description="Up to 500 characters; replaces the stored note.")
        ] = None,
    ) -> Favorite:
        favorite = await sync_to_async(services.add_favorite)(require_user(info), movie_id, note)
        viewer_loaders.forget(info)
        return favorite  # type: ignore[return-value]

    @strawberry.mutation(description="False if it was not a favorite.", extensions=[IsAuthenticated()])
    async def remove_favorite(self, info: Info, movie_id: MovieId) -> bool:
        return await _remove(info, models.Favorite, movie_id)

    @strawberry.mutation(description="Idempotent, like addFavorite.", extensions=[IsAuthenticated()])
    async def add_to_watchlist(self, info: Info, movie_id: MovieId) -> WatchlistEntry:
        entry = await sync_to_async(services.add_to_watchlist)(require_user(info), movie_id)
        viewer_loaders.forget(info)
        return entry  # type: ignore[return-value]

    @strawberry.mutation(description="False if it was not on the watchlist.", extensions=[IsAuthenticated()])
    async def remove_from_watchlist(self, info: Info, movie_id: MovieId) -> bool:
        return await _remove(info, models.WatchlistEntry, movie_id)

    @strawberry.mutation(
        description="0.5 to 5.0 in steps of 0.5; rating again replaces the score.",
        extensions=[IsAuthenticated()],
    )
    async def rate_movie(
        self,
        info: Info,
        movie_id: MovieId,
        score: Annotated[float, strawberry.argument(description="0.5 to 5.0 in steps of 0.5.")],
    ) -> Rating:
        rating = await sync_to_async(services.rate)(require_user(info), movie_id, score)
        viewer_loaders.forget(info)
        return rating  # type: ignore[return-value]

    @strawberry.mutation(description="False if the movie was not rated.", extensions=[IsAuthenticated()])
    async def delete_rating(self, info: Info, movie_id: MovieId) -> bool:
        return await _remove(info, models.Rating, movie_id)

    @strawberry.mutation(
        description="not interested: never recommended to this user again; a negative signal",
        extensions=[IsAuthenticated()],
    )
    async def dismiss_recommendation(self, info: Info, movie_id: MovieId) -> bool:
        return await sync_to_async(services.dismiss)(require_user(info), movie_id)

    @strawberry.mutation(
        description="takes a dismissal back; false when there was none", extensions=[IsAuthenticated()]
    )
    async def undo_dismiss_recommendation(self, info: Info, movie_id: MovieId) -> bool:
        return await sync_to_async(services.undo_dismiss)(require_user(info), movie_id)

    @strawberry.mutation(description="Changes only the fields given.", extensions=[IsAuthenticated()])
    async def update_preferences(
        self, info: Info, input: Annotated[PreferencesInput, strawberry.argument(description="The changes.")]
    ) -> Preferences:
        changes: dict[str, Any] = {
            name: value for name, value in vars(input).items() if value is not strawberry.UNSET
        }
        return await sync_to_async(services.update_preferences)(require_user(info), changes)  # type: ignore[return-value]


def _limited(info: Info, action: str, fields: set[str], operation: Callable[..., T]) -> Callable[..., T]:
    """``operation`` (taking the user first) under the viewer's ``action`` budget; an InvalidInput
    on one of ``fields`` (a wrong password, a taken email) counts as a failure."""

    def run(user: models.User, *args: Any) -> T:
        request = info.context.request
        ratelimit.attempt(request, action, str(user.pk))
        try:
            return operation(user, *args)
        except InvalidInput as error:
            if error.details.get("field") in fields:
                ratelimit.failure(request, action, str(user.pk))
            raise

    return run


async def _remove(info: Info, model: Any, movie_id: int) -> bool:
    removed = await sync_to_async(services.remove)(require_user(info), model, movie_id)
    viewer_loaders.forget(info)
    return removed
