"""Typo-tolerant search over names held in memory (rapidfuzz): titles and people.

The local catalog's search on databases without PostgreSQL's trigram and
full-text machinery (SQLite, the embedded default). Each name is cut into
words (and each pair of neighbouring words joined, so "spiderman" meets
"Spider-Man"); a name matches when the query's words, each matched to its
closest word by edit similarity, are close enough on average. Among matches,
a name with nothing the query did not ask for ranks first ("dark nite" gives
The Dark Knight before The Dark Knight Rises), then the more popular.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process, utils

# Mean per-word similarity (0-100) a name needs to match: one typo in a
# four-letter word ("nite" for "knight") still passes beside an exact word.
MATCH_CUTOFF = 75.0
# How much the whole-string similarity (nothing missing, nothing extra) and the
# popularity prior (0..1) add to the per-word match, for titles. People are
# mostly searched by surname, where the shorter full name is no better a match.
TITLE_WEIGHTS = (0.3, 10.0)
NAME_WEIGHTS = (0.1, 20.0)
MAX_QUERY_WORDS = 10
# How often a process checks whether the rows behind an index changed.
REFRESH_SECONDS = 60.0
_ROMAN = {
    "ii": "2",
    "iii": "3",
    "iv": "4",
    "v": "5",
    "vi": "6",
    "vii": "7",
    "viii": "8",
    "ix": "9",
    "x": "10",
}
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Lower case, punctuation as spaces, and roman numerals as digits (Part II is Part 2)."""
    words = _SPACES.split(utils.default_process(text))
    return " ".join(_ROMAN.get(word, word) for word in words if word)


def _tokens(text: str) -> list[str]:
    words = text.split()
    return words + [a + b for a, b in itertools.pairwise(words)]


@dataclass(frozen=True)
class NameIndex:
    """Names of items (several per item: a title and an original title) ready to match.

    ``ids[row]`` is the item of name ``row``; ``prior`` (0..1 per name) breaks
    ties between equally good matches.
    """

    ids: np.ndarray
    names: list[str]
    prior: np.ndarray
    vocabulary: list[str]
    token_columns: np.ndarray
    token_starts: np.ndarray
    weights: tuple[float, float] = TITLE_WEIGHTS

    @classmethod
    def build(
        cls, entries: Sequence[tuple[int, str, float]], weights: tuple[float, float] = TITLE_WEIGHTS
    ) -> NameIndex:
        """An index over ``(item id, name, prior)`` entries; blank names are skipped.

        ``weights``: what the whole-name similarity and the prior add to a match.
        """
        kept = [(item_id, normalize(name), prior) for item_id, name, prior in entries]
        kept = [entry for entry in kept if entry[1]]
        tokens = [_tokens(name) for _, name, _ in kept]
        vocabulary = sorted({token for name_tokens in tokens for token in name_tokens})
        column = {token: index for index, token in enumerate(vocabulary)}
        lengths = [len(name_tokens) for name_tokens in tokens]
        return cls(
            ids=np.array([item_id for item_id, _, _ in kept], dtype=np.int64),
            names=[name for _, name, _ in kept],
            prior=np.array([prior for _, _, prior in kept], dtype=np.float64),
            vocabulary=vocabulary,
            token_columns=np.array(
                [column[t] for name_tokens in tokens for t in name_tokens], dtype=np.int64
            ),
            token_starts=np.cumsum([0, *lengths[:-1]], dtype=np.int64),
            weights=weights,
        )

    def search(self, query: str) -> list[int]:
        """Ids of the items matching ``query``, best first."""
        text = normalize(query)
        words = text.split()[:MAX_QUERY_WORDS]
        if not words or not self.names:
            return []
        by_word = process.cdist(words, self.vocabulary, scorer=fuzz.ratio, dtype=np.uint8, workers=1)
        best = np.maximum.reduceat(by_word[:, self.token_columns], self.token_starts, axis=1)
        coverage = best.mean(axis=0)
        rows = np.flatnonzero(coverage >= MATCH_CUTOFF)
        if rows.size == 0:
            return []
        whole = process.cdist([text], [self.names[row] for row in rows], scorer=fuzz.ratio, workers=1)[0]
        whole_weight, prior_weight = self.weights
        score = coverage[rows] + whole_weight * whole + prior_weight * self.prior[rows]
        ranked: dict[int, None] = {}
        # Best name first, ties by id; an item with two matching names keeps its best.
        for position in np.lexsort((self.ids[rows], -score)):
            ranked.setdefault(int(self.ids[rows[position]]), None)
        return list(ranked)


def prior_of(values: Sequence[float | None]) -> np.ndarray:
    """Popularity-like numbers as 0..1 on a log scale (unknown counts as 0)."""
    logged = np.log1p(np.array([max(value or 0.0, 0.0) for value in values], dtype=np.float64))
    top = float(logged.max(initial=0.0))
    return logged / top if top > 0 else logged


class KeptIndex:
    """One process-wide index, rebuilt when the rows behind it change (checked every minute).

    ``stamp()`` is a cheap summary of the rows (a count and a maximum);
    ``build()`` reads them and makes the index.
    """

    def __init__(self, stamp: Callable[[], object], build: Callable[[], NameIndex]) -> None:
        self._stamp = stamp
        self._build = build
        self._lock = threading.Lock()
        self._index: NameIndex | None = None
        self._built_stamp: object = None
        self._checked = 0.0

    def get(self) -> NameIndex:
        with self._lock:
            now = time.monotonic()
            if self._index is None or now - self._checked >= REFRESH_SECONDS:
                self._checked = now
                stamp = self._stamp()
                if self._index is None or stamp != self._built_stamp:
                    self._index, self._built_stamp = self._build(), stamp
            return self._index

    def forget(self) -> None:
        """Drops the index; the next search rebuilds it (tests, imports)."""
        with self._lock:
            self._index = None
