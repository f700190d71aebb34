"""Trains the collaborative model on all users' interactions and publishes it as the newest version.

Serving processes pick up the new version within a minute, without a restart.
The ``movies.retrain_recommender`` task does the same on a schedule.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from movies.recommender.ease import DEFAULT_NEIGHBORS
from movies.recommender.training import PRODUCTION_CONFIG, NothingToTrain, train_and_publish


class Command(BaseCommand):
    help = "Train the recommender's item-item model (EASE) from all users' favorites, ratings and watchlists."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--lambda", dest="lam", type=float, default=PRODUCTION_CONFIG.lam_relative, help="relative lambda"
        )
        parser.add_argument("--neighbors", type=int, default=DEFAULT_NEIGHBORS)

    def handle(self, *args: Any, lam: float, neighbors: int, **options: Any) -> None:
        config = dataclasses.replace(PRODUCTION_CONFIG, lam_relative=lam)
        try:
            result = train_and_publish(config, neighbors, progress=options["verbosity"] > 0)
        except NothingToTrain as error:
            raise CommandError(f"{error} (recommendations use content and priors).") from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Trained on {result.users} users, {result.movies} movies, {result.interactions} interactions "
                f"in {result.seconds:.2f}s; published version {result.version}"
            )
        )
