"""Uncached recommendation latency with ml-latest-small in the models: prints figures.

Usage (a database of its own: the MovieLens accounts in it are replaced)::

    DATABASE_URL=postgres://.../<db> .venv/bin/python -m bench.recommend_latency [--users 300]

Loads every ml-latest-small rating into the models (``served.load_into_models``:
one account per user, the bundled catalog), trains and publishes the model as
``train_recommender`` does, then calls ``recommendations_for(user, 20)`` (the
``recommendations`` resolver's function) for sampled users with the cache off,
so every call computes: the user's rows, preferences and the whole scoring,
reasons included. Prints p50/p95/max of the whole call and of its parts
(the user's queries; ``recommend``, and inside it the components, the ranking
with its diversity pass, and the reasons). Never fails on timing.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def _timed(samples: list[float], fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    samples.append((time.perf_counter() - started) * 1000.0)
    return result


def _line(name: str, samples: list[float]) -> str:
    values = np.asarray(samples)
    return (
        f"| {name} | {np.percentile(values, 50):.2f} | {np.percentile(values, 95):.2f} | {values.max():.2f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.recommend_latency", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--users", type=int, default=300, help="users sampled (each asked once, after a warm-up)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--reuse", action="store_true", help="keep the accounts and model already loaded")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    import django

    django.setup()
    from django.test import override_settings

    from accounts.models import User
    from movies.recommender import serving, training
    from movies.recommender.offline import served

    started = time.perf_counter()
    if not args.reuse:
        loaded = served.load_into_models("ml-latest-small", served.dataset_ratings("ml-latest-small"))
        training.train_and_publish()
        print(
            f"loaded {loaded.ratings} ratings ({loaded.favorites} favorites) of {len(loaded.account_of)} users "
            f"and trained in {time.perf_counter() - started:.1f} s"
        )
    accounts = list(
        User.objects.filter(username__startswith=served.USERNAME_PREFIX).values_list("id", flat=True)
    )
    if not accounts:
        print("no MovieLens accounts: run without --reuse", file=sys.stderr)
        return 1
    random.Random(args.seed).shuffle(accounts)
    sample = accounts[: args.users]
    recommender = serving.get_recommender()
    recommender.refresh(force=True)
    snap = recommender.snapshot()
    parts: dict[str, list[float]] = {
        name: [] for name in ("call", "queries", "components", "rank", "recommend")
    }
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}):
        for account in accounts[:20]:  # warm-up: connections, first-use allocations
            serving.recommendations_for(account, 20)
        for account in sample:
            _timed(parts["call"], serving.recommendations_for, account, 20)
            # The same work in parts, to show where the time goes.
            queries_started = time.perf_counter()
            interactions, seen = serving.user_interactions(account)
            prefs = serving.user_preferences(account)
            parts["queries"].append((time.perf_counter() - queries_started) * 1000.0)
            blend = serving.current_blend()
            scored = _timed(
                parts["components"],
                serving.Recommender.components,
                snap,
                interactions,
                prefs,
                blend.recency_half_life_days,
            )
            allowed = serving.Recommender._allowed(snap.index, prefs, seen)
            weights = blend.weights_for(len(scored.positives))
            _timed(
                parts["rank"],
                serving.Recommender.rank,
                snap.index,
                scored.values,
                weights,
                allowed,
                20,
                blend.diversity,
            )
            _timed(parts["recommend"], recommender.recommend, interactions, seen, prefs, 20, snap)
    histories = [len(serving.user_interactions(a)[0]) for a in sample[:50]]
    print(
        f"{len(sample)} users of {len(accounts)}, catalog {len(snap.index)} films, model "
        f"{snap.model.n_items if snap.model else 0} films; median history {int(np.median(histories))} films"
    )
    print("\n| ms per user, uncached | p50 | p95 | max |\n| --- | ---: | ---: | ---: |")
    print(_line("recommendations_for(user, 20)", parts["call"]))
    print(_line("  the user's rows and preferences (queries)", parts["queries"]))
    print(_line("  recommend (components, ranking, reasons)", parts["recommend"]))
    print(_line("    components", parts["components"]))
    print(_line("    ranking with the diversity pass", parts["rank"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
