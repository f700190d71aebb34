"""Signed-in catalog queries: the viewer-independent answer, with the viewer's fields spliced in.

A signed-in home page differs from the anonymous one only in its per-viewer
leaves (``Movie.isFavorite``, ``inWatchlist``, ``myRating``), yet executing it
costs graphql-core and strawberry hundreds of fields. When an operation reads
only catalog roots and its per-viewer fields are plain leaves of Movie
selections, ``split`` gives the same query without them (with the movie's id
asked for under ``ID_ALIAS`` where the selection lacks a plain ``id``). The view
answers that one as it answers an anonymous query (schema.response_cache keeps
it, so it usually does not execute), reads the viewer's state of every movie in
it with one query per kind, and ``splice`` rebuilds the original answer in the
original field order: the same bytes as executing it (tests compare them).
``template`` encodes that answer once with holes where the viewer's values go,
so the next viewers' answers are its bytes filled in (``Template.fill``),
with no decoding, splicing or encoding; schema.replay fills it before Django.

Anything else (fragments, directives, interfaces or unions on the way, ``me``,
``recommendations``, a mutation, an invalid or too large document) is not
split, and executes as usual.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    NameNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    get_operation_ast,
    parse,
    print_ast,
)

MOVIE_TYPE = "Movie"
# GraphQL field -> the kind of viewer state it reads (accounts.viewer_state).
VIEWER_FIELDS = {"isFavorite": "favorite", "inWatchlist": "watchlist", "myRating": "rating"}
VIEWER_ROOTS = frozenset({"me", "recommendations"})
ID_ALIAS = "_viewerMovieId"


@dataclass(frozen=True)
class Field:
    """One response key of a selection: a plain value, a viewer field, or a nested selection."""

    key: str
    viewer: str | None = None
    child: Level | None = None


@dataclass(frozen=True)
class Level:
    """One selection set: its keys in order, and where its movie id is when it has viewer fields."""

    fields: tuple[Field, ...]
    id_key: str | None = None


@dataclass(frozen=True)
class Split:
    """The viewer-independent query, and how to rebuild the original answer from its answer."""

    query: str
    root: Level
    kinds: frozenset[str]


def _level(
    selection_set: SelectionSetNode, parent: GraphQLObjectType, kinds: set[str]
) -> tuple[Level, list[FieldNode]] | None:
    fields: list[Field] = []
    kept: list[FieldNode] = []
    plain_id = viewer = False
    for selection in selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives:
            return None
        name = selection.name.value
        key = selection.alias.value if selection.alias else name
        if key == ID_ALIAS or any(field.key == key for field in fields):
            return None  # merged duplicates are left to graphql-core
        if name == "__typename":
            fields.append(Field(key))
            kept.append(selection)
            continue
        definition = parent.fields.get(name)
        if definition is None:
            return None
        if parent.name == MOVIE_TYPE and name in VIEWER_FIELDS:
            if selection.arguments or selection.selection_set:
                return None
            kinds.add(VIEWER_FIELDS[name])
            fields.append(Field(key, viewer=VIEWER_FIELDS[name]))
            viewer = True
            continue
        plain_id = plain_id or (name == "id" and selection.alias is None)
        if selection.selection_set is None:
            fields.append(Field(key))
            kept.append(selection)
            continue
        inner = get_named_type(definition.type)
        if not isinstance(inner, GraphQLObjectType):
            return None
        nested = _level(selection.selection_set, inner, kinds)
        if nested is None:
            return None
        child, child_kept = nested
        fields.append(Field(key, child=child))
        kept.append(
            FieldNode(
                alias=selection.alias,
                name=selection.name,
                arguments=selection.arguments,
                directives=(),
                selection_set=SelectionSetNode(selections=tuple(child_kept)),
            )
        )
    id_key = None
    if viewer:
        id_key = "id" if plain_id else ID_ALIAS
        if not plain_id:
            kept.append(
                FieldNode(
                    alias=NameNode(value=ID_ALIAS), name=NameNode(value="id"), arguments=(), directives=()
                )
            )
    return Level(tuple(fields), id_key), kept


def _aliases(selection_set: SelectionSetNode | None) -> int:
    if selection_set is None:
        return 0
    return sum(
        (selection.alias is not None) + _aliases(selection.selection_set)
        for selection in selection_set.selections
        if isinstance(selection, FieldNode)
    )


@functools.lru_cache(maxsize=512)
def split(schema: GraphQLSchema, query: str, operation_name: str | None) -> Split | None:
    """The viewer-independent form of a query, or None when it must execute as it is."""
    try:
        document = parse(query, max_tokens=settings.GRAPHQL_MAX_TOKENS)
    except GraphQLError:
        return None
    if len(document.definitions) != 1:
        return None  # fragments, or operations to choose among: executed as usual
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY or operation.directives:
        return None
    if any(
        isinstance(s, FieldNode) and s.name.value in VIEWER_ROOTS for s in operation.selection_set.selections
    ):
        return None
    if _aliases(operation.selection_set) > settings.GRAPHQL_MAX_ALIASES:
        return None  # the stripped query would hide the viewer fields' aliases from the limit
    kinds: set[str] = set()
    built = _level(operation.selection_set, schema.query_type, kinds)  # type: ignore[arg-type]
    if built is None or not kinds:
        return None
    root, kept = built
    if root.id_key is not None:
        return None  # viewer fields on the root type: not a movie
    stripped = operation.__class__(
        operation=operation.operation,
        name=operation.name,
        variable_definitions=operation.variable_definitions,
        directives=(),
        selection_set=SelectionSetNode(selections=tuple(kept)),
    )
    return Split(print_ast(stripped), root, frozenset(kinds))


class State(Protocol):
    """The viewer's values (accounts.viewer_state.ViewerState)."""

    def value(self, kind: str, movie_id: Any) -> bool | float | None: ...


