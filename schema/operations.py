"""What an operation is before it runs: its type, and how long a shared cache may keep its anonymous answer.

The view needs both ahead of execution: a mutation over GET is refused with
405, only queries are replayed (schema.response_cache), and an anonymous
GET's ``Cache-Control: public, max-age`` is the shortest cache-policy TTL
among the fields it reads. A field declares its TTL as
``metadata={"max_age": seconds}`` (movies/graphql, from
movies/catalog/cache_policy.py); a query is public only when every root
field it reads declares one (``me``, ``recommendations`` and introspection
do not).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_operation_ast,
    parse,
    visit,
)

MAX_AGE = "max_age"
_DEFINITION = "strawberry-definition"


@dataclass(frozen=True)
class Operation:
    """``kind`` is None when the document does not parse or names no operation (execution says why)."""

    kind: OperationType | None
    max_age: int | None = None
    # The root fields' names; empty when the root selection has fragments.
    roots: frozenset[str] = frozenset()


class _MaxAge(Visitor):
    """Collects the TTLs of the fields read; any root field without one makes the answer private."""

    def __init__(self, type_info: TypeInfo, root: Any) -> None:
        super().__init__()
        self.type_info = type_info
        self.root = root
        self.ages: list[int] = []
        self.public = True

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        field = self.type_info.get_field_def()
        definition = field.extensions.get(_DEFINITION) if field is not None else None
        age = definition.metadata.get(MAX_AGE) if definition is not None else None
        if age is not None:
            self.ages.append(age)
        elif self.type_info.get_parent_type() is self.root and node.name.value != "__typename":
            self.public = False


@functools.lru_cache(maxsize=512)
def describe(schema: GraphQLSchema, query: str, operation_name: str | None) -> Operation:
    """The operation ``operation_name`` of ``query`` (the only one when None)."""
    try:
        # The same token limit as execution: a huge document costs no more here than there.
        document = parse(query, no_location=True, max_tokens=settings.GRAPHQL_MAX_TOKENS)
    except (GraphQLError, RecursionError):
        return Operation(kind=None)
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return Operation(kind=None)
    if operation.operation is not OperationType.QUERY:
        return Operation(kind=operation.operation)
    selections = operation.selection_set.selections
    fields_only = all(isinstance(s, FieldNode) for s in selections)
    roots = (
        frozenset(s.name.value for s in selections if isinstance(s, FieldNode))
        if fields_only
        else frozenset()
    )
    type_info = TypeInfo(schema)
    ages = _MaxAge(type_info, schema.query_type)
    visit(document, TypeInfoVisitor(type_info, ages))
    public = ages.public and bool(ages.ages)
    return Operation(kind=OperationType.QUERY, max_age=min(ages.ages) if public else None, roots=roots)
