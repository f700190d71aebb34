"""Migration steps that run on PostgreSQL only (SQLite, the embedded default, skips them).

A module whose name starts with an underscore: Django's migration loader passes it over.
"""

from django.db import migrations


def on_postgres(forward: list[str], backward: list[str]) -> migrations.RunPython:
    """Runs ``forward`` (and ``backward`` when unapplied) as SQL statements, on PostgreSQL only."""

    def run(statements: list[str]):
        def apply(apps, schema_editor):
            if schema_editor.connection.vendor != "postgresql":
                return
            for statement in statements:
                schema_editor.execute(statement)

        return apply

    return migrations.RunPython(run(forward), run(backward))
