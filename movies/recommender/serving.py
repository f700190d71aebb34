"""Personalised recommendations, served from models held in process memory.

Hybrid scoring over the local catalog (the candidate pool):

- collaborative: the EASE item-item model trained on all users' favorites,
  ratings and watchlists (``movies.recommender.training``), published as
  versions every server shares (``publishing``) and reloaded without a
  restart within a minute of a new one;
- content: TF-IDF over genres, keywords, language, decade, directors and
  top-billed cast, for cold start and for movies nobody has interacted with yet;
- the viewer's preferences: disliked genres, languages, year range, minimum
  rating and adult content are hard filters; liked genres boost;
- priors: popularity, a vote-count-damped rating, and our users' activity
  this week (the per-day counts, re-read with the model check, so a request
  never reads interactions); seen movies removed; a greedy diversity pass.

Each recommendation's reasons are its largest score components, worded (``reasons``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import scipy.sparse as sp
from django.apps import apps
from django.core.cache import cache
from django.db.models import Count, DecimalField, F, Max, Q, Value

from movies import metrics
from movies.catalog import cache_policy
from movies.catalog.activity import COLUMN_OF, recent_interactions, usual_interactions
from movies.models import LIST_COLUMNS, Credit, Genre, Movie
from movies.recommender import feedback, publishing, reasons
from movies.recommender.content import TOP_CAST, ContentItem, ContentModel
from movies.recommender.ease import ItemItemModel
from movies.records import MovieRecord

logger = logging.getLogger(__name__)

MAX_RECOMMENDATIONS = 100
# Computed (and cached) per request at least: a diversity pass and reasons cost per item.
MIN_COMPUTED = 20
# How often a process looks for a new model version or catalog change, and re-reads trending.
RELOAD_CHECK_SECONDS = 60.0
EDIT_RELOAD_SECONDS = 600.0
COMPONENTS = ("collab", "content", "genre", "popularity", "quality", "trending")


@dataclass(frozen=True)
class Blend:
    """How the hybrid weighs its score components: the one place its knobs live.

    ``warm`` weights apply in full to a user with ``full_warm_positives`` liked
    films or more, ``cold`` to a user with none, and a user in between gets the
    straight line between them by their number of positives (so two liked films
    do not already mean "trust the collaborative model alone"). ``diversity`` is
    the maximal-marginal-relevance penalty per unit of content similarity to a
    film already picked; ``recency_half_life_days`` halves a liked film's weight
    for each that many days it is older than the user's newest interaction (None:
    every film counts alike). Chosen on validation splits of ml-100k (README,
    "Recommender quality"); evaluation swaps it with ``blend_override``.
    """

    warm: Mapping[str, float]
    cold: Mapping[str, float]
    full_warm_positives: int
    diversity: float
    recency_half_life_days: float | None

    def weights_for(self, positives: int, has_model: bool = True) -> dict[str, float]:
        """The component weights for a user with ``positives`` liked films.

        Until a collaborative model is trained (``has_model`` false), content similarity
        takes the collaborative weight: it is then the only signal from the user's films.
        """
        share = 1.0 if positives >= self.full_warm_positives else positives / max(self.full_warm_positives, 1)
        weights = {name: (1 - share) * self.cold[name] + share * self.warm[name] for name in COMPONENTS}
        if not has_model:
            weights["content"] += weights["collab"]
            weights["collab"] = 0.0
        return weights


# Selected on validation splits of ml-100k, both protocols (README, "Recommender quality":
# ``manage.py evaluate_recommender --select``): coordinate ascent from the earlier hand-set
# weights, then every knob whose removal cost under 0.0001 of the objective switched off.
# Not measured there, so as set before: the cold genre boost (no MovieLens account without
# a liked film has favorite genres) and cold content (zero without a liked film).
BLEND = Blend(
    warm={"collab": 1.0, "content": 0.05, "genre": 0.0, "popularity": 0.2, "quality": 0.0, "trending": 0.1},
    cold={"collab": 0.0, "content": 0.3, "genre": 0.6, "popularity": 0.2, "quality": 0.0, "trending": 0.35},
    full_warm_positives=1,
    diversity=0.1,
    recency_half_life_days=180.0,
)
_blend_override: ContextVar[Blend | None] = ContextVar("blend_override", default=None)


def current_blend() -> Blend:
    """The blend in force: ``BLEND`` unless ``blend_override`` swapped it."""
    return _blend_override.get() or BLEND


@contextmanager
def blend_override(blend: Blend) -> Iterator[Blend]:
    """Scores with ``blend`` inside the block (offline evaluation's ablations and selection)."""
    token = _blend_override.set(blend)
    try:
        yield blend
    finally:
        _blend_override.reset(token)


SIMILAR_POPULARITY_WEIGHT = 0.1
# A vote average counts in full only with about this many votes (Bayesian damping).
QUALITY_VOTES = 500
TRENDING_DAYS = 7
# Catalogs up to this many films keep all pairs' content similarity in memory (see CatalogIndex).
DENSE_SIMILARITY_MAX = 6000


@dataclass(frozen=True, slots=True)
class Interaction:
    movie_id: int
    weight: float
    # When it happened (Unix seconds), for the recency weighting; None when unknown.
    at: float | None = None
    # "Not interested": a negative signal of its own (``feedback``), whatever the weight.
    dismissed: bool = False
    # Whether a reason may say the user liked it (a favorite, or rated 3.5 or more; never a
    # watchlist entry); None: judged by the weight, as a rating's (``liked_ids``).
    liked: bool | None = None


@dataclass(frozen=True, slots=True)
class Recommended:
    movie_id: int
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Components:
    """One user's score components over the catalog rows, and the liked films behind them."""

    values: dict[str, np.ndarray]
    positives: list[Interaction]
    # The user's films as model columns and their (recency-weighted) weights, for the reasons.
    model_items: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    model_weights: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.float32))
    # Subtracted from the blend: how like the user's dismissed films each row is (``feedback``).
    penalty: np.ndarray | None = None


