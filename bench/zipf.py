"""A seeded Zipf sampler over ranks 1..n (P(k) proportional to 1 / k**s)."""

from __future__ import annotations

import bisect
import itertools
import random
from typing import TypeVar

T = TypeVar("T")


class ZipfSampler:
    """Draws ranks 1..``n`` with probability proportional to ``1 / rank**s``.

    Unlike ``numpy.random.zipf`` the support is finite, so every draw is a
    valid page number or index, and a ``random.Random`` makes runs repeatable.
    """

    def __init__(self, n: int, s: float = 1.1, rng: random.Random | None = None) -> None:
        if n < 1:
            raise ValueError("n must be at least 1")
        if s <= 0:
            raise ValueError("s must be positive")
        self.n = n
        self.s = s
        self.rng = rng if rng is not None else random.Random()
        weights = [1.0 / rank**s for rank in range(1, n + 1)]
        self._total = sum(weights)
        self._cumulative = list(itertools.accumulate(weights))

    def probability(self, rank: int) -> float:
        """The exact probability of drawing ``rank``."""
        if not 1 <= rank <= self.n:
            return 0.0
        return (1.0 / rank**self.s) / self._total

    def sample(self) -> int:
        """One rank in 1..n."""
        point = self.rng.random() * self._total
        index = bisect.bisect_right(self._cumulative, point)
        return min(index, self.n - 1) + 1

    def choice(self, items: list[T]) -> T:
        """An item of ``items``, the first being the most likely (``len(items)`` must equal n)."""
        if len(items) != self.n:
            raise ValueError(f"expected {self.n} items, got {len(items)}")
        return items[self.sample() - 1]
