"""Every string and list a client sends, checked in one place before any resolver runs.

PostgreSQL cannot store a NUL character and UTF-8 cannot encode a lone
surrogate: either, in any argument or input field, used to reach the database
or a cache as an unexpected error. Lists are bounded here too, whatever the
field, so no resolver has to count them first. Literals in the document are
checked by a validation rule (cached with the document); variables, which
change per request, by a schema extension before execution.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from graphql import (
    ArgumentNode,
    GraphQLError,
    ListValueNode,
    Node,
    ObjectFieldNode,
    StringValueNode,
    ValidationRule,
)
from strawberry.extensions import SchemaExtension

from backend.errors import InvalidInput
from schema.errors import refuse


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be accepted as text, or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must not contain unpaired surrogate characters"
    return None


def list_problem(length: int) -> str | None:
    """Why a list of ``length`` items is too long, or None."""
    limit = settings.GRAPHQL_MAX_LIST_LENGTH
    return f"must have at most {limit} items" if length > limit else None


def _values(name: str, value: Any) -> Iterator[tuple[str, Any]]:
    """Every value inside a variable's JSON, with where it sits; iterative, so deep nesting is safe."""
    stack = [(name, value)]
    while stack:
        where, current = stack.pop()
        yield where, current
        if isinstance(current, dict):
            stack.extend((f"{where}.{key}", item) for key, item in current.items())
        elif isinstance(current, list):
            stack.extend((f"{where}[{index}]", item) for index, item in enumerate(current))


def variables_problem(variables: dict[str, Any]) -> str | None:
    """The first message about an unacceptable string or list in ``variables``, or None."""
    for name, value in variables.items():
        for where, current in _values(f"${name}", value):
            if isinstance(current, str):
                problem = text_problem(current)
            elif isinstance(current, dict):
                problem = next((text_problem(key) for key in current if text_problem(key)), None)
            elif isinstance(current, list):
                problem = list_problem(len(current))
            else:
                problem = None
            if problem:
                return f"Variable {where} {problem}."
    return None


def _argument_name(parent: Any, ancestors: list[Node]) -> str:
    for node in reversed([*ancestors, parent]):
        if isinstance(node, (ArgumentNode, ObjectFieldNode)):
            return node.name.value
    return "value"


class InputLiteralsRule(ValidationRule):
    """Validation rule: string and list literals in the document (arguments, input fields, defaults)."""

    def enter_string_value(
        self, node: StringValueNode, _key: Any, parent: Any, _path: Any, ancestors: Any
    ) -> None:
        problem = text_problem(node.value)
        if problem:
            self.report_error(
                GraphQLError(f"Argument '{_argument_name(parent, ancestors)}' {problem}.", node)
            )

    def enter_list_value(
        self, node: ListValueNode, _key: Any, parent: Any, _path: Any, ancestors: Any
    ) -> None:
        problem = list_problem(len(node.values))
        if problem:
            self.report_error(
                GraphQLError(f"Argument '{_argument_name(parent, ancestors)}' {problem}.", node)
            )


class InputVariables(SchemaExtension):
    """Refuses a request whose variables hold an unacceptable string or an over-long list."""

    def on_execute(self) -> Iterator[None]:
        problem = variables_problem(self.execution_context.variables or {})
        if problem:
            refuse(self.execution_context, InvalidInput(problem))
        yield