@dataclass(frozen=True, slots=True)
class Credits:
    """The people the content model knows of each film: directors, top-billed cast, and their names."""

    directors: dict[int, list[int]]
    cast: dict[int, list[int]]
    names: dict[int, str]

    @classmethod
    def from_database(cls) -> Credits:
        directors: dict[int, list[int]] = {}
        cast: dict[int, list[int]] = {}
        names: dict[int, str] = {}
        rows = (
            Credit.objects.filter(
                Q(kind=Credit.CREW, job="Director") | Q(kind=Credit.CAST, order__lt=TOP_CAST)
            )
            .order_by("movie_id", "kind", "order", "id")
            .values_list("movie_id", "kind", "person_id", "person__name")
        )
        for movie_id, kind, person_id, name in rows:
            people = (cast if kind == Credit.CAST else directors).setdefault(movie_id, [])
            if person_id not in people:
                people.append(person_id)
            names[person_id] = name
        return cls(directors, cast, names)


class CatalogIndex:
    """The candidate pool as arrays, aligned row for row with its content model."""

    def __init__(
        self,
        rows: list[dict[str, Any]],
        genre_names: dict[int, str],
        records: list[MovieRecord] | None = None,
        credits: Credits | None = None,
    ) -> None:
        credits = credits or Credits({}, {}, {})
        self.ids = np.array([row["id"] for row in rows], dtype=np.int64)
        # Each row's movie as the API shows it: a recommendation needs no catalog query.
        self.records = records or [
            MovieRecord.from_dict({"id": row["id"], "title": row["title"]}) for row in rows
        ]
        self.row_of = {int(movie_id): row for row, movie_id in enumerate(self.ids.tolist())}
        self.titles = [row["title"] for row in rows]
        self.genres = [frozenset(row["genre_ids"] or ()) for row in rows]
        self.genre_names = genre_names
        # Rows x genres incidence, so a genre boost or filter is one sparse column sum.
        self.genre_column = {genre: column for column, genre in enumerate(sorted(set().union(*self.genres)))}
        incidence = [(row, self.genre_column[g]) for row, genres in enumerate(self.genres) for g in genres]
        self.genre_matrix = sp.csr_matrix(
            (
                np.ones(len(incidence), dtype=np.float32),
                ([r for r, _ in incidence], [c for _, c in incidence]),
            ),
            shape=(len(rows), len(self.genre_column)),
        )
        self.directors = [credits.directors.get(row["id"], []) for row in rows]
        self.cast = [credits.cast.get(row["id"], []) for row in rows]
        self.person_names = credits.names
        self.language = np.array([row["original_language"] or "" for row in rows])
        self.year = np.array([row["release_date"].year if row["release_date"] else 0 for row in rows])
        self.vote_average = np.array([row["vote_average"] or 0.0 for row in rows], dtype=np.float32)
        votes = np.array([row["vote_count"] or 0 for row in rows], dtype=np.float32)
        self.vote_count = votes
        self.adult = np.array([row["adult"] for row in rows], dtype=bool)
        popularity = np.log1p(np.array([row["popularity"] or 0.0 for row in rows], dtype=np.float32))
        self.popularity = popularity / max(float(popularity.max(initial=0.0)), 1e-6)
        mean = float(self.vote_average[votes > 0].mean()) if (votes > 0).any() else 0.0
        self.quality = (votes * self.vote_average + QUALITY_VOTES * mean) / (votes + QUALITY_VOTES) / 10.0
        self.content = ContentModel.build(
            [
                ContentItem(
                    id=row["id"],
                    genres=[genre_names.get(g, str(g)) for g in row["genre_ids"] or ()],
                    keywords=list(row["keywords"] or ()),
                    language=row["original_language"] or None,
                    year=row["release_date"].year if row["release_date"] else None,
                    directors=self.directors[position],
                    cast=self.cast[position],
                )
                for position, row in enumerate(rows)
            ],
            min_df=2,
        )
        # Every pair's content similarity, computed once per catalog (float16: 18 MB for 3,000
        # films), so the diversity pass reads its pool's pairs instead of a sparse product per
        # request; a catalog too large for that keeps the product.
        self.similarity: np.ndarray | None = None
        if len(rows) <= DENSE_SIMILARITY_MAX:
            matrix = self.content.matrix
            self.similarity = np.asarray((matrix @ matrix.T).toarray(), dtype=np.float16)

    def pool_similarity(self, pool: np.ndarray) -> np.ndarray:
        """Content similarity between every two of the ``pool`` rows (float64)."""
        if self.similarity is not None:
            return self.similarity[np.ix_(pool, pool)].astype(np.float64)
        vectors = self.content.matrix[pool]
        return np.asarray((vectors @ vectors.T).toarray(), dtype=np.float64)

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_database(cls) -> CatalogIndex:
        movies = list(Movie.objects.order_by("id").only(*LIST_COLUMNS, "keywords"))
        rows = [
            {"keywords": movie.keywords, **{column: getattr(movie, column) for column in LIST_COLUMNS}}
            for movie in movies
        ]
        return cls(
            rows,
            dict(Genre.objects.values_list("id", "name")),
            [movie.to_record() for movie in movies],
            Credits.from_database(),
        )


