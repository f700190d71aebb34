"""``manage.py recommendation_reasons``: the reasons the served path gives, counted, and a sample.

Loads a MovieLens data set into the configured database (its MovieLens accounts and, for
ml-100k, its catalog are replaced: use a database of its own), trains as
``train_recommender`` does, asks every user for their top 10 through ``recommendations_for``
as of their last rating, and prints the figures and three users' lists
(``movies.recommender.offline.reason_figures``).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test import override_settings

from movies.recommender.offline import reason_figures, served


class Command(BaseCommand):
    help = "Count the kinds of reasons the served recommendations carry on MovieLens, and show three users'."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", choices=served.DATASETS, default="ml-latest-small")
        parser.add_argument(
            "--path", default=None, help="dataset folder (default: ../shared/data/movielens/...)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            ratings = served.dataset_ratings(options["dataset"], options["path"])
        except FileNotFoundError as exc:
            raise CommandError(f"Data file not found: {exc.filename or exc} (pass --path)") from exc
        # Nothing of an evaluation belongs in the shared cache: every answer is computed.
        with override_settings(
            CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
        ):
            found = reason_figures.serve(options["dataset"], ratings, options["path"], say=self.stderr.write)
        self.stdout.write(reason_figures.format_figures(found, reason_figures.figures(found.lists)))
        self.stdout.write("")
        self.stdout.write(reason_figures.format_sample(found, reason_figures.sample_users(found)))
