"""Recomputes the per-day interaction counts (trending) from the favorites, ratings and watchlist rows.

Run it after importing interactions in bulk (rows with their own historical
timestamps land on their own days); the nightly task runs the same.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from movies.catalog import activity


class Command(BaseCommand):
    help = "Rebuild the per-day interaction counts behind trending from the interaction rows."

    def handle(self, *args: Any, **options: Any) -> None:
        rows = activity.rebuild()
        self.stdout.write(self.style.SUCCESS(f"Rebuilt {rows} movie-day counts."))
