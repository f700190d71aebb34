"""Fills the shared cache (and, with TMDb, the local tables) with what the home page reads first.

Run it after a deploy: genres, every curated list's first pages, and the
details of the movies on them. The ``movies.refresh_catalog_cache`` task keeps
them warm from then on.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from movies.catalog import warming


class Command(BaseCommand):
    help = "Warm the catalog cache: genres, the first pages of every list, and their movies' details."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--pages", type=int, default=3, help="pages per list (default 3)")

    def handle(self, *args: Any, pages: int, **options: Any) -> None:
        warmed = warming.warm(pages)
        for failure in warmed.failures:
            self.stderr.write(failure)
        self.stdout.write(self.style.SUCCESS(f"Warmed {warmed.pages} list pages and {warmed.movies} movies."))
