"""Writes catalog records into the local Movie and Genre tables (bulk upserts).

Used by the catalog import command and by the TMDb source, whose movies are
kept locally so favorites and recommendations keep working when TMDb is down.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import transaction

from movies.models import Genre, Movie
from movies.records import GenreRecord, MovieDetails, MovieRecord

BATCH_SIZE = 500
_LIST_FIELDS = list(Movie.fields_from(MovieRecord(id=0, title="")))
_ALL_FIELDS = list(Movie.fields_from(MovieRecord(id=0, title=""), MovieDetails()))


def upsert_genres(genres: Iterable[GenreRecord]) -> int:
    """Creates or renames genres; returns how many were written."""
    rows = [Genre(id=genre.id, name=genre.name) for genre in genres]
    Genre.objects.bulk_create(rows, update_conflicts=True, unique_fields=["id"], update_fields=["name"])
    return len(rows)


def upsert_movies(entries: Sequence[tuple[MovieRecord, MovieDetails | None]]) -> int:
    """Creates or updates movies and their genre links; returns how many were written.

    Entries without details leave stored detail columns as they were.
    """
    with_details = [(record, details) for record, details in entries if details is not None]
    without_details = [(record, None) for record, details in entries if details is None]
    known_genres = set(Genre.objects.values_list("id", flat=True))
    with transaction.atomic():
        for batch, fields in ((with_details, _ALL_FIELDS), (without_details, _LIST_FIELDS)):
            for start in range(0, len(batch), BATCH_SIZE):
                chunk = batch[start : start + BATCH_SIZE]
                Movie.objects.bulk_create(
                    [Movie(id=record.id, **Movie.fields_from(record, details)) for record, details in chunk],
                    update_conflicts=True,
                    unique_fields=["id"],
                    update_fields=fields,
                )
        through = Movie.genres.through
        movie_ids = [record.id for record, _ in entries]
        through.objects.filter(movie_id__in=movie_ids).delete()
        through.objects.bulk_create(
            [
                through(movie_id=record.id, genre_id=genre_id)
                for record, _ in entries
                for genre_id in record.genre_ids
                if genre_id in known_genres
            ],
            batch_size=BATCH_SIZE,
            # Two workers storing the same movie at once must not fail on each other's links.
            ignore_conflicts=True,
        )
    return len(entries)
