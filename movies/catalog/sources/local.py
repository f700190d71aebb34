"""The local catalog: movies and genres in our own database.

The embedded default (no TMDb key needed) and the recommender's candidate
pool. Its lists mirror TMDb's with local meanings (README, "Local catalog").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import date, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import F, Max, Q, QuerySet
from django.utils import timezone

from movies.catalog.activity import active_movies, recent_interactions
from movies.catalog.sources.base import MovieEntry
from movies.models import LIST_COLUMNS, Genre, Movie
from movies.records import MAX_PAGE, PAGE_SIZE, DiscoverQuery, GenreRecord, ListKind, MovieRecord, PageRecord

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


class LocalCatalogSource:
    """Catalog reads from the Movie and Genre tables.

    ``similar_ids`` ranks similar movies; the recommender provides it (wired in
    ``movies.apps``), so the catalog never imports the recommender.
    """

    name = "local"

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
        if connection.vendor == "postgresql":
            return paginate(self._ranked_search(movies, query), page)
        words = query.split()
        for word in words:
            movies = movies.filter(Q(title__icontains=word) | Q(original_title__icontains=word))
        return paginate(movies.order_by(*SORTS["popularity_desc"]), page)

    @staticmethod
    def _ranked_search(movies: QuerySet[Movie], query: str) -> QuerySet[Movie]:
        """Full-text rank plus trigram word similarity, so typos still find the film."""
        from django.contrib.postgres.search import (
            SearchQuery,
            SearchRank,
            SearchVector,
            TrigramWordSimilarity,
        )

        vector = SearchVector("title", weight="A", config="english") + SearchVector(
            "overview", weight="D", config="english"
        )
        text = SearchQuery(query, search_type="websearch", config="english")
        return (
            movies.annotate(
                rank=SearchRank(vector, text),
                similarity=TrigramWordSimilarity(query, "title"),
            )
            .filter(Q(rank__gte=0.05) | Q(similarity__gte=0.4))
            .order_by((F("rank") + F("similarity") * 2).desc(), F("popularity").desc(nulls_last=True), "id")
        )

    def discover(self, query: DiscoverQuery, page: int) -> PageRecord:
        movies = Movie.objects.all()
        if not query.include_adult:
            movies = movies.filter(adult=False)
        for genre_id in query.genre_ids:
            movies = movies.filter(genres=genre_id)
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
        return paginate(movies.order_by(*SORTS[query.sort]), page)

    def similar(self, movie_id: int, limit: int) -> list[MovieRecord]:
        ids = self.similar_ids(movie_id, limit) if self.similar_ids else []
        rows = Movie.objects.only(*LIST_COLUMNS).in_bulk(ids)
        return [rows[similar_id].to_record() for similar_id in ids if similar_id in rows]

    def check(self) -> str:
        count = Movie.objects.count()
        return f"{count} movies"
