"""The local catalog: movies and genres in our own database.

The embedded default (no TMDb key needed) and the recommender's candidate
pool. Its lists mirror TMDb's with local meanings (README, "Local catalog").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, FloatField, Max, Q, QuerySet
from django.db.models.functions import Cast, Coalesce, Ln
from django.utils import timezone

from movies.catalog import fuzzy
from movies.catalog.activity import active_movies, recent_interactions
from movies.catalog.sources.base import MovieEntry, PersonEntry
from movies.models import LIST_COLUMNS, Credit, Genre, Movie, Person
from movies.records import (
    MAX_PAGE,
    PAGE_SIZE,
    DiscoverQuery,
    GenreRecord,
    ListKind,
    MovieCredits,
    MovieRecord,
    PageRecord,
    PersonCastRecord,
    PersonCredits,
    PersonCrewRecord,
    PersonPageRecord,
    newest_first,
)

SORTS = {
    "popularity_desc": (F("popularity").desc(nulls_last=True), "id"),
    "vote_average_desc": (
        F("vote_average").desc(nulls_last=True),
        F("vote_count").desc(nulls_last=True),
        "id",
    ),
    "release_date_desc": (F("release_date").desc(nulls_last=True), "id"),
    "revenue_desc": (F("revenue").desc(nulls_last=True), "id"),
    "title_asc": ("title", "id"),
}
# (movie id, limit) -> ids of the most similar movies, best first.
SimilarIds = Callable[[int, int], list[int]]
NOW_PLAYING_DAYS = 60
UPCOMING_DAYS = 120
# The default reference date sits this far before the newest release, so the
# bundled catalog's "upcoming" list has films too.
REFERENCE_LAG_DAYS = 90
TRENDING_CANDIDATES = 2000
# How much one recent interaction by our users weighs against TMDb popularity
# (normalised to 0..1): a film favorited by a handful of users this week
# climbs well into the first page.
TRENDING_INTERACTION_WEIGHT = 0.2


def paginate(queryset: QuerySet[Movie], page: int) -> PageRecord:
    """A TMDb-shaped page of ``queryset``: two queries (count, slice)."""
    total = queryset.count()
    start = (page - 1) * PAGE_SIZE
    rows = queryset.only(*LIST_COLUMNS)[start : start + PAGE_SIZE] if start < total else []
    return PageRecord(
        page=page,
        total_pages=min(math.ceil(total / PAGE_SIZE), MAX_PAGE),
        total_results=total,
        results=tuple(row.to_record() for row in rows),
    )


def page_of_ids(ordered_ids: Sequence[int], page: int) -> PageRecord:
    """A page over ids already in order (computed rankings)."""
    start = (page - 1) * PAGE_SIZE
    chunk = list(ordered_ids[start : start + PAGE_SIZE])
    rows = Movie.objects.only(*LIST_COLUMNS).in_bulk(chunk) if chunk else {}
    return PageRecord(
        page=page,
        total_pages=min(math.ceil(len(ordered_ids) / PAGE_SIZE), MAX_PAGE),
        total_results=len(ordered_ids),
        results=tuple(rows[movie_id].to_record() for movie_id in chunk if movie_id in rows),
    )


def _page_bounds(total: int, page: int) -> tuple[int, int, int]:
    """(first index, last index + 1, total pages) of a TMDb-style page."""
    start = (page - 1) * PAGE_SIZE
    return start, start + PAGE_SIZE, min(math.ceil(total / PAGE_SIZE), MAX_PAGE)


def _movie_titles() -> fuzzy.NameIndex:
    rows = list(Movie.objects.values_list("id", "title", "original_title", "popularity"))
    prior = fuzzy.prior_of([popularity for *_, popularity in rows])
    entries = [(movie_id, title, float(prior[i])) for i, (movie_id, title, _, _) in enumerate(rows)]
    entries += [
        (movie_id, original, float(prior[i]))
        for i, (movie_id, title, original, _) in enumerate(rows)
        if original and original != title
    ]
    return fuzzy.NameIndex.build(entries)


def _people_names() -> fuzzy.NameIndex:
    rows = list(Person.objects.values_list("id", "name", "credit_count"))
    prior = fuzzy.prior_of([count for *_, count in rows])
    return fuzzy.NameIndex.build(
        [(person_id, name, float(prior[i])) for i, (person_id, name, _) in enumerate(rows)],
        fuzzy.NAME_WEIGHTS,
    )


def _stamp(model: type[Movie] | type[Person]) -> object:
    return tuple(model.objects.aggregate(n=Count("id"), newest=Max("id")).values())


MOVIE_TITLES = fuzzy.KeptIndex(
    lambda: (_stamp(Movie), Movie.objects.aggregate(edited=Max("updated_at"))["edited"]), _movie_titles
)
PEOPLE_NAMES = fuzzy.KeptIndex(
    lambda: (_stamp(Person), Person.objects.aggregate(credits=Max("credit_count"))["credits"]), _people_names
)


# What a popularity prior (0..1 on a log scale) adds to PostgreSQL's text scores:
# enough that, among titles the trigrams cannot tell apart ("dark nite" is
# "dark" and no trigram of "knight"), the film people look for comes first.
DATABASE_PRIOR_WEIGHT = 0.5


def _log_prior(model: type[Movie] | type[Person], field: str) -> Any:
    """``ln(1 + field) / ln(1 + max)``: 0..1, as ``fuzzy.prior_of`` computes it in memory."""
    top = model.objects.aggregate(top=Max(field))["top"] or 0
    value = Coalesce(Cast(field, FloatField()), 0.0)
    return Ln(value + 1.0) / max(math.log1p(top), 1e-9)


def uses_database_search() -> bool:
    """PostgreSQL's full-text and trigram search, unless ``CATALOG_SEARCH`` asks for the in-memory one."""
    return connection.vendor == "postgresql" and settings.CATALOG_SEARCH != "fuzzy"


