"""``manage.py evaluate_recommender``: offline evaluation of the recommender on MovieLens.

Reads the research-licensed MovieLens files from ``../shared/data`` (or ``--path``) at run time;
nothing is written into the repository. ``--served`` measures the served path instead: it loads
the data set into the configured database (its MovieLens accounts and, for ml-100k, its
catalog are replaced: use a database of its own) and scores what ``recommendations_for`` returns;
``--select`` chooses the hybrid's blend on ml-100k validation splits and prints it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.test import override_settings

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
            "--served",
            action="store_true",
            help="score the served path (loads the data set into this database) on both protocols",
        )
        parser.add_argument(
            "--protocol",
            choices=["both", "microsoft", "time"],
            default="both",
            help="--served: which protocol(s)",
        )
        parser.add_argument(
            "--select",
            action="store_true",
            help="choose the hybrid's blend on ml-100k validation splits of both protocols and print it",
        )
        parser.add_argument(
            "--select-rounds",
            type=int,
            default=2,
            help="--select: coordinate-ascent rounds from serving.BLEND before pruning (0: prune only)",
        )
        parser.add_argument(
            "--no-credits",
            action="store_true",
            help="ml-latest-small: leave directors and top-billed cast out of the content model",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        def log(message: str) -> None:
            self.stderr.write(message)

        if options["served"] or options["select"]:
            self._served(options, log)
            return
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

    def _served(self, options: dict[str, Any], log: Callable[[str], None]) -> None:
        from movies.recommender import serving
        from movies.recommender.offline import served, served_evaluation

        dataset = options["dataset"]
        if options["select"] and dataset != "ml-100k":
            raise CommandError("--select runs on ml-100k only: ml-latest-small is for reporting")
        try:
            ratings = served.dataset_ratings(dataset, options["path"])
        except FileNotFoundError as exc:
            raise CommandError(f"Data file not found: {exc.filename or exc} (pass --path)") from exc
        protocols = served_evaluation.PROTOCOLS if options["protocol"] == "both" else (options["protocol"],)
        item_ids = np.unique(ratings.items)
        # Nothing of an evaluation belongs in the shared cache: every answer is computed.
        with override_settings(
            CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
        ):
            if options["select"]:
                validations = [
                    served_evaluation.validation_components(
                        dataset, p, ratings, options["path"], options["seed"], log
                    )
                    for p in protocols
                ]
                blend, steps = served_evaluation.select_blend(
                    validations, serving.BLEND, options["select_rounds"], say=log
                )
                for protocol, validation in zip(protocols, validations, strict=True):
                    for name, chosen in (("start", serving.BLEND), ("selected", blend)):
                        all_users, few = served_evaluation.validation_score(validation, chosen)
                        self.stdout.write(
                            f"validation {protocol}, {name}: nDCG@10 {all_users:.4f}, "
                            f"<= {served_evaluation.FEW_POSITIVES} positives {few:.4f}"
                        )
                self.stdout.write("\n".join(steps))
                self.stdout.write("Selected: " + served_evaluation.format_blend(blend))
                return
            for protocol in protocols:
                report = served_evaluation.evaluate_protocol(
                    dataset, protocol, ratings, item_ids, options["path"], options["seed"], log
                )
                self.stdout.write(served_evaluation.format_protocol(report) + "\n")
