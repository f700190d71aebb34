"""Writes catalog records into the local tables (bulk upserts).

Used by the catalog import command and by the TMDb source, whose movies are
kept locally so favorites and recommendations keep working when TMDb is down.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from django.db import connection, transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from movies.models import Company, Credit, Genre, Movie, Person
from movies.records import CompanyRecord, GenreRecord, MovieCredits, MovieDetails, MovieRecord, PersonRecord

BATCH_SIZE = 500
_LIST_FIELDS = list(Movie.fields_from(MovieRecord(id=0, title="")))
_ALL_FIELDS = list(Movie.fields_from(MovieRecord(id=0, title=""), MovieDetails()))


def upsert_genres(genres: Iterable[GenreRecord]) -> int:
    """Creates or renames genres; returns how many were written."""
    rows = [Genre(id=genre.id, name=genre.name) for genre in genres]
    Genre.objects.bulk_create(rows, update_conflicts=True, unique_fields=["id"], update_fields=["name"])
    return len(rows)


def upsert_companies(companies: Iterable[CompanyRecord]) -> int:
    """Creates or renames companies; returns how many were written."""
    rows = list(
        {
            company.id: Company(id=company.id, name=company.name, logo_path=company.logo_path or "")
            for company in companies
        }.values()
    )
    Company.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=["name", "logo_path"],
        batch_size=BATCH_SIZE,
    )
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
        _link_companies(with_details)
    return len(entries)


def _link_companies(entries: Sequence[tuple[MovieRecord, MovieDetails | None]]) -> None:
    """The company M2M of movies whose details we have, as their details name them."""
    if not entries:
        return
    upsert_companies(company for _, details in entries if details for company in details.production_companies)
    through = Movie.companies.through
    through.objects.filter(movie_id__in=[record.id for record, _ in entries]).delete()
    through.objects.bulk_create(
        list(
            {
                (record.id, company.id): through(movie_id=record.id, company_id=company.id)
                for record, details in entries
                if details
                for company in details.production_companies
            }.values()
        ),
        batch_size=BATCH_SIZE,
    )


def upsert_people(people: Iterable[PersonRecord]) -> int:
    """Creates or updates people's list fields (their detail columns are left as they were)."""
    rows = list(
        {
            person.id: Person(
                id=person.id,
                name=person.name,
                known_for_department=person.known_for_department or "",
                profile_path=person.profile_path or "",
                popularity=person.popularity,
            )
            for person in people
        }.values()
    )
    Person.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["id"],
        update_fields=["name", "known_for_department", "profile_path", "popularity"],
        batch_size=BATCH_SIZE,
    )
    return len(rows)


def replace_credits(credits: Mapping[int, MovieCredits]) -> int:
    """Makes these movies' stored credits exactly ``credits`` (their people upserted first).

    Returns how many credit rows were written. Each person's ``credit_count``
    is recounted, so people search can rank by it. The rows go in through
    ``executemany``: the bundled catalog has 71,000 of them, and building a
    model instance for each costs the import most of its time.
    """
    people = [credit.person for movie in credits.values() for credit in (*movie.cast, *movie.crew)]
    rows = [
        (movie_id, credit.person.id, Credit.CAST, credit.order, credit.character or "", "", "")
        for movie_id, movie in credits.items()
        for credit in movie.cast
    ] + [
        (movie_id, credit.person.id, Credit.CREW, position, "", credit.job, credit.department)
        for movie_id, movie in credits.items()
        for position, credit in enumerate(movie.crew)
    ]
    columns = ("movie_id", "person_id", "kind", "order", "character", "job", "department")
    quote = connection.ops.quote_name
    insert = (
        f"INSERT INTO {quote(Credit._meta.db_table)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    movie_ids = list(credits)
    with transaction.atomic():
        before: set[int] = set()
        for start in range(0, len(movie_ids), BATCH_SIZE):
            chunk = movie_ids[start : start + BATCH_SIZE]
            before.update(Credit.objects.filter(movie_id__in=chunk).values_list("person_id", flat=True))
            Credit.objects.filter(movie_id__in=chunk).delete()
        upsert_people(people)
        with connection.cursor() as cursor:
            for start in range(0, len(rows), BATCH_SIZE * 10):
                cursor.executemany(insert, rows[start : start + BATCH_SIZE * 10])
        _recount(before | {person.id for person in people})
    return len(rows)


def _recount(person_ids: set[int]) -> None:
    counts = (
        Credit.objects.filter(person_id=OuterRef("pk")).order_by().values("person_id").annotate(n=Count("id"))
    )
    ids = sorted(person_ids)
    for start in range(0, len(ids), BATCH_SIZE * 10):
        Person.objects.filter(id__in=ids[start : start + BATCH_SIZE * 10]).update(
            credit_count=Coalesce(Subquery(counts.values("n")), 0)
        )