@dataclass(frozen=True)
class Snapshot:
    """Everything one scoring call reads, swapped as a whole so readers never mix generations."""

    index: CatalogIndex
    model: ItemItemModel | None
    # For each catalog row, the model column (or -1).
    columns: np.ndarray
    catalog_stamp: tuple[object, ...]
    model_version: int | None
    # When the index was built (time.monotonic()), to pace rebuilds for edited films.
    built_at: float
    # Our users' activity this week per catalog row, scaled to 0..1 (the trending prior).
    trending: np.ndarray
    # This week's activity over its usual level per catalog row (``reasons.trending_lift``).
    trending_lift: np.ndarray | None = None

    @property
    def has_column(self) -> np.ndarray:
        """Which catalog rows the collaborative model knows."""
        return self.columns >= 0

    @property
    def version(self) -> str:
        """Changes when a new collaborative model is published (cached recommendations then expire)."""
        return f"v{self.model_version}" if self.model is not None else "none"

    @classmethod
    def build(
        cls,
        index: CatalogIndex,
        model: ItemItemModel | None,
        stamp: tuple[object, ...],
        model_version: int | None,
        built_at: float,
        recent_activity: Mapping[int, float],
        usual_activity: Mapping[int, float] | None = None,
    ) -> Snapshot:
        columns = np.full(len(index), -1, dtype=np.int64)
        if model is not None:
            for row, movie_id in enumerate(index.ids.tolist()):
                column = model.index_of(movie_id)
                if column is not None:
                    columns[row] = column
        return cls(
            index,
            model,
            columns,
            stamp,
            model_version,
            built_at,
            trending_scores(index, recent_activity),
            reasons.trending_lift(index.row_of, len(index), recent_activity, usual_activity or {}),
        )


