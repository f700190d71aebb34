"""Bulk inserts of many plain rows: COPY on PostgreSQL, batched executemany elsewhere.

For loaders that write history with its own timestamps (benchmarks, the served-path
evaluation): model signals and ``auto_now`` fields are bypassed on purpose, so the
callers recount what signals would have counted (``activity.rebuild``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction

BATCH = 20_000


def copy_rows(table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Inserts ``rows`` (tuples in ``columns`` order) into ``table`` in one transaction."""
    if not rows:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        for start in range(0, len(rows), BATCH):
            cursor.executemany(sql, rows[start : start + BATCH])
