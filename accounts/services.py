"""Account and user-list operations, synchronous (the GraphQL layer runs them off the event loop).

Every write that changes what a user likes drops that user's cached
recommendations (``accounts.signals``, so admin edits count too).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth import password_validation
from django.contrib.auth.hashers import make_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from accounts import tokens
from accounts.models import Favorite, Preferences, Rating, User, WatchlistEntry, account_key
from backend.errors import InvalidInput, NotAuthenticated, NotFound, TemporarilyUnavailable
from movies.catalog import reads
from movies.catalog.languages import ISO_639_1
from movies.catalog.store import upsert_genres
from movies.models import Genre
from movies.records import MAX_YEAR, MIN_YEAR, GenreRecord

INVALID_CREDENTIALS = "Invalid username/email or password."
MAX_NOTE = 500
MAX_NAME = 150
# Accounts SQL's case-insensitive match may find for one name (``vic`` and its dotless-i twin both match ``VIC``).
MAX_CANDIDATES = 10
# Tries of a list write that keeps losing races with removals of the same row.
WRITE_RACE_ATTEMPTS = 5


def _messages(error: ValidationError) -> str:
    return " ".join(error.messages)


def _clean_email(email: str, exclude_user: User | None = None) -> str:
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError as error:
        raise InvalidInput("Enter a valid email address.", field="email") from error
    taken = User.objects.filter(email__iexact=email)
    if exclude_user is not None:
        taken = taken.exclude(pk=exclude_user.pk)
    if taken.exists():
        raise InvalidInput("An account with this email already exists.", field="email")
    return email


def _clean_name(value: str | None, field: str) -> str:
    value = (value or "").strip()
    if len(value) > MAX_NAME:
        raise InvalidInput(f"{field} must be at most {MAX_NAME} characters.", field=field)
    return value


def _check_password(password: str, user: User, field: str = "password") -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as error:
        raise InvalidInput(_messages(error), field=field) from error


def register(username: str, email: str, password: str, first_name: str | None, last_name: str | None) -> User:
    """Creates an account; username and email are unique whatever their case."""
    username = username.strip()
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError as error:
        raise InvalidInput(_messages(error), field="username") from error
    if "@" in username:
        # tokenAuth reads a name with "@" as an email address.
        raise InvalidInput("username must not contain '@'.", field="username")
    if not username or len(username) > MAX_NAME:
        raise InvalidInput(f"username must be 1 to {MAX_NAME} characters.", field="username")
    if User.objects.filter(username__iexact=username).exists():
        raise InvalidInput("This username is taken.", field="username")
    user = User(
        username=username,
        email=_clean_email(email),
        first_name=_clean_name(first_name, "firstName"),
        last_name=_clean_name(last_name, "lastName"),
    )
    _check_password(password, user)
    user.set_password(password)
    try:
        user.save()
    except IntegrityError as error:
        # Two registrations raced past the checks above; the database kept one.
        raise InvalidInput("This username or email is taken.") from error
    return user


def find_account(username_or_email: str) -> User | None:
    """The account a login names, by username or (with an '@') by email, whatever the case.

    Names match by ``account_key`` (NFKC + casefold), the key the attempt limits count by;
    SQL's case-insensitive match only narrows the candidates, so a spelling it alone
    would accept (a dotless i for an i) finds no account and gets no budget of its own."""
    name = username_or_email.strip()
    field = "email" if "@" in name else "username"
    key = account_key(name)
    candidates = User.objects.filter(**{f"{field}__iexact": name}).order_by("pk")[:MAX_CANDIDATES]
    return next((user for user in candidates if account_key(getattr(user, field)) == key), None)


def authenticate(user: User | None, password: str) -> User:
    """The account if it is active and the password is right; the same error otherwise."""
    if user is None or not user.is_active:
        # Hash anyway so response time does not tell which accounts exist.
        make_password(password)
        raise NotAuthenticated(INVALID_CREDENTIALS)
    if not user.check_password(password):
        raise NotAuthenticated(INVALID_CREDENTIALS)
    return user


def update_profile(user: User, email: str | None, first_name: str | None, last_name: str | None) -> User:
    if email is not None:
        user.email = _clean_email(email, exclude_user=user)
    if first_name is not None:
        user.first_name = _clean_name(first_name, "firstName")
    if last_name is not None:
        user.last_name = _clean_name(last_name, "lastName")
    try:
        user.save(update_fields=["email", "first_name", "last_name"])
    except IntegrityError as error:
        raise InvalidInput("An account with this email already exists.", field="email") from error
    return user


def change_password(user: User, old_password: str, new_password: str) -> tokens.TokenPair:
    """Sets a new password, revokes every session (access tokens too) and signs the caller in again."""
    if not user.check_password(old_password):
        raise InvalidInput("The current password is wrong.", field="oldPassword")
    _check_password(new_password, user, field="newPassword")
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        tokens.revoke_all(user.pk)
        # The fresh pair carries the version revoke_all just wrote, so only it survives.
        user.refresh_from_db(fields=["token_version"])
        return tokens.issue(user)


def delete_account(user: User, password: str) -> None:
    """Deletes the account and everything it kept (favorites, watchlist, ratings, preferences)."""
    if not user.check_password(password):
        raise InvalidInput("The password is wrong.", field="password")
    tokens.revoke_all(user.pk)
    user.delete()


def require_movie(movie_id: int) -> None:
    """NOT_FOUND unless the catalog knows the movie (cached, so usually free)."""
    if movie_id not in reads.lookup([movie_id]):
        raise NotFound(f"No movie with id {movie_id}.", movieId=movie_id)


def add_favorite(user: User, movie_id: int, note: str | None) -> Favorite:
    """Idempotent: one row per (user, movie); a given note replaces the stored one."""
    if note is not None and len(note) > MAX_NOTE:
        raise InvalidInput(f"note must be at most {MAX_NOTE} characters.", field="note")
    require_movie(movie_id)
    return _get_or_create(Favorite, user, movie_id, {"note": note.strip()} if note is not None else {})


def add_to_watchlist(user: User, movie_id: int) -> WatchlistEntry:
    require_movie(movie_id)
    return _get_or_create(WatchlistEntry, user, movie_id, {})


def rate(user: User, movie_id: int, score: float) -> Rating:
    if not 0.5 <= score <= 5 or (score * 2) != int(score * 2):
        raise InvalidInput("score must be 0.5 to 5.0 in steps of 0.5.", field="score")
    require_movie(movie_id)
    return _get_or_create(Rating, user, movie_id, {"score": Decimal(str(score))})


def _get_or_create(model: Any, user: User, movie_id: int, values: dict[str, Any]) -> Any:
    """Safe under concurrent duplicates and removals: the unique constraint decides, the loser
    reads the winner. When the winner's row is removed again before the loser reads it,
    get_or_create raises its IntegrityError; the write is simply tried again."""
    for _ in range(WRITE_RACE_ATTEMPTS):
        try:
            with transaction.atomic():
                row, created = model.objects.select_for_update().get_or_create(
                    user=user, movie_id=movie_id, defaults=values
                )
                if not created and values:
                    for name, value in values.items():
                        setattr(row, name, value)
                    row.save()
            return row
        except IntegrityError:
            continue
    # Only a row that keeps vanishing (or an account deleted meanwhile) gets here.
    raise TemporarilyUnavailable("The list changed while it was being written; try again.")


def remove(user: User, model: Any, movie_id: int) -> bool:
    """Removes the user's row for the movie; False if there was none."""
    deleted, _ = model.objects.filter(user=user, movie_id=movie_id).delete()
    return bool(deleted)


