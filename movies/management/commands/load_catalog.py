"""Loads the bundled (or a given) catalog file into the catalog tables; idempotent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from movies.catalog.importer import BUNDLED_CATALOG, read_catalog
from movies.catalog.store import BATCH_SIZE, replace_credits, upsert_genres, upsert_movies
from movies.models import Movie


class Command(BaseCommand):
    help = "Load the offline movie catalog into the database (safe to run again)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--path", type=Path, default=BUNDLED_CATALOG, help="catalog .json.gz file")
        parser.add_argument(
            "--if-empty", action="store_true", help="do nothing when the database already has movies"
        )

    def handle(self, *args: Any, path: Path, if_empty: bool, **options: Any) -> None:
        if if_empty and Movie.objects.exists():
            self.stdout.write("Catalog already loaded; nothing to do.")
            return
        catalog = read_catalog(path)
        movies = catalog.movies
        upsert_genres(catalog.genres)
        with tqdm(
            total=len(movies), unit="movie", disable=options["verbosity"] == 0, file=self.stderr
        ) as bar:
            for start in range(0, len(movies), BATCH_SIZE):
                chunk = movies[start : start + BATCH_SIZE]
                upsert_movies(chunk)
                bar.update(len(chunk))
        # In one go: people appear in many films, so per-chunk writes would upsert them many times.
        credit_rows = replace_credits(catalog.credits)
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {len(catalog.genres)} genres, {len(movies)} movies and {credit_rows} credits "
                f"from {path.name}."
            )
        )
