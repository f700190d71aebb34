"""MovieLens loaded into the real models, so evaluation can score what the API serves.

One account per MovieLens user (username ``movielens-<user id>``, an unusable
password), every rating a ``Rating`` row with its original time (``created_at``
and ``updated_at``: the time activity counts on), and, by a mapping this module
defines, a 5-star rating (``FAVORITE_MIN_RATING``) also a ``Favorite`` created
at the same moment (the collaborative weight of both is 1, so the mapping does
not change the model's input; it puts real favorites in the data as users make
them). Each account's favorite genres are its ``FAVORITE_GENRES`` most frequent
genres among its loaded positives (rated 4 or more): MovieLens has no
preferences, and a user who sets some would plausibly pick those.

Catalogs:

- ml-latest-small: the bundled catalog (TMDb films, credits and all), joined
  through ``links.csv``; ratings of films outside it are dropped; when two
  MovieLens ids map to one film, the user's later rating of it wins.
- ml-100k: its 1,682 items become the catalog (``u.item``: title, release date,
  genre flags mapped to TMDb's genres), replacing whatever catalog the database
  held: a title-and-year join reaches only 334 of them (44% of the ratings).
  ml-100k has no TMDb statistics, so each film's ``vote_count`` and
  ``popularity`` are its number of loaded ratings and ``vote_average`` twice
  their mean (1-5 stars to 2-10): what the crowd whose ratings are loaded says,
  as TMDb's figures are what TMDb's crowd says. Load only training rows and the
  test rows never reach them.

Writes go in by COPY (signals skipped), then the per-day activity counts are
rebuilt from the rows' own times, as for any import. Meant for a database of
its own (``DATABASE_URL``): loading ml-100k replaces the catalog.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction

from backend.bulk import copy_rows
from movies.catalog import activity
from movies.catalog.importer import read_catalog
from movies.models import Genre, Movie
from movies.recommender.offline.evaluation import (
    Ratings,
    load_links,
    load_ml100k,
    load_ml_latest_small,
    shared_data_dir,
)

DATASETS = ("ml-100k", "ml-latest-small")
USERNAME_PREFIX = "movielens-"
FAVORITE_MIN_RATING = 5.0
POSITIVE_MIN_RATING = 4.0
FAVORITE_GENRES = 2
# u.item's genre flags in file order, and the TMDb genre each is (None: TMDb has none).
ML100K_GENRES = (
    ("unknown", None),
    ("Action", "Action"),
    ("Adventure", "Adventure"),
    ("Animation", "Animation"),
    ("Children's", "Family"),
    ("Comedy", "Comedy"),
    ("Crime", "Crime"),
    ("Documentary", "Documentary"),
    ("Drama", "Drama"),
    ("Fantasy", "Fantasy"),
    ("Film-Noir", None),
    ("Horror", "Horror"),
    ("Musical", "Music"),
    ("Mystery", "Mystery"),
    ("Romance", "Romance"),
    ("Sci-Fi", "Science Fiction"),
    ("Thriller", "Thriller"),
    ("War", "War"),
    ("Western", "Western"),
)


@dataclass(frozen=True)
class Loaded:
    """What one load wrote: MovieLens user id -> account id, and the counts."""

    dataset: str
    account_of: dict[int, int]
    ratings: int
    favorites: int
    seconds: float


def dataset_path(dataset: str, path: str | Path | None = None) -> Path:
    """The data set's folder: ``path`` or ``../shared/data/movielens/<dataset>``."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown data set {dataset!r} (one of {', '.join(DATASETS)})")
    return Path(path) if path else shared_data_dir() / "movielens" / dataset


def dataset_ratings(dataset: str, path: str | Path | None = None) -> Ratings:
    """The data set's ratings with ``items`` as catalog movie ids (see the module docstring).

    ml-latest-small keeps only films of the bundled catalog; ml-100k's item ids are its movie ids.
    """
    folder = dataset_path(dataset, path)
    if dataset == "ml-100k":
        return load_ml100k(folder)
    ratings = load_ml_latest_small(folder)
    links = load_links(folder)
    catalog = np.array(sorted(movie.id for movie, _ in read_catalog().movies), np.int64)
    movie = np.array([links.get(int(item), -1) for item in ratings.items.tolist()], np.int64)
    rows = np.flatnonzero(np.isin(movie, catalog))
    latest: dict[tuple[int, int], int] = {}
    for row in rows.tolist():
        key = (int(ratings.users[row]), int(movie[row]))
        if key not in latest or ratings.timestamps[row] >= ratings.timestamps[latest[key]]:
            latest[key] = row
    kept = np.array(sorted(latest.values()), np.int64)
    out = ratings.subset(kept)
    out.items = movie[kept]
    return out


