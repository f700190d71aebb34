"""Movies like a given movie in the local catalog, by shared genres and keywords.

Used by ``Movie.similar`` on the local source. The score is a weighted
Jaccard overlap with a small popularity prior, so ties go to better-known
films; the recommender's content model refines this for recommendations.
"""

from __future__ import annotations

import math

from movies.models import Movie
from movies.records import MovieRecord
from movies.sources.local import LIST_COLUMNS

GENRE_WEIGHT = 1.0
KEYWORD_WEIGHT = 2.0
POPULARITY_WEIGHT = 0.05


def _jaccard(a: set[object], b: set[object]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def similar_movies(movie_id: int, limit: int) -> list[MovieRecord]:
    """Up to ``limit`` movies most like ``movie_id`` (none if it is unknown)."""
    target = Movie.objects.filter(id=movie_id).values("genre_ids", "keywords").first()
    if target is None:
        return []
    genres, keywords = set(target["genre_ids"]), set(target["keywords"])
    candidates = (
        Movie.objects.filter(adult=False, genres__in=genres).exclude(id=movie_id).distinct()
        if genres
        else Movie.objects.none()
    )
    scored = []
    for row in candidates.values("id", "genre_ids", "keywords", "popularity"):
        score = (
            GENRE_WEIGHT * _jaccard(genres, set(row["genre_ids"]))
            + KEYWORD_WEIGHT * _jaccard(keywords, set(row["keywords"]))
            + POPULARITY_WEIGHT * math.log1p(row["popularity"] or 0.0)
        )
        scored.append((score, row["id"]))
    top = [candidate_id for _, candidate_id in sorted(scored, key=lambda item: (-item[0], item[1]))[:limit]]
    rows = Movie.objects.only(*LIST_COLUMNS).in_bulk(top)
    return [rows[candidate_id].to_record() for candidate_id in top]
