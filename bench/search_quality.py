"""Search quality of the local catalog on each engine, on the same cases: a markdown table.

Usage (the database must hold the bundled catalog: ``manage.py load_catalog``)::

    .venv/bin/python -m bench.search_quality                 # SQLite: the in-memory engine
    DATABASE_URL=postgres://... .venv/bin/python -m bench.search_quality   # both engines

``fuzzy`` is the in-memory rapidfuzz index (SQLite's, or ``CATALOG_SEARCH=fuzzy``);
``database`` is PostgreSQL's full-text + trigram ranking. A case counts as a hit
when the expected title (or name; a trailing ``*`` means "starts with") is first.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

# (typed query, what should come first)
MOVIE_CASES: list[tuple[str, str]] = [
    ("dark nite", "The Dark Knight"),
    ("dark knight", "The Dark Knight"),
    ("the dark knight rises", "The Dark Knight Rises"),
    ("dark knight rises", "The Dark Knight Rises"),
    ("godfathr", "The Godfather: Part II"),
    ("godfather part 2", "The Godfather: Part II"),
    ("avatar", "Avatar"),
    ("avatr", "Avatar"),
    ("star wars", "Star Wars"),
    ("lord of the rings", "The Lord of the Rings*"),
    ("jurasic park", "Jurassic Park"),
    ("terminatr", "Terminator*"),
    ("inceptoin", "Inception"),
    ("pirates carribean", "Pirates of the Caribbean*"),
    ("heat", "The Heat"),
    ("the matrix", "The Matrix"),
    ("spiderman", "Spider-Man"),
    ("titanik", "Titanic"),
    ("batman", "Batman"),
    ("toy story", "Toy Story"),
    ("fight club", "Fight Club"),
    ("interstelar", "Interstellar"),
    ("avengers", "The Avengers"),
    ("gladiatr", "Gladiator"),
    ("shawshank", "The Shawshank Redemption"),
    ("forest gump", "Forrest Gump"),
    ("hobit", "The Hobbit*"),
    ("x men", "X-Men*"),
]
PEOPLE_CASES: list[tuple[str, str]] = [
    ("nolan", "Christopher Nolan"),
    ("christopher nolan", "Christopher Nolan"),
    ("cristopher nolan", "Christopher Nolan"),
    ("bale", "Christian Bale"),
    ("cristian bale", "Christian Bale"),
    ("tom hanks", "Tom Hanks"),
    ("scarlet johanson", "Scarlett Johansson"),
    ("leonardo dicaprio", "Leonardo DiCaprio"),
    ("dicaprio", "Leonardo DiCaprio"),
    ("spielberg", "Steven Spielberg"),
    ("steven spilberg", "Steven Spielberg"),
    ("morgan freman", "Morgan Freeman"),
    ("hans zimmer", "Hans Zimmer"),
    ("zimmer", "Hans Zimmer"),
    ("ledger", "Heath Ledger"),
    ("brad pit", "Brad Pitt"),
    ("johny depp", "Johnny Depp"),
]


def is_hit(expected: str, found: str | None) -> bool:
    """Whether ``found`` is what the case expects (``*``: a prefix)."""
    if found is None:
        return False
    return found.startswith(expected[:-1]) if expected.endswith("*") else found == expected


def run_cases(
    search: Callable[[str], list[str]], cases: list[tuple[str, str]]
) -> tuple[list[str | None], float]:
    """The first result of each case and the mean milliseconds per search."""
    started = time.perf_counter()
    firsts = [next(iter(search(query)), None) for query, _ in cases]
    return firsts, (time.perf_counter() - started) * 1000 / len(cases)


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from movies.catalog.sources.local import LocalCatalogSource

    source = LocalCatalogSource()
    engines = ["fuzzy"] + (["database"] if connection.vendor == "postgresql" else [])
    for kind, cases, search in (
        ("movies", MOVIE_CASES, lambda q: [m.title for m in source.search(q, None, 1).results]),
        ("people", PEOPLE_CASES, lambda q: [p.name for p in source.search_people(q, 1).results]),
    ):
        results = {}
        for engine in engines:
            settings.CATALOG_SEARCH = "fuzzy" if engine == "fuzzy" else "auto"
            search(cases[0][0])  # builds the in-memory index outside the timing
            results[engine] = run_cases(search, cases)
        print(f"\n### {kind}: first result per engine\n")
        print("| query | expected | " + " | ".join(engines) + " |")
        print("|---|---|" + "---|" * len(engines))
        for i, (query, expected) in enumerate(cases):
            cells = [
                f"{'✓' if is_hit(expected, results[e][0][i]) else '✗'} {results[e][0][i] or '(none)'}"
                for e in engines
            ]
            print(f"| {query} | {expected} | " + " | ".join(cells) + " |")
        for engine in engines:
            firsts, ms = results[engine]
            hits = sum(is_hit(expected, first) for (_, expected), first in zip(cases, firsts, strict=True))
            print(f"\n{engine}: {hits}/{len(cases)} first, {ms:.1f} ms per search ({connection.vendor})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
