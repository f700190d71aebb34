"""The cost of an operation, computed from the document and its variables before anything runs.

Depth, token and alias limits bound the text of a query, not its work: one
short query can ask for a hundred search pages or a thousand genre ids in a
variable. The cost counts the work (README, "Request cost"):

- every field costs 1 each time it is resolved, so aliases count each time;
- a list field multiplies the cost of its selection by its size: its ``limit``
  argument, else the length of its list argument (``movies(ids:)``), else
  PAGE_SIZE for the ``results`` of a page type and DEFAULT_LIST_SIZE for any
  other list; a ``limit`` on an object (``favorites(limit:)``) sizes the first
  list below it;
- every element of a list argument or input field costs 1;
- fields that do more than read rows cost WEIGHTS more, per call.

Over ``GRAPHQL_MAX_COST`` the request is refused with BAD_USER_INPUT naming
the cost and the budget, before any resolver or SQL runs.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    get_operation_ast,
    is_list_type,
    parse,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from strawberry.extensions import SchemaExtension

from backend.errors import InvalidInput
from movies.records import PAGE_SIZE
from schema.errors import refuse

# One unit is roughly 10 microseconds of server time: a field read from memory.
DEFAULT_LIST_SIZE = 10
# Lists whose usual size is known better than the default.
SIZES: dict[tuple[str, str], int] = {("Movie", "genres"): 5}
INTROSPECTION_COST = 50
# Above half the default budget: one password check per request.
PASSWORD_HASH_COST = 6000
# Extra cost per call of fields that do more than read a few rows by key (measured on
# PostgreSQL: a ranked search scans every film, a cold similar list ranks them all).
WEIGHTS: dict[tuple[str, str], int] = {
    ("Query", "searchMovies"): 2500,
    ("Query", "searchPeople"): 2500,
    ("Query", "discoverMovies"): 500,
    ("Query", "recommendations"): 1000,
    ("Movie", "similar"): 50,
    # Each hashes a password, slowly on purpose (a few hundred ms of CPU).
    ("Mutation", "register"): PASSWORD_HASH_COST,
    ("Mutation", "tokenAuth"): PASSWORD_HASH_COST,
    ("Mutation", "changePassword"): PASSWORD_HASH_COST,
    ("Mutation", "deleteAccount"): PASSWORD_HASH_COST,
}


def _list_elements(value: Any) -> int:
    """How many list elements ``value`` holds, at any depth (iterative)."""
    count, stack = 0, [value]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            stack.extend(current.values())
        elif isinstance(current, list):
            count += len(current)
            stack.extend(current)
    return count


class _Costing:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: VariableValues) -> None:
        self.schema = schema
        self.variables = variables
        self.fragments = {
            definition.name.value: definition
            for definition in document.definitions
            if isinstance(definition, FragmentDefinitionNode)
        }

    def selections(self, selection_set: SelectionSetNode, parent: Any, size: int | None) -> int:
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, size)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, target, size)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                target = self.schema.get_type(fragment.type_condition.name.value)
                total += self.selections(fragment.selection_set, target, size)
        return total

    def field(self, node: FieldNode, parent: GraphQLNamedType, pending_size: int | None) -> int:
        name = node.name.value
        if name == "__typename":
            return 0
        if name in ("__schema", "__type"):
            return INTROSPECTION_COST
        field = getattr(parent, "fields", {}).get(name)
        if field is None:
            return 1
        try:
            args = get_argument_values(field, node, self.variables)
        except GraphQLError:
            args = {}  # execution reports it; no resolver runs
        cost = 1 + WEIGHTS.get((parent.name, name), 0) + _list_elements(args)
        if node.selection_set is None:
            return cost
        limit = args.get("limit")
        size = limit if isinstance(limit, int) else None
        if size is None:
            size = next((len(value) for value in args.values() if isinstance(value, list)), None)
        child = get_named_type(field.type)
        if not is_list_type(get_nullable_type(field.type)):
            return cost + self.selections(node.selection_set, child, size)
        if size is None:
            size = pending_size
        if size is None:
            size = SIZES.get((parent.name, name))
        if size is None:
            size = PAGE_SIZE if name == "results" and "totalPages" in parent.fields else DEFAULT_LIST_SIZE
        return cost + max(size, 0) * self.selections(node.selection_set, child, None)


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: VariableValues,
) -> int:
    """The cost of ``operation`` with its coerced ``variables``."""
    root = schema.get_root_type(operation.operation)
    return _Costing(schema, document, variables).selections(operation.selection_set, root, None)


class CostBudget(SchemaExtension):
    """Refuses an operation that costs more than ``GRAPHQL_MAX_COST``, before it executes."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and context.result is None:
            cost = cost_of(
                context.schema._schema,
                context.query or "",
                context.graphql_document,
                context.operation_name,
                context.variables,
            )
            budget = settings.GRAPHQL_MAX_COST
            if cost is not None and cost > budget:
                refuse(
                    context,
                    InvalidInput(
                        f"This request would cost {cost}, over the budget of {budget} per request "
                        "(README, Request cost): ask for fewer or smaller lists.",
                        cost=cost,
                        budget=budget,
                    ),
                )
        yield


def cost_of(
    schema: GraphQLSchema,
    query: str,
    document: DocumentNode | None,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> int | None:
    """The cost of the operation to execute (None when its variables do not fit their types)."""
    if variables:
        return _cost(schema, document or parse(query), operation_name, variables)
    # Without variables the cost is the document's: computed once per query text.
    return _cost_of_text(schema, query, operation_name)


def _cost(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, raw_variables: dict[str, Any]
) -> int | None:
    """The cost of the operation to execute; None when its variables do not fit their types
    (execution then fails before any resolver runs)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    variables = get_variable_values(schema, operation.variable_definitions or (), raw_variables)
    if isinstance(variables, list):
        return None
    return operation_cost(schema, document, operation, variables)


@functools.lru_cache(maxsize=512)
def _cost_of_text(schema: GraphQLSchema, query: str, operation_name: str | None) -> int | None:
    return _cost(schema, parse(query), operation_name, {})
