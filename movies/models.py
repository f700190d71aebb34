"""The local catalog: the embedded default source, TMDb's cached copy, and the recommender's pool."""

from __future__ import annotations

from django.db import models

from movies.records import (
    CastCreditRecord,
    CompanyRecord,
    CrewCreditRecord,
    GenreRecord,
    MovieDetails,
    MovieRecord,
    PersonDetails,
    PersonRecord,
)

# Columns a list page needs; detail columns stay on disk until asked for.
LIST_COLUMNS = (
    "id",
    "title",
    "original_title",
    "original_language",
    "overview",
    "release_date",
    "vote_average",
    "vote_count",
    "popularity",
    "adult",
    "poster_path",
    "backdrop_path",
    "genre_ids",
)


class Genre(models.Model):
    """A TMDb genre; the primary key is TMDb's genre id."""

    id = models.PositiveIntegerField(primary_key=True)
    name = models.CharField(max_length=64)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def to_record(self) -> GenreRecord:
        return GenreRecord(id=self.id, name=self.name)


class Company(models.Model):
    """A production company; the primary key is TMDb's company id."""

    id = models.PositiveIntegerField(primary_key=True)
    name = models.CharField(max_length=200)
    logo_path = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name


class Movie(models.Model):
    """A movie; the primary key is TMDb's movie id, as everywhere in the API."""

    id = models.PositiveIntegerField(primary_key=True)
    title = models.CharField(max_length=300)
    original_title = models.CharField(max_length=300, blank=True, default="")
    original_language = models.CharField(max_length=8, blank=True, default="")
    overview = models.TextField(blank=True, default="")
    release_date = models.DateField(null=True, blank=True)
    vote_average = models.FloatField(null=True, blank=True)
    vote_count = models.PositiveIntegerField(null=True, blank=True)
    popularity = models.FloatField(null=True, blank=True)
    adult = models.BooleanField(default=False)
    poster_path = models.CharField(max_length=200, blank=True, default="")
    backdrop_path = models.CharField(max_length=200, blank=True, default="")
    # Kept denormalised as well as in the M2M: reads build records without a join.
    genre_ids = models.JSONField(default=list, blank=True)
    genres = models.ManyToManyField(Genre, related_name="movies", blank=True)

    # Detail fields; has_details says whether they were ever fetched.
    has_details = models.BooleanField(default=False)
    tagline = models.CharField(max_length=500, blank=True, default="")
    runtime = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=32, blank=True, default="")
    imdb_id = models.CharField(max_length=16, blank=True, default="")
    homepage = models.URLField(max_length=500, blank=True, default="")
    budget = models.BigIntegerField(null=True, blank=True)
    revenue = models.BigIntegerField(null=True, blank=True)
    keywords = models.JSONField(default=list, blank=True)
    # Companies kept denormalised ([{id, name, logo_path}], in TMDb's order) as
    # well as in the M2M, as genres are: a details read needs no join.
    production_companies = models.JSONField(default=list, blank=True)
    companies = models.ManyToManyField(Company, related_name="movies", blank=True)
    production_countries = models.JSONField(default=list, blank=True)
    spoken_languages = models.JSONField(default=list, blank=True)

    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-popularity", "id")
        indexes = [
            models.Index(fields=["-popularity"], name="movie_popularity_idx"),
            models.Index(fields=["-vote_average", "vote_count"], name="movie_vote_idx"),
            models.Index(fields=["-release_date"], name="movie_release_idx"),
            models.Index(fields=["original_language"], name="movie_language_idx"),
            models.Index(fields=["-revenue"], name="movie_revenue_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def to_record(self) -> MovieRecord:
        return MovieRecord(
            id=self.id,
            title=self.title,
            original_title=self.original_title or None,
            original_language=self.original_language or None,
            overview=self.overview or None,
            release_date=self.release_date,
            vote_average=self.vote_average,
            vote_count=self.vote_count,
            popularity=self.popularity,
            adult=self.adult,
            poster_path=self.poster_path or None,
            backdrop_path=self.backdrop_path or None,
            genre_ids=tuple(self.genre_ids or ()),
        )

    def to_details(self) -> MovieDetails:
        return MovieDetails(
            tagline=self.tagline or None,
            runtime=self.runtime,
            status=self.status or None,
            imdb_id=self.imdb_id or None,
            homepage=self.homepage or None,
            budget=self.budget,
            revenue=self.revenue,
            keywords=tuple(self.keywords or ()),
            production_companies=tuple(
                CompanyRecord.from_dict(item) for item in self.production_companies or ()
            ),
            production_countries=tuple(self.production_countries or ()),
            spoken_languages=tuple(self.spoken_languages or ()),
        )

    @staticmethod
    def fields_from(record: MovieRecord, details: MovieDetails | None = None) -> dict[str, object]:
        """Column values for a record (and its details, when known), for bulk upserts."""
        values: dict[str, object] = {
            "title": record.title,
            "original_title": record.original_title or "",
            "original_language": record.original_language or "",
            "overview": record.overview or "",
            "release_date": record.release_date,
            "vote_average": record.vote_average,
            "vote_count": record.vote_count,
            "popularity": record.popularity,
            "adult": record.adult,
            "poster_path": record.poster_path or "",
            "backdrop_path": record.backdrop_path or "",
            "genre_ids": list(record.genre_ids),
        }
        if details is not None:
            values.update(
                has_details=True,
                tagline=details.tagline or "",
                runtime=details.runtime,
                status=details.status or "",
                imdb_id=details.imdb_id or "",
                homepage=details.homepage or "",
                budget=details.budget,
                revenue=details.revenue,
                keywords=list(details.keywords),
                production_companies=[company.to_dict() for company in details.production_companies],
                production_countries=list(details.production_countries),
                spoken_languages=list(details.spoken_languages),
            )
        return values


class Person(models.Model):
    """A person credited on a movie; the primary key is TMDb's person id."""

    id = models.PositiveIntegerField(primary_key=True)
    name = models.CharField(max_length=200)
    known_for_department = models.CharField(max_length=64, blank=True, default="")
    profile_path = models.CharField(max_length=200, blank=True, default="")
    popularity = models.FloatField(null=True, blank=True)
    biography = models.TextField(blank=True, default="")
    birthday = models.DateField(null=True, blank=True)
    place_of_birth = models.CharField(max_length=300, blank=True, default="")
    # How many credits the person has in our catalog: what ranks people with
    # equally good name matches when no popularity is known.
    credit_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("name", "id")
        indexes = [models.Index(fields=["-credit_count"], name="person_credit_count_idx")]

    def __str__(self) -> str:
        return self.name

    def to_record(self) -> PersonRecord:
        return PersonRecord(
            id=self.id,
            name=self.name,
            known_for_department=self.known_for_department or None,
            profile_path=self.profile_path or None,
            popularity=self.popularity,
        )

    def to_details(self) -> PersonDetails:
        return PersonDetails(
            biography=self.biography or None,
            birthday=self.birthday,
            place_of_birth=self.place_of_birth or None,
        )


class Credit(models.Model):
    """One cast role or crew job of a person on a movie.

    Cast and crew share one table so a page's credits are one query. ``order``
    is the billing order for cast and the source's order for crew.
    """

    CAST, CREW = "cast", "crew"

    movie = models.ForeignKey(Movie, on_delete=models.CASCADE, related_name="credits")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="credits")
    kind = models.CharField(max_length=4, choices=[(CAST, "cast"), (CREW, "crew")])
    order = models.PositiveSmallIntegerField(default=0)
    character = models.CharField(max_length=300, blank=True, default="")
    job = models.CharField(max_length=64, blank=True, default="")
    department = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ("movie", "kind", "order", "id")
        indexes = [
            models.Index(fields=["movie", "kind", "order"], name="credit_movie_idx"),
            # "Films of this person" and discover's withPeopleIds.
            models.Index(fields=["person", "movie"], name="credit_person_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} on {self.movie_id} ({self.job or self.kind})"

    def to_cast(self) -> CastCreditRecord:
        return CastCreditRecord(self.person.to_record(), self.character or None, self.order)

    def to_crew(self) -> CrewCreditRecord:
        return CrewCreditRecord(self.person.to_record(), self.job, self.department)


class MovieActivity(models.Model):
    """Our users' favorites, ratings and watchlist entries of one movie on one day (UTC).

    Kept as interactions happen (``movies.catalog.activity``), each counted on
    the day of its own timestamp, so trending over a window reads at most one
    row per movie and day of the window, never the interactions themselves.
    """

    movie_id = models.PositiveIntegerField()
    day = models.DateField()
    favorites = models.IntegerField(default=0, db_default=0)
    ratings = models.IntegerField(default=0, db_default=0)
    watchlist = models.IntegerField(default=0, db_default=0)

    class Meta:
        verbose_name_plural = "movie activity"
        constraints = [models.UniqueConstraint(fields=["day", "movie_id"], name="movie_activity_day_movie")]
        # PostgreSQL answers a window from this index alone (elsewhere it is a plain index on day).
        indexes = [
            models.Index(
                fields=["day"],
                include=["movie_id", "favorites", "ratings", "watchlist"],
                name="movie_activity_window",
            )
        ]

    def __str__(self) -> str:
        return f"movie {self.movie_id} on {self.day}"


class RecommenderModel(models.Model):
    """One published version of the collaborative model; every server serves the newest.

    The model file (``ItemItemModel.dumps``) is in ``data``, or in the
    configured storage under ``storage_name`` (RECOMMENDER_STORAGE_BACKEND).
    """

    created_at = models.DateTimeField(auto_now_add=True)
    data = models.BinaryField(null=True, blank=True)
    storage_name = models.CharField(max_length=300, blank=True, default="")
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    # Training facts: users, movies, interactions, seconds, and the activity baseline for retraining.
    meta = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"recommender model v{self.pk}"