ViewerValue = Callable[[str, Any], Any]


def splice(level: Level, data: Any, value: ViewerValue) -> Any:
    """The original answer: ``data`` (the split query's) with ``value(kind, movie_id)`` for each viewer
    field, in the original order."""
    if isinstance(data, list):
        return [splice(level, item, value) for item in data]
    if not isinstance(data, dict):
        return data
    movie_id = data.get(level.id_key) if level.id_key is not None else None
    out: dict[str, Any] = {}
    for field in level.fields:
        if field.viewer is not None:
            out[field.key] = value(field.viewer, movie_id)
        elif field.child is not None:
            out[field.key] = splice(field.child, data[field.key], value)
        else:
            out[field.key] = data[field.key]
    return out


# A string no answer holds (a NUL and this process's random part), left where a viewer's value goes.
_HOLE = "\x00viewer-" + secrets.token_hex(8) + "-"
_HOLES = re.compile(re.escape(json.dumps(_HOLE)[:-1]) + r'(\d+)"')


def _encoded(value: Any) -> bytes:
    if value is True:
        return b"true"
    if value is False:
        return b"false"
    if value is None:
        return b"null"
    return json.dumps(value).encode()


@dataclass(frozen=True)
class Template:
    """A spliced answer's bytes with holes for the viewer's values: ``parts`` around ``holes``."""

    parts: tuple[bytes, ...]
    holes: tuple[tuple[str, Any], ...]
    # When the viewer-independent answer it was made from expires (time.monotonic).
    expires: float

    @property
    def size(self) -> int:
        """Roughly the bytes it holds (schema.response_cache sizes what it keeps by them)."""
        return sum(map(len, self.parts)) + 16 * len(self.holes)

    def fill(self, state: State) -> bytes:
        """The answer for the viewer of ``state``: the same bytes as splicing and encoding it."""
        out = [self.parts[0]]
        for (kind, movie_id), part in zip(self.holes, self.parts[1:], strict=True):
            out.append(_encoded(state.value(kind, movie_id)))
            out.append(part)
        return b"".join(out)

    def lengths(self) -> tuple[int, int]:
        """The shortest and the longest answer it fills (the GZip middleware compresses from 200 bytes)."""
        # true or null (4 bytes), a score such as 4.5 (3); false (5), a score or null (at most 4).
        fixed = sum(map(len, self.parts))
        shortest = sum(3 if kind == "rating" else 4 for kind, _ in self.holes)
        return fixed + shortest, fixed + 5 * len(self.holes)


def template(level: Level, data: Any, encode: Callable[[Any], str], expires: float) -> Template | None:
    """``{"data": splice(...)}`` encoded by ``encode`` once, with holes; None if it cannot be made."""
    holes: list[tuple[str, Any]] = []

    def hole(kind: str, movie_id: Any) -> str:
        holes.append((kind, movie_id))
        return f"{_HOLE}{len(holes) - 1}"

    pieces = _HOLES.split(encode({"data": splice(level, data, hole)}))
    if pieces[1::2] != [str(index) for index in range(len(holes))]:
        return None  # an encoder that escapes otherwise: spliced per request instead
    return Template(tuple(piece.encode() for piece in pieces[0::2]), tuple(holes), expires)
