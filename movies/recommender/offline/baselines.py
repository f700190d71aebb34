"""Baselines trained on the same user x item matrix as EASE: most-popular and item-kNN (cosine)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass
class MostPopular:
    """Scores every item by its number of training interactions (the same list for everyone)."""

    counts: np.ndarray

    @classmethod
    def fit(cls, X: sp.spmatrix | sp.sparray) -> MostPopular:
        """Count the non-zero entries of each column."""
        X = sp.csr_matrix(X)
        return cls(counts=np.asarray((X != 0).sum(axis=0)).ravel().astype(np.float32))

    def score(self, item_indices: np.ndarray, item_weights: np.ndarray) -> np.ndarray:
        """Popularity scores over all items (the user's history is ignored)."""
        return self.counts.copy()


@dataclass
class ItemKNN:
    """Item-based kNN with cosine similarity between item columns, top-``k`` neighbours per item.

    ``similarity`` is a CSR ``(n_items, n_items)`` matrix whose row ``i`` holds item ``i``'s
    neighbours, so a user's scores are ``x @ similarity``.
    """

    similarity: sp.csr_matrix

    @classmethod
    def fit(cls, X: sp.spmatrix | sp.sparray, k: int = 100) -> ItemKNN:
        """Cosine similarity of the (weighted) item columns; keep the ``k`` most similar per item."""
        X = sp.csc_matrix(X, dtype=np.float64)
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=0)).ravel())
        norms[norms == 0] = 1.0
        Xn = X @ sp.diags(1.0 / norms)
        S = (Xn.T @ Xn).toarray()
        np.fill_diagonal(S, 0.0)
        n_items = S.shape[0]
        k = max(1, min(k, n_items - 1))
        # Keep the k largest per row; at ml-100k scale a dense pass is simpler than sparse top-k.
        part = np.argpartition(-S, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(S, part, axis=1)
        rows = np.repeat(np.arange(n_items), k)
        sim = sp.csr_matrix((vals.ravel(), (rows, part.ravel())), shape=(n_items, n_items))
        sim.eliminate_zeros()
        return cls(similarity=sim.astype(np.float32))

    def score(self, item_indices: np.ndarray, item_weights: np.ndarray) -> np.ndarray:
        """Sum of the user's items' similarity rows, weighted by the user's item weights."""
        item_indices = np.asarray(item_indices, dtype=np.int64)
        rows = self.similarity[item_indices]
        weights = np.asarray(item_weights, dtype=np.float32)
        return np.asarray(rows.T @ weights).ravel().astype(np.float32)