def _with_all(links: QuerySet[Any], field: str, wanted: Sequence[int]) -> QuerySet[Any]:
    """Ids of movies linked to every one of ``wanted`` through ``links`` (genre or credit rows).

    One IN / GROUP BY / HAVING subquery, whatever their number: a join per id
    made one request run for minutes.
    """
    distinct = set(wanted)
    return (
        links.filter(**{f"{field}__in": distinct})
        .values("movie_id")
        .annotate(matched=Count(field, distinct=True))
        .filter(matched=len(distinct))
        .values("movie_id")
    )


class LocalCatalogSource:
    """Catalog reads from the Movie and Genre tables.

    ``similar_ids`` ranks similar movies; the recommender provides it (wired in
    ``movies.apps``), so the catalog never imports the recommender.
    """

    name = "local"
    # The bundled catalog is English; so are the films TMDb mode stores here.
    localized = False

    def __init__(self, similar_ids: SimilarIds | None = None) -> None:
        self.similar_ids = similar_ids

    def genres(self) -> list[GenreRecord]:
        return [genre.to_record() for genre in Genre.objects.order_by("name")]

    def movie_list(self, kind: ListKind, page: int) -> PageRecord:
        movies = Movie.objects.filter(adult=False)
        if kind in ("trending_day", "trending_week"):
            return page_of_ids(self._trending_order(days=1 if kind == "trending_day" else 7), page)
        if kind == "popular":
            return paginate(movies.order_by(*SORTS["popularity_desc"]), page)
        if kind == "top_rated":
            rated = movies.filter(vote_count__gte=settings.CATALOG_TOP_RATED_MIN_VOTES)
            return paginate(rated.order_by(*SORTS["vote_average_desc"]), page)
        reference = self.reference_date()
        if kind == "now_playing":
            window = Q(
                release_date__gt=reference - timedelta(days=NOW_PLAYING_DAYS), release_date__lte=reference
            )
        else:  # upcoming
            window = Q(
                release_date__gt=reference, release_date__lte=reference + timedelta(days=UPCOMING_DAYS)
            )
        return paginate(movies.filter(window).order_by(*SORTS["popularity_desc"]), page)

    @staticmethod
    def reference_date() -> date:
        """Today for now playing / upcoming: CATALOG_REFERENCE_DATE, else relative to the newest film."""
        if settings.CATALOG_REFERENCE_DATE:
            return date.fromisoformat(settings.CATALOG_REFERENCE_DATE)
        newest = Movie.objects.aggregate(newest=Max("release_date"))["newest"]
        return (newest - timedelta(days=REFERENCE_LAG_DAYS)) if newest else timezone.localdate()

    @staticmethod
    def _trending_order(days: int) -> list[int]:
        """Ids by TMDb popularity blended with our users' interactions in the window (the day counts)."""
        recent = recent_interactions(days)
        # The most popular films and every film with activity in the window, in one query:
        # subqueries rather than a list of ids, whose length would grow with the activity.
        popular = (
            Movie.objects.filter(adult=False)
            .order_by(*SORTS["popularity_desc"])
            .values("id")[:TRENDING_CANDIDATES]
        )
        candidates = dict(
            Movie.objects.filter(adult=False)
            .filter(Q(id__in=popular) | Q(id__in=active_movies(days)))
            .values_list("id", "popularity")
        )
        top = max((p or 0.0 for p in candidates.values()), default=0.0) or 1.0

        def score(movie_id: int) -> float:
            return (candidates[movie_id] or 0.0) / top + TRENDING_INTERACTION_WEIGHT * math.log1p(
                recent.get(movie_id, 0.0)
            )

        return sorted(candidates, key=lambda movie_id: (-score(movie_id), movie_id))

    def lookup(self, ids: Sequence[int]) -> dict[int, MovieEntry]:
        return {
            movie.id: (movie.to_record(), movie.to_details() if movie.has_details else None)
            for movie in Movie.objects.filter(id__in=list(ids))
        }

    def search(self, query: str, year: int | None, page: int) -> PageRecord:
        movies = Movie.objects.filter(adult=False)
        if year is not None:
            movies = movies.filter(release_date__year=year)
        if uses_database_search():
            return paginate(self._ranked_search(movies, query), page)
        matches = MOVIE_TITLES.get().search(query)
        allowed = set(movies.filter(id__in=matches).values_list("id", flat=True)) if matches else set()
        return page_of_ids([movie_id for movie_id in matches if movie_id in allowed], page)

    @staticmethod
    def _ranked_search(movies: QuerySet[Movie], query: str) -> QuerySet[Movie]:
        """Full-text rank plus trigram similarity, so typos still find the film.

        Word similarity finds the query inside a title; whole-title similarity
        then puts the title with nothing more than the query first (The Dark
        Knight before The Dark Knight Rises).
        """
        from django.contrib.postgres.search import (
            SearchQuery,
            SearchRank,
            SearchVector,
            TrigramSimilarity,
            TrigramWordSimilarity,
        )

        vector = SearchVector("title", weight="A", config="english") + SearchVector(
            "overview", weight="D", config="english"
        )
        text = SearchQuery(query, search_type="websearch", config="english")
        return (
            movies.annotate(
                rank=SearchRank(vector, text),
                word_similarity=TrigramWordSimilarity(query, "title"),
                similarity=TrigramSimilarity("title", query),
                prior=_log_prior(Movie, "popularity"),
            )
            .filter(Q(rank__gte=0.05) | Q(word_similarity__gte=0.4))
            .order_by(
                (
                    F("rank")
                    + F("word_similarity") * 2
                    + F("similarity")
                    + F("prior") * DATABASE_PRIOR_WEIGHT
                ).desc(),
                "id",
            )
        )

    def search_people(self, query: str, page: int) -> PersonPageRecord:
        if uses_database_search():
            from django.contrib.postgres.search import TrigramSimilarity, TrigramWordSimilarity

            ranked = (
                Person.objects.annotate(
                    word_similarity=TrigramWordSimilarity(query, "name"),
                    similarity=TrigramSimilarity("name", query),
                    prior=_log_prior(Person, "credit_count"),
                )
                .filter(word_similarity__gte=0.5)
                .order_by(
                    (
                        F("word_similarity") * 2 + F("similarity") * 0.5 + F("prior") * DATABASE_PRIOR_WEIGHT
                    ).desc(),
                    "id",
                )
            )
            total = ranked.count()
            start, end, pages = _page_bounds(total, page)
            rows = list(ranked[start:end]) if start < total else []
        else:
            ids = PEOPLE_NAMES.get().search(query)
            total = len(ids)
            start, end, pages = _page_bounds(total, page)
            found = Person.objects.in_bulk(ids[start:end]) if start < total else {}
            rows = [found[person_id] for person_id in ids[start:end] if person_id in found]
        return PersonPageRecord(
            page=page, total_pages=pages, total_results=total, results=tuple(row.to_record() for row in rows)
        )

    def credits(self, ids: Sequence[int]) -> dict[int, MovieCredits]:
        """One query for every movie's cast and crew (people joined in)."""
        cast: dict[int, list[Credit]] = {movie_id: [] for movie_id in ids}
        crew: dict[int, list[Credit]] = {movie_id: [] for movie_id in ids}
        rows = (
            Credit.objects.filter(movie_id__in=list(ids))
            .select_related("person")
            .order_by("movie_id", "kind", "order", "id")
        )
        for row in rows:
            (cast if row.kind == Credit.CAST else crew)[row.movie_id].append(row)
        return {
            movie_id: MovieCredits(
                cast=tuple(row.to_cast() for row in cast[movie_id]),
                crew=tuple(row.to_crew() for row in crew[movie_id]),
            )
            for movie_id in ids
        }

    def fallback_credits(self, ids: Sequence[int]) -> dict[int, MovieCredits]:
        """Our stored credits, for a source that cannot answer; movies without any are left out."""
        return {movie_id: found for movie_id, found in self.credits(ids).items() if found.cast or found.crew}

    def people(self, ids: Sequence[int]) -> dict[int, PersonEntry]:
        return {
            person.id: (person.to_record(), person.to_details())
            for person in Person.objects.filter(id__in=ids)
        }

    def person_credits(self, ids: Sequence[int]) -> dict[int, PersonCredits]:
        """One query for the films of every person (the movies' list columns joined in)."""
        cast: dict[int, list[PersonCastRecord]] = {}
        crew: dict[int, list[PersonCrewRecord]] = {}
        rows = (
            Credit.objects.filter(person_id__in=list(ids))
            .select_related("movie")
            .only(
                "person_id", "kind", "character", "job", "department", *(f"movie__{c}" for c in LIST_COLUMNS)
            )
        )
        for row in rows:
            movie = row.movie.to_record()
            if row.kind == Credit.CAST:
                cast.setdefault(row.person_id, []).append(PersonCastRecord(movie, row.character or None))
            else:
                crew.setdefault(row.person_id, []).append(PersonCrewRecord(movie, row.job, row.department))
        # Every id gets an answer (no films: empty lists), as ``credits`` does for movies.
        return {
            person_id: PersonCredits(
                cast=tuple(sorted(cast.get(person_id, ()), key=lambda c: newest_first(c.movie))),
                crew=tuple(sorted(crew.get(person_id, ()), key=lambda c: newest_first(c.movie))),
            )
            for person_id in ids
        }

    def discover(self, query: DiscoverQuery, page: int) -> PageRecord:
        movies = Movie.objects.all()
        if not query.include_adult:
            movies = movies.filter(adult=False)
        if query.genre_ids:
            movies = movies.filter(
                id__in=_with_all(Movie.genres.through.objects, "genre_id", query.genre_ids)
            )
        if query.exclude_genre_ids:
            movies = movies.exclude(genres__in=query.exclude_genre_ids)
        if query.year_from is not None:
            movies = movies.filter(release_date__gte=date(query.year_from, 1, 1))
        if query.year_to is not None:
            movies = movies.filter(release_date__lte=date(query.year_to, 12, 31))
        if query.min_vote_average is not None:
            movies = movies.filter(vote_average__gte=query.min_vote_average)
        if query.min_vote_count is not None:
            movies = movies.filter(vote_count__gte=query.min_vote_count)
        if query.language:
            movies = movies.filter(original_language=query.language)
        if query.people_ids:
            movies = movies.filter(id__in=_with_all(Credit.objects, "person_id", query.people_ids))
        return paginate(movies.order_by(*SORTS[query.sort]), page)

    def similar(self, movie_id: int, limit: int) -> list[MovieRecord]:
        ids = self.similar_ids(movie_id, limit) if self.similar_ids else []
        rows = Movie.objects.only(*LIST_COLUMNS).in_bulk(ids)
        return [rows[similar_id].to_record() for similar_id in ids if similar_id in rows]

    def check(self) -> str:
        count = Movie.objects.count()
        return f"{count} movies"