def preferences_of(user: User) -> Preferences:
    """The stored preferences, or unsaved defaults if the user never set any."""
    return Preferences.objects.filter(user=user).first() or Preferences(user=user)


def _known_genres(ids: list[int], field: str, genres: list[GenreRecord]) -> list[int]:
    unknown = sorted(set(ids) - {genre.id for genre in genres})
    if unknown:
        raise InvalidInput(f"Unknown genre ids in {field}: {unknown}.", field=field)
    return sorted(set(ids))


def update_preferences(user: User, changes: dict[str, Any]) -> Preferences:
    """Applies the given fields only; the rest keep their stored values.

    The row is locked (or created) first, so two concurrent updates apply one after the other;
    the genre list is read before, so no lock is held across a TMDb call.
    """
    touches_genres = "favorite_genre_ids" in changes or "disliked_genre_ids" in changes
    genres = (reads.genres() or []) if touches_genres else []
    with transaction.atomic():
        prefs, _ = Preferences.objects.select_for_update().get_or_create(user=user)
        _apply_preferences(prefs, changes, genres)
    return prefs


def _apply_preferences(prefs: Preferences, changes: dict[str, Any], genres: list[GenreRecord]) -> None:
    favorite_ids = prefs_ids(prefs, "favorite_genres")
    disliked_ids = prefs_ids(prefs, "disliked_genres")
    if "favorite_genre_ids" in changes:
        favorite_ids = _known_genres(changes["favorite_genre_ids"] or [], "favoriteGenreIds", genres)
    if "disliked_genre_ids" in changes:
        disliked_ids = _known_genres(changes["disliked_genre_ids"] or [], "dislikedGenreIds", genres)
    if set(favorite_ids) & set(disliked_ids):
        raise InvalidInput("A genre cannot be both a favorite and disliked.", field="dislikedGenreIds")
    if "languages" in changes:
        languages = sorted({code.strip().lower() for code in changes["languages"] or []})
        wrong = [code for code in languages if code not in ISO_639_1]
        if wrong:
            raise InvalidInput(f"Not ISO 639-1 language codes: {wrong}.", field="languages")
        prefs.languages = languages
    if "min_vote_average" in changes:
        value = changes["min_vote_average"]
        if value is not None and not 0 <= value <= 10:
            raise InvalidInput("minVoteAverage must be between 0 and 10.", field="minVoteAverage")
        prefs.min_vote_average = value
    for name, field in (("year_from", "yearFrom"), ("year_to", "yearTo")):
        if name in changes:
            value = changes[name]
            if value is not None and not MIN_YEAR <= value <= MAX_YEAR:
                raise InvalidInput(f"{field} must be between {MIN_YEAR} and {MAX_YEAR}.", field=field)
            setattr(prefs, name, value)
    if prefs.year_from is not None and prefs.year_to is not None and prefs.year_from > prefs.year_to:
        raise InvalidInput("yearFrom must not be after yearTo.", field="yearFrom")
    if "include_adult" in changes and changes["include_adult"] is not None:
        prefs.include_adult = changes["include_adult"]
    # TMDb genres may not be in our table yet; the M2M needs the rows.
    missing = set(favorite_ids + disliked_ids) - set(Genre.objects.values_list("id", flat=True))
    if missing:
        upsert_genres(genre for genre in genres if genre.id in missing)
    prefs.save()
    prefs.favorite_genres.set(favorite_ids)
    prefs.disliked_genres.set(disliked_ids)


