"""The reasons users get, counted: a MovieLens data set loaded into the real models
(``served.load_into_models``, every rating with its own time), ``train_recommender``'s
training, then each user's top ``LIMIT`` from ``recommendations_for`` (what the
``recommendations`` resolver calls) as of their last rating, when they would ask.

Figures: the share of recommendations carrying each kind of reason (any of its
one to three), the share whose first reason is of that kind, and the share of
lists where one reason is on more than half of the list (reasons that differ
only in their figures, "Highly rated: 8.1/10 …" and "Highly rated: 7.6/10 …",
count as one; so do "Popular right now" and "Popular in Crime, …"), beside the
same by kind (which may well hold: "Because you liked A" and "Because you liked
B" are one kind, two reasons). And a sample: three users (few, middling and
many liked films), their best-rated films and their top ``LIMIT`` with reasons.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from movies.models import Movie
from movies.recommender import serving, training
from movies.recommender.offline.evaluation import Ratings
from movies.recommender.offline.served import load_into_models
from movies.recommender.offline.served_evaluation import last_moments
from movies.recommender.reasons import LIKED_MIN_RATING

LIMIT = 10
SAMPLE_LIKED = 5
# How each reason begins, and the kind it is counted as.
KINDS = (
    ("Because you liked ", "Because you liked (a liked film)"),
    ("Similar to ", "Similar to (a liked film)"),
    ("Directed by ", "Directed by (a director)"),
    ("Starring ", "Starring (an actor)"),
    ("Matches your favorite genre", "Matches your favorite genre"),
    ("Popular", "Popular"),
    ("Highly rated", "Highly rated"),
    ("Trending", "Trending"),
    ("Rated ", "Rated x/10 by n viewers (the film's figures)"),
)
# Kinds whose reasons differ only in their figures: one reason each.
FIGURE_KINDS = {"Popular", "Highly rated", "Trending", "Rated x/10 by n viewers (the film's figures)"}
Say = Callable[[str], None]


def kind_of(reason: str) -> str:
    """The kind a reason is counted as (``KINDS``), or "other"."""
    return next((kind for prefix, kind in KINDS if reason.startswith(prefix)), "other")


def reason_key(reason: str) -> str:
    """The reason as the share cap counts it: its kind when only figures tell it apart, else its text."""
    kind = kind_of(reason)
    return kind if kind in FIGURE_KINDS else reason


@dataclass(frozen=True)
class Served:
    """Each MovieLens user's list as served: ``(movie id, title, reasons)`` per pick."""

    dataset: str
    ratings: Ratings
    lists: dict[int, list[tuple[int, str, tuple[str, ...]]]]
    load_seconds: float
    train_seconds: float


def serve(dataset: str, ratings: Ratings, path: Any = None, limit: int = LIMIT, say: Say = print) -> Served:
    """Loads ``ratings`` into the models, trains, and asks every user for their top ``limit``."""
    import time

    loaded = load_into_models(dataset, ratings, path)
    say(f"loaded {loaded.ratings} ratings of {len(loaded.account_of)} users in {loaded.seconds:.1f} s")
    started = time.perf_counter()
    training.train_and_publish()
    trained = time.perf_counter() - started
    serving.get_recommender().refresh(force=True)
    as_of = last_moments(ratings)
    lists = {}
    for user in sorted(loaded.account_of):
        found = serving.recommendations_for(loaded.account_of[user], limit, as_of=as_of[user])
        lists[user] = [(item.movie_id, record.title, item.reasons) for item, record in found]
    say(f"asked {len(lists)} users for their top {limit}")
    return Served(dataset, ratings, lists, loaded.seconds, trained)


@dataclass(frozen=True)
class Figures:
    """How often each kind of reason is given, and how often one reason covers most of a list."""

    lists: int
    recommendations: int
    carrying: dict[str, float]
    first: dict[str, float]
    dominated_by_reason: float
    dominated_by_kind: float


