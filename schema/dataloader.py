"""strawberry's DataLoader, safe to share between resolvers that graphql-core may cancel.

When a non-null field fails, graphql-core cancels its sibling resolvers. A
resolver awaiting a loader's future directly would cancel that future, which
other resolvers of the request await too: they would get ``CancelledError``
(a BaseException graphql-core does not catch) and the request would end in an
HTTP 500. Each caller here awaits a shield, so a cancelled caller leaves the
shared future to the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from strawberry.dataloader import DataLoader as StrawberryDataLoader

K = TypeVar("K")
T = TypeVar("T")


class DataLoader(StrawberryDataLoader[K, T]):
    """A DataLoader whose ``load`` (and so ``load_many``) survives a cancelled caller."""

    def load(self, key: K) -> Awaitable[T]:
        return asyncio.shield(super().load(key))
