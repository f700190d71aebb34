"""Content model for cold start: TF-IDF over genre, keyword, language, decade and credit tokens.

Each movie becomes a bag of tokens (``genre:science fiction``, ``kw:space war``, ``lang:en``,
``decade:1990``, ``director:525``, ``cast:3894``: people by TMDb person id, so namesakes stay
apart); tokens are binary within a movie, weighted by a smoothed IDF and a per-field weight,
and rows are L2-normalised so a dot product is a cosine similarity. Only numpy and
scipy.sparse are used (no scikit-learn in the runtime dependencies).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

# Why these weights: genres are few and coarse, keywords are many and specific; language and
# decade are weak signals that should separate ties rather than dominate. Directors and the
# top-billed cast: weights chosen with the offline evaluation (README, "Recommender quality").
DEFAULT_FIELD_WEIGHTS: dict[str, float] = {
    "genre": 1.0,
    "kw": 1.0,
    "lang": 0.5,
    "decade": 0.5,
    "director": 1.0,
    "cast": 0.5,
}
# How many of the top-billed actors count as a film's cast feature.
TOP_CAST = 5


@dataclass(frozen=True, slots=True)
class ContentItem:
    """The content fields the model uses for one movie."""

    id: int
    genres: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    language: str | None = None
    year: int | None = None
    # TMDb person ids: the directors, and the top-billed cast in billing order.
    directors: list[int] = field(default_factory=list)
    cast: list[int] = field(default_factory=list)


def item_tokens(item: ContentItem) -> list[str]:
    """Distinct ``field:value`` tokens of one movie (lower-cased)."""
    tokens = {f"genre:{g.strip().lower()}" for g in item.genres if g and g.strip()}
    tokens |= {f"kw:{k.strip().lower()}" for k in item.keywords if k and k.strip()}
    tokens |= {f"director:{person_id}" for person_id in item.directors}
    tokens |= {f"cast:{person_id}" for person_id in item.cast[:TOP_CAST]}
    if item.language:
        tokens.add(f"lang:{item.language.strip().lower()}")
    if item.year:
        tokens.add(f"decade:{(int(item.year) // 10) * 10}")
    return sorted(tokens)


def _field_of(token: str) -> str:
    return token.split(":", 1)[0]


@dataclass
class ContentModel:
    """TF-IDF item vectors (rows L2-normalised) over content tokens.

    Attributes:
        item_ids: external ids; row ``j`` of ``matrix`` is ``item_ids[j]``.
        vocabulary: token strings; column ``t`` of ``matrix`` is ``vocabulary[t]``.
        matrix: CSR ``(n_items, n_tokens)`` float32 with unit-norm rows (or zero rows).
    """

    item_ids: np.ndarray
    vocabulary: np.ndarray
    matrix: sp.csr_matrix
    _index: dict[int, int] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def n_items(self) -> int:
        """Number of movies in the model."""
        return len(self.item_ids)

    @classmethod
    def build(
        cls,
        movies: Sequence[ContentItem],
        field_weights: dict[str, float] | None = None,
        min_df: int = 1,
    ) -> ContentModel:
        """Build TF-IDF vectors for ``movies``.

        Args:
            movies: the catalogue.
            field_weights: multiplier per token field (genre, kw, lang, decade).
            min_df: drop tokens that occur in fewer movies (a keyword used by one movie
                cannot link two movies, it only dilutes that movie's vector).
        """
        weights_by_field = {**DEFAULT_FIELD_WEIGHTS, **(field_weights or {})}
        docs = [item_tokens(m) for m in movies]
        df: dict[str, int] = {}
        for tokens in docs:
            for t in tokens:
                df[t] = df.get(t, 0) + 1
        vocab = sorted(t for t, c in df.items() if c >= min_df)
        col = {t: i for i, t in enumerate(vocab)}
        n = len(movies)
        # Smoothed IDF, as scikit-learn's default: log((1 + n) / (1 + df)) + 1.
        idf = np.array([np.log((1 + n) / (1 + df[t])) + 1.0 for t in vocab], dtype=np.float64)
        fw = np.array([weights_by_field.get(_field_of(t), 1.0) for t in vocab], dtype=np.float64)
        rows: list[int] = []
        cols: list[int] = []
        for r, tokens in enumerate(docs):
            for t in tokens:
                c = col.get(t)
                if c is not None:
                    rows.append(r)
                    cols.append(c)
        vals = (idf * fw)[cols] if cols else np.empty(0)
        M = sp.csr_matrix((vals, (rows, cols)), shape=(n, len(vocab)), dtype=np.float64)
        norms = np.sqrt(np.asarray(M.multiply(M).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        M = sp.csr_matrix(sp.diags(1.0 / norms) @ M, dtype=np.float32)
        return cls(
            item_ids=np.array([m.id for m in movies], dtype=np.int64),
            vocabulary=np.array(vocab, dtype=np.str_),
            matrix=M,
        )

    def index_of(self, item_id: int) -> int | None:
        """Row index of an external id, or None."""
        if self._index is None:
            self._index = {int(v): i for i, v in enumerate(self.item_ids.tolist())}
        return self._index.get(int(item_id))

    def similar(self, item_id: int, k: int = 10) -> list[tuple[int, float]]:
        """The ``k`` most similar movies to ``item_id`` as ``(external_id, cosine)``, best first.

        Unknown ids give an empty list; the movie itself and zero-similarity movies are left out.
        """
        idx = self.index_of(item_id)
        if idx is None:
            return []
        sims = np.asarray((self.matrix @ self.matrix[idx].T).toarray()).ravel()
        sims[idx] = 0.0
        k = min(k, sims.size)
        if k <= 0:
            return []
        part = np.argpartition(-sims, k - 1)[:k]
        order = part[np.lexsort((part, -sims[part]))]
        return [(int(self.item_ids[i]), float(sims[i])) for i in order if sims[i] > 0]

    def score_profile(
        self, item_ids: Sequence[int] | np.ndarray, weights: Sequence[float] | np.ndarray
    ) -> np.ndarray:
        """Cosine between a user's weighted taste profile and every movie (float32, ``n_items``).

        The profile is the weighted sum of the vectors of the user's movies that the model knows;
        with none known the scores are all zero.
        """
        ids = np.asarray(item_ids).tolist()
        w = np.asarray(weights, dtype=np.float64)
        idx: list[int] = []
        wk: list[float] = []
        for pos, item_id in enumerate(ids):
            i = self.index_of(item_id)
            if i is not None:
                idx.append(i)
                wk.append(float(w[pos]))
        return self.score_indices(np.asarray(idx, dtype=np.int64), np.asarray(wk))

    def score_indices(self, indices: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Like :meth:`score_profile` but with row indices instead of external ids."""
        if len(indices) == 0:
            return np.zeros(self.n_items, dtype=np.float32)
        profile = np.asarray(self.matrix[indices].T @ np.asarray(weights, dtype=np.float64)).ravel()
        norm = np.linalg.norm(profile)
        if norm == 0:
            return np.zeros(self.n_items, dtype=np.float32)
        return np.asarray(self.matrix @ (profile / norm)).ravel().astype(np.float32)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write to one compressed ``.npz`` (CSR parts as arrays; no pickle)."""
        path = Path(path)
        M = self.matrix.tocsr()
        with path.open("wb") as fh:
            np.savez_compressed(
                fh,
                item_ids=self.item_ids,
                vocabulary=self.vocabulary.astype(np.str_),
                data=M.data.astype(np.float32),
                indices=M.indices.astype(np.int32),
                indptr=M.indptr.astype(np.int64),
                shape=np.array(M.shape, dtype=np.int64),
            )
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ContentModel:
        """Read a model written by :meth:`save`."""
        with np.load(Path(path), allow_pickle=False) as data:
            shape = tuple(int(x) for x in data["shape"])
            M = sp.csr_matrix((data["data"], data["indices"], data["indptr"]), shape=shape)
            return cls(item_ids=data["item_ids"], vocabulary=data["vocabulary"], matrix=M)
