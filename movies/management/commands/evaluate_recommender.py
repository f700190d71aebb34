"""``manage.py evaluate_recommender``: offline evaluation of the recommender on MovieLens.

Reads the research-licensed MovieLens files from ``../shared/data`` (or ``--path``) at run time;
nothing is written into the repository.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from movies.recommender.offline.evaluation import (
    DEFAULT_NEIGHBORS,
    evaluate_ml100k,
    evaluate_ml_latest_small,
    format_report,
)


class Command(BaseCommand):
    help = (
        "Evaluate the EASE recommender and baselines with the MS Recommenders protocol "
        "(per-user stratified 75/25 split, top-k, train items excluded) and print a markdown table."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dataset", choices=["ml-100k", "ml-latest-small"], default="ml-100k")
        parser.add_argument(
            "--path", default=None, help="dataset folder (default: ../shared/data/movielens/...)"
        )
        parser.add_argument("--tmdb-csv", default=None, help="TMDb catalogue CSV for ml-latest-small content")
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument(
            "--lambda",
            dest="lam",
            type=float,
            default=None,
            help="EASE lambda (binary X, no popularity blend); omit to tune on a validation split of train",
        )
        parser.add_argument(
            "--neighbors", type=int, default=DEFAULT_NEIGHBORS, help="top-N neighbours per item"
        )
        parser.add_argument("--no-progress", action="store_true", help="hide the tqdm progress bar")
        parser.add_argument(
            "--no-credits",
            action="store_true",
            help="ml-latest-small: leave directors and top-billed cast out of the content model",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        def log(message: str) -> None:
            self.stderr.write(message)

        common = {
            "k": options["k"],
            "seed": options["seed"],
            "lam": options["lam"],
            "n_neighbors": options["neighbors"],
            "progress": not options["no_progress"],
            "log": log,
        }
        try:
            if options["dataset"] == "ml-100k":
                report = evaluate_ml100k(options["path"], **common)
            else:
                report = evaluate_ml_latest_small(
                    options["path"], options["tmdb_csv"], with_credits=not options["no_credits"], **common
                )
        except FileNotFoundError as exc:
            missing = exc.filename or str(exc)
            raise CommandError(
                f"Data file not found: {missing} (pass --path / --tmdb-csv, or set SHARED_DATA_DIR)"
            ) from exc
        self.stdout.write(format_report(report))