def figures(lists: Mapping[int, list[tuple[int, str, tuple[str, ...]]]]) -> Figures:
    """The shares of ``Figures`` over every non-empty list."""
    carrying: Counter[str] = Counter()
    first: Counter[str] = Counter()
    by_reason = by_kind = 0
    n_lists = n_recs = 0
    for picks in lists.values():
        if not picks:
            continue
        n_lists += 1
        n_recs += len(picks)
        reason_counts: Counter[str] = Counter()
        kind_counts: Counter[str] = Counter()
        for _, _, reasons in picks:
            kinds = {kind_of(reason) for reason in reasons}
            carrying.update(kinds)
            first[kind_of(reasons[0])] += 1
            reason_counts.update({reason_key(reason) for reason in reasons})
            kind_counts.update(kinds)
        by_reason += max(reason_counts.values()) > len(picks) / 2
        by_kind += max(kind_counts.values()) > len(picks) / 2
    kinds = [kind for _, kind in KINDS] + ["other"]
    return Figures(
        n_lists,
        n_recs,
        {kind: carrying[kind] / max(n_recs, 1) for kind in kinds},
        {kind: first[kind] / max(n_recs, 1) for kind in kinds},
        by_reason / max(n_lists, 1),
        by_kind / max(n_lists, 1),
    )


def format_figures(served: Served, found: Figures) -> str:
    """The figures as a markdown table and two lines."""
    lines = [
        f"### Reasons on {served.dataset}, served path: {found.lists} users' top {LIMIT} "
        f"({found.recommendations} recommendations)",
        "",
        "| Kind of reason | Recommendations carrying it | As the first reason |",
        "|---|---|---|",
    ]
    for kind, share in found.carrying.items():
        if share or found.first[kind]:
            lines.append(f"| {kind} | {100 * share:.1f}% | {100 * found.first[kind]:.1f}% |")
    lines += [
        "",
        f"Lists where one reason is on more than half of the list: {100 * found.dominated_by_reason:.1f}%; "
        f"where one kind is: {100 * found.dominated_by_kind:.1f}%.",
        f"Load {served.load_seconds:.1f} s, training {served.train_seconds:.1f} s.",
    ]
    return "\n".join(lines)


def sample_users(served: Served) -> list[int]:
    """Three users with lists: the fewest liked films (two at least, so a spread can show), the
    median, and the most (ties to the lowest id)."""
    liked = _liked_counts(served.ratings)
    candidates = sorted((n, user) for user, n in liked.items() if n >= 2 and served.lists.get(user))
    if not candidates:
        return []
    picks = [candidates[0], candidates[len(candidates) // 2], max(candidates, key=lambda c: (c[0], -c[1]))]
    chosen: list[int] = []
    for _, user in picks:
        if user not in chosen:
            chosen.append(user)
    return chosen


def _liked_counts(ratings: Ratings) -> dict[int, int]:
    counts: Counter[int] = Counter(ratings.users[ratings.ratings >= LIKED_MIN_RATING].tolist())
    return {int(user): counts.get(int(user), 0) for user in np.unique(ratings.users).tolist()}


def format_sample(served: Served, users: list[int]) -> str:
    """Each sampled user's best-rated films and their list with its reasons, as markdown."""
    ratings = served.ratings
    titles = dict(Movie.objects.filter(id__in=np.unique(ratings.items).tolist()).values_list("id", "title"))
    liked = _liked_counts(ratings)
    lines = [f"### A sample of reasons on {served.dataset}: three users' top {LIMIT}"]
    for user in users:
        rows = np.flatnonzero(ratings.users == user)
        # Best-rated first, then the most recent.
        order = sorted(rows.tolist(), key=lambda r: (-ratings.ratings[r], -ratings.timestamps[r]))
        best = [
            f"{titles.get(int(ratings.items[r]), ratings.items[r])} ({ratings.ratings[r]:g})" for r in order
        ]
        lines += [
            "",
            f"**MovieLens user {user}**: {len(rows)} ratings, {liked[user]} liked (rated "
            f"{LIKED_MIN_RATING:g} or more); best rated: {', '.join(best[:SAMPLE_LIKED])}",
            "",
            "| # | Recommended | Reasons |",
            "|---|---|---|",
        ]
        for position, (_, title, reasons) in enumerate(served.lists[user], start=1):
            lines.append(f"| {position} | {title} | {'; '.join(reasons)} |")
    return "\n".join(lines)
