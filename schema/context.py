"""The per-request GraphQL context: who is asking, and the request's dataloaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, HttpResponse
from strawberry.types import Info as StrawberryInfo

from backend.errors import DomainError

if TYPE_CHECKING:
    from accounts.models import User


@dataclass
class Context:
    """Built once per request by the view; resolvers read it through ``info.context``."""

    request: HttpRequest
    response: HttpResponse
    user: User | None = None
    # Dataloaders keyed by name, created lazily so a query pays only for what it uses.
    loaders: dict[str, Any] = field(default_factory=dict)
    # Raised by fields that need a user when a sent token could not be accepted.
    auth_error: DomainError | None = None
    # Movies `Movie.similar` may still return in this request: nesting similar in
    # similar multiplies work by its limit at each level, which depth limits miss.
    similar_budget: int = 1000

    def loader(self, name: str, factory: Any) -> Any:
        """The request's loader called ``name``, made by ``factory()`` on first use."""
        if name not in self.loaders:
            self.loaders[name] = factory()
        return self.loaders[name]


Info = StrawberryInfo[Context, None]
