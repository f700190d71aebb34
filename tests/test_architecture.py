"""The import rules of the layout (README, "Where things live"), checked on the real import graph."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("backend", "schema", "movies", "accounts")
# Modules that may import strawberry and the schema: the GraphQL layer, and the
# URL map and the ASGI entry point that route /graphql to it.
GRAPHQL_LAYER = ("schema", "movies.graphql", "accounts.graphql")
COMPOSITION_ROOTS = ("backend.urls", "backend.asgi")
GRAPHQL_LIBRARIES = ("strawberry", "strawberry_django", "graphql")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, include_external_packages=True, cache_dir=None)


def _in(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


def test_the_import_contracts_in_pyproject_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert lint_imports(no_cache=True, no_logo=True) == 0, "run `.venv/bin/lint-imports` for the details"


def test_no_module_outside_the_graphql_layer_reaches_it(graph: grimp.ImportGraph) -> None:
    ours = sorted(m for m in graph.modules if _in(m, PACKAGES))
    domain = [m for m in ours if not _in(m, GRAPHQL_LAYER + COMPOSITION_ROOTS)]
    forbidden = {m for m in graph.modules if _in(m, GRAPHQL_LAYER + GRAPHQL_LIBRARIES)}
    offending = {
        module: sorted(graph.find_upstream_modules(module) & forbidden)
        for module in domain
        if graph.find_upstream_modules(module) & forbidden
    }
    assert not offending, offending


def _cycles(graph: grimp.ImportGraph, modules: list[str]) -> Iterator[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    members = set(modules)
    counter = 0
    for start in modules:
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start) & members)))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child) & members)))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    yield sorted(component)


def test_no_import_cycles_between_modules(graph: grimp.ImportGraph) -> None:
    ours = sorted(m for m in graph.modules if _in(m, PACKAGES))
    assert list(_cycles(graph, ours)) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "b", "c"):
        graph.add_module(name)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="a")
    graph.add_import(importer="b", imported="c")
    assert list(_cycles(graph, ["a", "b", "c"])) == [["a", "b"]]
