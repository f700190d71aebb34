"""Counter rows added to in one statement: ``INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n``.

Safe under concurrent writers on PostgreSQL and SQLite (3.24+) alike: no
read-then-write, no race between a missing row and its creation. Django's
``bulk_create(update_conflicts=True)`` can only overwrite a column, not add to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import connection, models


def add(
    model: type[models.Model],
    key: Mapping[str, Any],
    increments: Mapping[str, float],
    assign: Mapping[str, Any] | None = None,
) -> None:
    """Adds ``increments`` to the row of ``model`` with ``key`` (created at zero), and sets ``assign``.

    ``key`` must name the columns of a unique constraint of ``model``.
    """
    assign = dict(assign or {})
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = [*key, *increments, *assign]
    fields = {name: model._meta.get_field(name) for name in columns}
    values = [
        fields[name].get_db_prep_save(value, connection)
        for name, value in [*key.items(), *increments.items(), *assign.items()]
    ]
    updates = [f"{quote(name)} = {table}.{quote(name)} + excluded.{quote(name)}" for name in increments]
    updates += [f"{quote(name)} = excluded.{quote(name)}" for name in assign]
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(fields[name].column) for name in columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({', '.join(quote(fields[name].column) for name in key)}) "
        f"DO UPDATE SET {', '.join(updates)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