def trending_scores(index: CatalogIndex, recent_activity: Mapping[int, float]) -> np.ndarray:
    """log(1 + interactions) per catalog row, scaled so the most active movie scores 1."""
    activity = np.zeros(len(index), dtype=np.float32)
    for movie_id, count in recent_activity.items():
        row = index.row_of.get(movie_id)
        if row is not None and count > 0:
            activity[row] = math.log1p(count)
    return activity / max(float(activity.max(initial=0.0)), 1e-6)


class Recommender:
    """Process-wide models; reloads the catalog index and the collaborative model when they change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._checked = 0.0
        self._snapshot: Snapshot | None = None

    def snapshot(self) -> Snapshot:
        """The current models, reloaded first if due."""
        self.refresh()
        assert self._snapshot is not None
        return self._snapshot

    def expire(self) -> None:
        """The next ``snapshot()`` checks for changes instead of waiting out the minute."""
        self._checked = 0.0

    def refresh(self, force: bool = False) -> None:
        """Reloads what changed, at most once a minute (or now, with ``force``); re-reads trending.

        Films added or removed rebuild the index at the next check; edited films
        (an admin change, a re-import, TMDb refreshing what we store, which is
        constant in TMDb mode) at most every ``EDIT_RELOAD_SECONDS``.
        """
        now = time.monotonic()
        if not force and self._snapshot is not None and now - self._checked < RELOAD_CHECK_SECONDS:
            return
        with self._lock:
            if not force and self._snapshot is not None and now - self._checked < RELOAD_CHECK_SECONDS:
                return
            self._checked = now
            current = self._snapshot
            facts = Movie.objects.aggregate(n=Count("id"), newest=Max("id"), edited=Max("updated_at"))
            stamp = (facts["n"], facts["newest"], facts["edited"])
            version = publishing.latest_version()
            keep_index = current is not None and (
                stamp == current.catalog_stamp
                or (
                    not force
                    and stamp[:2] == current.catalog_stamp[:2]
                    and now - current.built_at < EDIT_RELOAD_SECONDS
                )
            )
            recent = recent_interactions(TRENDING_DAYS)
            usual = usual_interactions(TRENDING_DAYS, reasons.TRENDING_USUAL_DAYS)
            if current is not None and keep_index and version == current.model_version:
                self._snapshot = Snapshot(
                    current.index,
                    current.model,
                    current.columns,
                    current.catalog_stamp,
                    current.model_version,
                    current.built_at,
                    trending_scores(current.index, recent),
                    reasons.trending_lift(current.index.row_of, len(current.index), recent, usual),
                )
                return
            model = current.model if current is not None and version == current.model_version else None
            if model is None and version is not None:
                model = publishing.load(version)
                if model is None:
                    version = None  # pruned between the two queries: the next check finds the newer one
                else:
                    logger.info("recommender model v%s loaded", version)
            if keep_index:
                assert current is not None
                index, stamp, built_at = current.index, current.catalog_stamp, current.built_at
            else:
                index, built_at = CatalogIndex.from_database(), now
            self._snapshot = Snapshot.build(index, model, stamp, version, built_at, recent, usual)

    # --- scoring -----------------------------------------------------------------------------
    def recommend(
        self,
        interactions: list[Interaction],
        seen: set[int],
        prefs: dict[str, Any],
        limit: int,
        snap: Snapshot | None = None,
        recent_activity: Mapping[int, float] | None = None,
        usual_activity: Mapping[int, float] | None = None,
    ) -> list[Recommended]:
        """Top ``limit`` movies with reasons for one user's interactions and preferences.

        The trending prior is the snapshot's unless ``recent_activity`` (interactions
        per movie) is given, e.g. as of another moment; then "Trending" reasons need
        ``usual_activity`` of that moment too (``usual_interactions``). Each ``score`` is the final
        ranking score, after the diversity pass, so scores never rise down the list.
        """
        snap = snap or self.snapshot()
        index, model = snap.index, snap.model
        blend = current_blend()
        scored = self.components(snap, interactions, prefs, blend.recency_half_life_days, recent_activity)
        weights = blend.weights_for(len(scored.positives), model is not None)
        components = scored.values
        positives = scored.positives
        liked = set(prefs.get("favorite_genres", ()))
        allowed = self._allowed(index, prefs, seen)
        picked, final = self.rank(index, components, weights, allowed, limit, blend.diversity, scored.penalty)
        lift = snap.trending_lift
        if recent_activity is not None:  # as of another moment: trending then, if its usual level is known
            lift = None
            if usual_activity is not None:
                lift = reasons.trending_lift(index.row_of, len(index), recent_activity, usual_activity)
        evidence = reasons.Evidence(
            liked_ids=liked_ids(positives),
            liked_genres=frozenset(liked),
            model=model,
            columns=snap.columns,
            model_items=scored.model_items,
            model_weights=scored.model_weights,
            content_rows=np.array([index.row_of[i.movie_id] for i in positives], dtype=np.int64),
            content_weights=np.array([i.weight for i in positives], dtype=np.float64),
            trending_lift=lift,
        )
        explained = reasons.explain(index, picked, weights, components, evidence)
        return [
            Recommended(movie_id=int(index.ids[row]), score=round(score, 4), reasons=why)
            for row, score, why in zip(picked, final, explained, strict=True)
        ]

    @staticmethod
    def components(
        snap: Snapshot,
        interactions: list[Interaction],
        prefs: dict[str, Any],
        half_life_days: float | None = None,
        recent_activity: Mapping[int, float] | None = None,
    ) -> Components:
        """Every score component of one user over the catalog rows, each scaled to 0..1 at most."""
        index, model = snap.index, snap.model
        n = len(index)
        positives = [i for i in interactions if i.weight > 0 and i.movie_id in index.row_of]
        liked_weights = np.array([i.weight for i in positives], dtype=np.float32)
        if half_life_days and positives:
            stamps = np.array([np.nan if i.at is None else i.at for i in positives], dtype=np.float64)
            if np.isfinite(stamps).any():
                age_days = (np.nanmax(stamps) - np.nan_to_num(stamps, nan=np.nanmax(stamps))) / 86400.0
                liked_weights = (liked_weights * 0.5 ** (age_days / half_life_days)).astype(np.float32)
        values: dict[str, np.ndarray] = {}
        collab = np.zeros(n, dtype=np.float32)
        model_items = np.empty(0, dtype=np.int64)
        model_weights = np.empty(0, dtype=np.float32)
        if model is not None and positives:
            known = [
                (model.index_of(i.movie_id), w)
                for i, w in zip(positives, liked_weights.tolist(), strict=True)
            ]
            known = [(column, weight) for column, weight in known if column is not None]
            if known:
                model_items = np.array([c for c, _ in known], dtype=np.int64)
                model_weights = np.array([w for _, w in known], dtype=np.float32)
                by_column = model.score(model_items, model_weights)
                collab[snap.has_column] = by_column[snap.columns[snap.has_column]]
                collab = np.clip(collab, 0, None) / max(float(collab.max(initial=0.0)), 1e-6)
        values["collab"] = collab
        if positives:
            rows = np.array([index.row_of[i.movie_id] for i in positives], dtype=np.int64)
            values["content"] = index.content.score_indices(rows, liked_weights)
        else:
            values["content"] = np.zeros(n, dtype=np.float32)
        liked = [
            index.genre_column[g] for g in set(prefs.get("favorite_genres", ())) if g in index.genre_column
        ]
        values["genre"] = (
            np.asarray(index.genre_matrix[:, liked].sum(axis=1), dtype=np.float32).ravel() / len(liked)
            if liked
            else np.zeros(n, dtype=np.float32)
        )
        values["popularity"] = index.popularity
        values["quality"] = index.quality
        values["trending"] = (
            snap.trending if recent_activity is None else trending_scores(index, recent_activity)
        )
        dismissed = [
            index.row_of[i.movie_id] for i in interactions if i.dismissed and i.movie_id in index.row_of
        ]
        penalty = (
            feedback.dismissal_penalty(index.content, model, snap.columns, dismissed) if dismissed else None
        )
        return Components(values, positives, model_items, model_weights, penalty)

    @staticmethod
    def rank(
        index: CatalogIndex,
        components: Mapping[str, np.ndarray],
        weights: Mapping[str, float],
        allowed: np.ndarray,
        limit: int,
        diversity: float,
        penalty: np.ndarray | None = None,
    ) -> tuple[list[int], list[float]]:
        """The picked catalog rows, best first, and their final scores (after the diversity pass);
        ``penalty`` (the user's dismissals, ``feedback``) is taken off each row's score first."""
        total = np.zeros(len(index), dtype=np.float32)
        for name, values in components.items():
            if weights[name]:
                total += np.float32(weights[name]) * values
        if penalty is not None:
            total -= penalty
        return Recommender._diverse_top(index, np.where(allowed, total, -np.inf), limit, diversity)

    def similar(self, movie_id: int, limit: int) -> list[int]:
        """Movies like ``movie_id``: content similarity, plus co-interaction once a model is trained."""
        snap = self.snapshot()
        index, model = snap.index, snap.model
        row = index.row_of.get(movie_id)
        if row is None:
            return []
        matrix = index.content.matrix
        scores = np.asarray((matrix @ matrix[row].T).toarray()).ravel()
        column = int(snap.columns[row])
        if model is not None and column >= 0:
            collab = np.zeros(len(index), dtype=np.float32)
            by_column = model.score(np.array([column]), np.array([1.0], dtype=np.float32))
            has_column = snap.columns >= 0
            collab[has_column] = np.clip(by_column[snap.columns[has_column]], 0, None)
            scores = scores + collab / max(float(collab.max(initial=0.0)), 1e-6)
        # A light popularity prior breaks the many near-ties between same-genre films.
        scores = scores + SIMILAR_POPULARITY_WEIGHT * index.popularity
        scores[row] = -np.inf
        scores[index.adult & ~index.adult[row]] = -np.inf
        top = np.argsort(-scores, kind="stable")[:limit]
        return [int(index.ids[i]) for i in top if np.isfinite(scores[i])]

    @staticmethod
    def _allowed(index: CatalogIndex, prefs: dict[str, Any], seen: set[int]) -> np.ndarray:
        allowed = np.ones(len(index), dtype=bool)
        if not prefs.get("include_adult"):
            allowed &= ~index.adult
        disliked = set(prefs.get("disliked_genres", ()))
        columns = [index.genre_column[g] for g in disliked if g in index.genre_column]
        if columns:
            allowed &= np.asarray(index.genre_matrix[:, columns].sum(axis=1)).ravel() == 0
        if prefs.get("languages"):
            allowed &= np.isin(index.language, list(prefs["languages"]))
        if prefs.get("year_from") is not None:
            allowed &= index.year >= prefs["year_from"]
        if prefs.get("year_to") is not None:
            allowed &= (index.year <= prefs["year_to"]) & (index.year > 0)
        if prefs.get("min_vote_average") is not None:
            allowed &= index.vote_average >= prefs["min_vote_average"]
        for movie_id in seen:
            row = index.row_of.get(movie_id)
            if row is not None:
                allowed[row] = False
        return allowed

    @staticmethod
    def _diverse_top(
        index: CatalogIndex, total: np.ndarray, limit: int, diversity: float
    ) -> tuple[list[int], list[float]]:
        """Greedy maximal-marginal-relevance: a film too like one already picked waits its turn.

        A film's final score is its score less ``diversity`` times its largest content
        similarity to a film picked before it, as of its own pick: picks only ever raise
        the penalty of what is left, so the scores come out non-increasing.
        """
        finite = np.flatnonzero(np.isfinite(total))
        if finite.size == 0 or limit <= 0:
            return [], []
        pool_size = min(finite.size, max(limit * 4, 40))
        # Only the pool is sorted: argpartition finds it without ordering the whole catalog.
        if pool_size < finite.size:
            finite = finite[np.argpartition(-total[finite], pool_size - 1)[:pool_size]]
        pool = finite[np.lexsort((finite, -total[finite]))]
        base = total[pool].astype(np.float64)
        count = min(limit, pool.size)
        if not diversity:
            return pool[:count].tolist(), base[:count].tolist()
        similarity = index.pool_similarity(pool)
        chosen: list[int] = []
        scores: list[float] = []
        max_sim = np.zeros(pool.size, dtype=np.float64)
        available = np.ones(pool.size, dtype=bool)
        for _ in range(count):
            adjusted = np.where(available, base - diversity * max_sim, -np.inf)
            best = int(np.argmax(adjusted))
            chosen.append(int(pool[best]))
            scores.append(float(adjusted[best]))
            available[best] = False
            max_sim = np.maximum(max_sim, similarity[best])
        return chosen, scores


_recommender: Recommender | None = None
_recommender_lock = threading.Lock()


def get_recommender() -> Recommender:
    """The process's recommender (models load on first use)."""
    global _recommender
    with _recommender_lock:
        if _recommender is None:
            _recommender = Recommender()
    return _recommender


def loaded_version() -> str:
    """The version of the models this process serves now, without loading or checking for newer ones
    (which touch the database): "none" until they are loaded."""
    recommender = _recommender
    current = recommender._snapshot if recommender is not None else None
    return current.version if current is not None else "none"


def forget() -> None:
    """Drops this process's models; the next use loads them afresh (tests)."""
    global _recommender
    with _recommender_lock:
        _recommender = None


def similar_ids(movie_id: int, limit: int) -> list[int]:
    """Movies like ``movie_id`` by the process's models (the local catalog's ``similar``)."""
    return get_recommender().similar(movie_id, limit)


# --- the user's side -------------------------------------------------------------------------


def interaction_weight(kind: str, score: float | None = None) -> float:
    """How much one interaction says the user likes the movie (negative: dislikes).

    Favorites are the strongest positive; a rating counts by how far it is
    above the middle of the scale (4.5 to 5 as strong as a favorite, 3 or
    below not a positive); a watchlist entry is intent, not taste, so weaker;
    a dismissal ("not interested") is as strong a negative as a favorite is a positive.
    """
    if kind == "favorite":
        return 1.0
    if kind == "dismissal":
        return -1.0
    if kind == "watchlist":
        return 0.4
    assert score is not None
    return max(-1.0, min(1.0, (score - 3.0) / 1.5))


def liked_ids(interactions: list[Interaction]) -> frozenset[int]:
    """The films a reason may say the user liked: favorites and ratings of ``reasons.LIKED_MIN_RATING``
    or more (an interaction of unknown kind counts by its weight, as a rating would)."""
    threshold = interaction_weight("rating", reasons.LIKED_MIN_RATING)
    return frozenset(
        i.movie_id for i in interactions if (i.weight >= threshold if i.liked is None else i.liked)
    )


# Read in this order, later kinds overriding: a dismissal outranks a favorite outranks a rating
# outranks a watchlist entry ("not interested" is the user's latest word on a recommendation).
USER_LISTS = ("WatchlistEntry", "Rating", "Favorite", "Dismissal")
WEIGHT_KINDS = {"WatchlistEntry": "watchlist", "Favorite": "favorite", "Dismissal": "dismissal"}
# When each list's row happened: the times the activity counts count them on (a rating when last changed).
LIST_TIME = {**{name: time_field for name, (time_field, _) in COLUMN_OF.items()}, "Dismissal": "created_at"}


def user_interactions(user_id: int) -> tuple[list[Interaction], set[int]]:
    """The user's weighted interactions (one per movie, strongest kept) and every movie they touched
    (dismissed ones too, so they are never recommended).

    One round trip: the four lists as one UNION ALL, each row tagged with its list. An
    interaction's time is the latest of the movie's rows, each at the time the activity
    counts count it on (a rating when last changed; a dismissal when made).
    """
    parts = []
    for position, name in enumerate(USER_LISTS):
        score = F("score") if name == "Rating" else Value(None, output_field=DecimalField())
        parts.append(
            apps.get_model("accounts", name)
            .objects.filter(user_id=user_id)
            .annotate(list_position=Value(position), list_score=score, list_at=F(LIST_TIME[name]))
            .values_list("list_position", "movie_id", "list_score", "list_at")
            .order_by()
        )
    rows = sorted(parts[0].union(*parts[1:], all=True), key=lambda row: row[0])
    by_movie: dict[int, Interaction] = {}
    at: dict[int, float] = {}
    for position, movie_id, score, moment in rows:
        kind = USER_LISTS[position]
        if kind == "Rating":
            weight = interaction_weight("rating", float(score))
        else:
            weight = interaction_weight(WEIGHT_KINDS[kind])
        at[movie_id] = max(at.get(movie_id, 0.0), moment.timestamp())
        liked = kind == "Favorite" or (kind == "Rating" and float(score) >= reasons.LIKED_MIN_RATING)
        by_movie[movie_id] = Interaction(
            movie_id, weight, at[movie_id], dismissed=kind == "Dismissal", liked=liked
        )
    return list(by_movie.values()), set(by_movie)


def user_preferences(user_id: int) -> dict[str, Any]:
    prefs = apps.get_model("accounts", "Preferences").objects.filter(user_id=user_id).first()
    if prefs is None:
        return {}
    return {
        "favorite_genres": list(prefs.favorite_genres.values_list("id", flat=True)),
        "disliked_genres": list(prefs.disliked_genres.values_list("id", flat=True)),
        "languages": list(prefs.languages or ()),
        "year_from": prefs.year_from,
        "year_to": prefs.year_to,
        "min_vote_average": prefs.min_vote_average,
        "include_adult": prefs.include_adult,
    }


def recommendations_for(
    user_id: int, limit: int, *, as_of: datetime | None = None
) -> list[tuple[Recommended, MovieRecord]]:
    """The user's recommendations with their movies, cached for 2 hours (dropped when their lists change).

    The movies come from the snapshot of the local catalog (the candidate pool,
    re-read as films are added or edited) and are cached with the list, so
    neither a cold nor a warm answer needs a catalog lookup. ``as_of`` (offline
    evaluation) scores the trending prior as of that moment and neither reads nor
    writes the cache.
    """
    # One snapshot for the whole call: its model both scores and labels the result.
    snap = get_recommender().snapshot()
    # Read the generation before the user's data: a change after this point bumps it.
    key = cache_policy.recommendations_key(user_id, cache_policy.recommendations_generation(user_id))
    cached = cache.get(key) if as_of is None else None
    if (
        cached
        and cached.get("version") == snap.version
        and (len(cached["items"]) >= limit or cached.get("exhausted"))
    ):
        metrics.cache_hit("recommendations")
        return [
            (Recommended(item[0], item[1], tuple(item[2])), MovieRecord.from_dict(item[3]))
            for item in cached["items"][:limit]
        ]
    metrics.cache_miss("recommendations")
    interactions, seen = user_interactions(user_id)
    # At least a page's worth, so the usual limits share one cached list; more only when asked.
    wanted = max(limit, MIN_COMPUTED)
    recent = None if as_of is None else recent_interactions(TRENDING_DAYS, as_of)
    usual = None if as_of is None else usual_interactions(TRENDING_DAYS, reasons.TRENDING_USUAL_DAYS, as_of)
    items = get_recommender().recommend(
        interactions, seen, user_preferences(user_id), wanted, snap, recent, usual
    )
    found = [(item, snap.index.records[snap.index.row_of[item.movie_id]]) for item in items]
    if as_of is None:
        cache.set(
            key,
            {
                "version": snap.version,
                "items": [[r.movie_id, r.score, list(r.reasons), record.to_dict()] for r, record in found],
                # Fewer than wanted: nothing else passes the filters, so a larger limit gets no more.
                "exhausted": len(found) < wanted,
            },
            timeout=cache_policy.TTL["recommendations"],
        )
    return found[:limit]
