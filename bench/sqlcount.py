"""SQL queries per request, measured in the bench process with Django's test client.

Django is set up here against the same database, Redis db and fake TMDb as
the server (the caller sets the environment first), and the home-page query
runs through ``django.test.Client`` inside ``CaptureQueriesContext``: once
right after FLUSHDB (cold) and once more (warm).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass
class QueryCount:
    """One in-process request: SQL statements, upstream calls, and whether it answered cleanly."""

    label: str
    sql_queries: int
    upstream_calls: int
    ok: bool
    statements: list[str]


def measure(
    env: Mapping[str, str], query: str, flush: Callable[[], None], upstream_count: Callable[[], int]
) -> list[QueryCount]:
    """Cold then warm counts of ``query``; ``env`` is applied to ``os.environ`` before Django starts."""
    os.environ.update(env)
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)  # the server's counters are not ours to touch
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

    import django

    django.setup()

    from django.db import connection, connections
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    # collectstatic has not run for the bench; WhiteNoise's finders serve the files.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    client = Client(HTTP_HOST="127.0.0.1")
    payload = json.dumps({"query": query})
    flush()
    counts = []
    try:
        for label in ("cold", "warm"):
            before = upstream_count()
            with CaptureQueriesContext(connection) as captured:
                response = client.post("/graphql", data=payload, content_type="application/json")
            ok = response.status_code == 200 and not json.loads(response.content).get("errors")
            counts.append(
                QueryCount(
                    label,
                    len(captured.captured_queries),
                    upstream_count() - before,
                    ok,
                    [item["sql"] for item in captured.captured_queries],
                )
            )
    finally:
        for conn in connections.all():
            conn.close()
            close_pool = getattr(conn, "close_pool", None)
            if close_pool is not None:
                close_pool()
    return counts


def summarize(statements: list[str], limit: int = 6) -> list[tuple[str, int]]:
    """The most frequent statement shapes (verb and table), with counts."""
    shapes: dict[str, int] = {}
    target_after = {"SELECT": "FROM", "DELETE": "FROM", "INSERT": "INTO", "UPDATE": "UPDATE"}
    for statement in statements:
        words = statement.replace('"', "").split()
        upper = [word.upper() for word in words]
        verb = upper[0] if upper else "?"
        keyword = target_after.get(verb)
        table = ""
        if keyword in upper and upper.index(keyword) + 1 < len(words):
            table = " " + words[upper.index(keyword) + 1]
        shape = f"{verb}{table}"
        shapes[shape] = shapes.get(shape, 0) + 1
    return sorted(shapes.items(), key=lambda item: -item[1])[:limit]