def prefs_ids(prefs: Preferences, relation: str) -> list[int]:
    if prefs.pk is None:
        return []
    return sorted(getattr(prefs, relation).values_list("id", flat=True))


# What the viewer keeps of some movies: one query each, whatever the number of movies.
VIEWER_LISTS: dict[str, Any] = {"favorite": Favorite, "watchlist": WatchlistEntry}


def listed_among(kind: str, user_id: int, movie_ids: list[int]) -> set[int]:
    """Which of ``movie_ids`` are on the user's ``kind`` list (``favorite`` or ``watchlist``)."""
    query = VIEWER_LISTS[kind].objects.filter(user_id=user_id, movie_id__in=movie_ids)
    return set(query.values_list("movie_id", flat=True))


def ratings_among(user_id: int, movie_ids: list[int]) -> dict[int, float]:
    """The user's scores of those of ``movie_ids`` they rated."""
    query = Rating.objects.filter(user_id=user_id, movie_id__in=movie_ids).values_list("movie_id", "score")
    return {movie_id: float(score) for movie_id, score in query}


def viewer_state(user_id: int, movie_ids: list[int], kinds: set[str]) -> dict[str, Any]:
    """``listed_among``/``ratings_among`` for each of ``kinds`` (favorite, watchlist, rating), one query each."""
    return {
        kind: ratings_among(user_id, movie_ids)
        if kind == "rating"
        else listed_among(kind, user_id, movie_ids)
        for kind in kinds
    }