def load_into_models(dataset: str, ratings: Ratings, path: str | Path | None = None) -> Loaded:
    """Replaces the previous MovieLens accounts with ``ratings`` (from :func:`dataset_ratings`).

    Makes sure the database holds the data set's catalog first; rebuilds the activity counts.
    """
    started = time.perf_counter()
    folder = dataset_path(dataset, path)
    remove_accounts()
    if dataset == "ml-100k":
        _load_ml100k_catalog(folder, ratings)
    else:
        _ensure_bundled_catalog()
    User = get_user_model()
    user_ids = np.unique(ratings.users).tolist()
    accounts = User.objects.bulk_create(
        [
            User(username=f"{USERNAME_PREFIX}{user}", email=f"movielens-{user}@example.com", password="!")
            for user in user_ids
        ],
        batch_size=5000,
    )
    account_of = {user: account.pk for user, account in zip(user_ids, accounts, strict=True)}
    moments = [datetime.fromtimestamp(int(stamp), UTC) for stamp in ratings.timestamps.tolist()]
    rating_rows = []
    favorite_rows = []
    for user, movie, score, moment in zip(
        ratings.users.tolist(), ratings.items.tolist(), ratings.ratings.tolist(), moments, strict=True
    ):
        account = account_of[user]
        rating_rows.append((account, movie, Decimal(str(score)), moment, moment))
        if score >= FAVORITE_MIN_RATING:
            favorite_rows.append((account, movie, "", moment))
    with transaction.atomic():
        copy_rows(
            "accounts_rating", ("user_id", "movie_id", "score", "created_at", "updated_at"), rating_rows
        )
        copy_rows("accounts_favorite", ("user_id", "movie_id", "note", "created_at"), favorite_rows)
        _favorite_genres(ratings, account_of)
    activity.rebuild()
    return Loaded(dataset, account_of, len(rating_rows), len(favorite_rows), time.perf_counter() - started)


def remove_accounts() -> int:
    """Deletes every MovieLens account and its rows; returns how many accounts went."""
    User = get_user_model()
    accounts = User.objects.filter(username__startswith=USERNAME_PREFIX)
    ids = accounts.values("id")
    with transaction.atomic():
        # The large tables first, without the per-row signals a cascade would send.
        for name in ("Rating", "Favorite", "WatchlistEntry"):
            model = apps.get_model("accounts", name)
            model.objects.filter(user_id__in=ids)._raw_delete(model.objects.db)
        removed, _ = accounts.delete()
    return removed


def _favorite_genres(ratings: Ratings, account_of: dict[int, int]) -> None:
    Preferences = apps.get_model("accounts", "Preferences")
    genres_of = dict(Movie.objects.values_list("id", "genre_ids"))
    counts: dict[int, Counter[int]] = {}
    positive = ratings.ratings >= POSITIVE_MIN_RATING
    for user, movie in zip(ratings.users[positive].tolist(), ratings.items[positive].tolist(), strict=True):
        counts.setdefault(user, Counter()).update(genres_of.get(movie) or ())
    favorites = {
        user: [
            genre for genre, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:FAVORITE_GENRES]
        ]
        for user, counter in counts.items()
        if counter
    }
    prefs = Preferences.objects.bulk_create(
        [Preferences(user_id=account_of[user]) for user in favorites], batch_size=5000
    )
    through = Preferences.favorite_genres.through
    through.objects.bulk_create(
        [
            through(preferences_id=pref.pk, genre_id=genre)
            for pref, genres in zip(prefs, favorites.values(), strict=True)
            for genre in genres
        ],
        batch_size=5000,
    )


def _clear_catalog() -> None:
    # The ORM's cascade: credits, genre links and activity rows go with their films.
    Movie.objects.all().delete()


def _ensure_bundled_catalog() -> None:
    bundled = {movie.id for movie, _ in read_catalog().movies}
    if set(Movie.objects.values_list("id", flat=True)) != bundled:
        _clear_catalog()
        call_command("load_catalog", verbosity=0)


def _ml100k_items(folder: Path) -> list[tuple[int, str, date | None, list[str]]]:
    items = []
    with (folder / "u.item").open(encoding="latin-1") as handle:
        for line in handle:
            fields = line.rstrip("\n").split("|")
            if len(fields) < 5 + len(ML100K_GENRES):
                continue
            title = re.sub(r"\s*\(\d{4}\)\s*$", "", fields[1]).strip() or fields[1]
            released = datetime.strptime(fields[2], "%d-%b-%Y").date() if fields[2] else None
            flags = fields[5 : 5 + len(ML100K_GENRES)]
            genres = [
                tmdb for (_, tmdb), flag in zip(ML100K_GENRES, flags, strict=True) if flag == "1" and tmdb
            ]
            items.append((int(fields[0]), title, released, genres))
    return items


def _load_ml100k_catalog(folder: Path, ratings: Ratings) -> None:
    if not Genre.objects.exists():
        call_command("load_catalog", verbosity=0)  # the genres, named as TMDb names them
    genre_id = {name: pk for pk, name in Genre.objects.values_list("id", "name")}
    counts = Counter(ratings.items.tolist())
    sums: Counter[int] = Counter()
    for item, score in zip(ratings.items.tolist(), ratings.ratings.tolist(), strict=True):
        sums[item] += score
    movies = []
    for item, title, released, genres in _ml100k_items(folder):
        n = counts.get(item, 0)
        movies.append(
            Movie(
                id=item,
                title=title,
                original_title=title,
                original_language="en",
                release_date=released,
                vote_average=round(2.0 * sums[item] / n, 2) if n else None,
                vote_count=n,
                popularity=float(n),
                genre_ids=[genre_id[name] for name in genres if name in genre_id],
            )
        )
    with transaction.atomic():
        _clear_catalog()
        Movie.objects.bulk_create(movies, batch_size=2000)
        through = Movie.genres.through
        through.objects.bulk_create(
            [through(movie_id=movie.id, genre_id=genre) for movie in movies for genre in movie.genre_ids],
            batch_size=5000,
        )
