"""Fills the shared cache (and, with TMDb, the local tables) with what the home page reads first.

Run it after a deploy or from a scheduler: genres, every curated list's first
pages, and the details of the movies on them.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from backend.errors import UpstreamUnavailable
from movies.catalog import reads
from movies.records import ListKind

LISTS: tuple[ListKind, ...] = (
    "trending_day",
    "trending_week",
    "popular",
    "top_rated",
    "now_playing",
    "upcoming",
)


class Command(BaseCommand):
    help = "Warm the catalog cache: genres, the first pages of every list, and their movies' details."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--pages", type=int, default=3, help="pages per list (default 3)")

    def handle(self, *args: Any, pages: int, **options: Any) -> None:
        failures = 0
        movie_ids: set[int] = set()
        reads.genres()
        steps = [(kind, page) for kind in LISTS for page in range(1, pages + 1)]
        for kind, page in tqdm(steps, desc="lists", unit="page", disable=options["verbosity"] == 0):
            try:
                movie_ids.update(movie.id for movie in reads.movie_list(kind, page).results)
            except UpstreamUnavailable as error:
                failures += 1
                self.stderr.write(f"{kind} page {page}: {error}")
        reads.lookup(sorted(movie_ids))
        self.stdout.write(
            self.style.SUCCESS(f"Warmed {len(steps) - failures} list pages and {len(movie_ids)} movies.")
        )
