"""The served path measured: MovieLens in the models, ``train_recommender``'s training, and the
lists ``recommendations_for`` (what the ``recommendations`` resolver calls) returns.

Two protocols, each on the same loaded accounts:

- ``microsoft``: the Microsoft Recommenders split (per user stratified 75/25,
  seed 42), every test rating relevant;
- ``time``: per user, the last 20% of ratings by time are test, relevant when
  rated 4 or more.

Only the training rows are loaded, so test films are unseen by the served path.
Each user is asked as of their last training rating (``as_of``: the trending
prior then counts the week before it). Metrics: nDCG@10 and Recall@20, for all
users and for those with at most ``FEW_POSITIVES`` training ratings of 4 or more.

Beside the served hybrid (``serving.BLEND``): the core (the served
collaborative model alone, through the same function), plain EASE (binary,
lambda chosen on a validation split of the training rows), most popular, and one
row per component of the blend with that component switched off. Served minus
core is given as paired per-user differences with a normal 95% interval.

``select_blend`` chooses the blend on validation splits (the same protocol
applied to the training rows) of ml-100k on both protocols: each component's
scores are computed once per user through the serving code
(``Recommender.components``) and many settings ranked from them
(``Recommender.rank``), by coordinate ascent. Never run it on ml-latest-small.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from movies.catalog.activity import recent_interactions
from movies.recommender import serving, training
from movies.recommender.ease import fit_ease, top_k
from movies.recommender.offline.evaluation import PLAIN_LAMBDA_GRID, Ratings, build_split, dense_score_fn
from movies.recommender.offline.metrics import ndcg_at_k, recall_at_k
from movies.recommender.offline.served import load_into_models
from movies.recommender.offline.split import stratified_split, time_ordered_split

PROTOCOLS = ("microsoft", "time")
PROTOCOL_TITLES = {
    "microsoft": "Microsoft protocol (per-user stratified 75/25, seed 42, every test rating relevant)",
    "time": "time-ordered protocol (per user the last 20% by time, relevant: rated 4 or more)",
}
RELEVANT_MIN_RATING = 4.0
FEW_POSITIVES = 5
NDCG_K = 10
RECALL_K = 20
Say = Callable[[str], None]


# --- splits ----------------------------------------------------------------------------------
def split_rows(protocol: str, ratings: Ratings, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row indices of ``ratings`` under ``protocol``."""
    if protocol == "microsoft":
        return stratified_split(ratings.users, ratings.items, 0.75, seed)
    if protocol == "time":
        return time_ordered_split(ratings.users, ratings.timestamps, 0.2)
    raise ValueError(f"unknown protocol {protocol!r}")


def relevant_items(protocol: str, test: Ratings) -> dict[int, set[int]]:
    """MovieLens user -> the test films that count as hits."""
    keep = np.ones(len(test), bool) if protocol == "microsoft" else test.ratings >= RELEVANT_MIN_RATING
    truth: dict[int, set[int]] = {}
    for user, item in zip(test.users[keep].tolist(), test.items[keep].tolist(), strict=True):
        truth.setdefault(user, set()).add(item)
    return truth


def few_positive_users(train: Ratings) -> set[int]:
    """Users with at most ``FEW_POSITIVES`` training ratings of 4 or more (none included)."""
    positives: dict[int, int] = dict.fromkeys(np.unique(train.users).tolist(), 0)
    for user in train.users[train.ratings >= RELEVANT_MIN_RATING].tolist():
        positives[user] += 1
    return {user for user, n in positives.items() if n <= FEW_POSITIVES}


def last_moments(train: Ratings) -> dict[int, datetime]:
    """Each user's newest training rating: the moment they are asked for recommendations."""
    newest: dict[int, int] = {}
    for user, stamp in zip(train.users.tolist(), train.timestamps.tolist(), strict=True):
        newest[user] = max(newest.get(user, stamp), stamp)
    return {user: datetime.fromtimestamp(stamp, UTC) for user, stamp in newest.items()}


# --- per-user metrics ------------------------------------------------------------------------
@dataclass
class Scores:
    """Per-user nDCG@10 and Recall@20 of one row, over the users with relevant test films."""

    ndcg: dict[int, float]
    recall: dict[int, float]

    @classmethod
    def of(cls, lists: Mapping[int, list[int]], truth: Mapping[int, set[int]]) -> Scores:
        ndcg = {u: ndcg_at_k(lists.get(u, []), rel, NDCG_K) for u, rel in truth.items() if rel}
        recall = {u: recall_at_k(lists.get(u, []), rel, RECALL_K) for u, rel in truth.items() if rel}
        return cls(ndcg, recall)

    def mean(self, users: Iterable[int] | None = None) -> tuple[float, float, int]:
        """Mean nDCG@10, mean Recall@20 and the number of users (of ``users``, if given)."""
        chosen = list(self.ndcg) if users is None else [u for u in users if u in self.ndcg]
        if not chosen:
            return 0.0, 0.0, 0
        return (
            float(np.mean([self.ndcg[u] for u in chosen])),
            float(np.mean([self.recall[u] for u in chosen])),
            len(chosen),
        )


def paired_difference(
    a: Mapping[int, float], b: Mapping[int, float], users: Iterable[int]
) -> tuple[float, float]:
    """Mean of ``a - b`` over ``users`` and the half-width of its normal 95% interval."""
    diffs = np.array([a[u] - b[u] for u in users if u in a and u in b], dtype=np.float64)
    if diffs.size < 2:
        return float(diffs.mean()) if diffs.size else 0.0, float("nan")
    return float(diffs.mean()), float(1.96 * diffs.std(ddof=1) / math.sqrt(diffs.size))


# --- the served path -------------------------------------------------------------------------
@dataclass
class ServedData:
    """One protocol's training rows in the models, trained, with what scoring needs."""

    dataset: str
    protocol: str
    train: Ratings
    test: Ratings
    account_of: dict[int, int]
    as_of: dict[int, datetime]
    truth: dict[int, set[int]]
    few: set[int]
    load_seconds: float
    train_seconds: float


def prepare(dataset: str, protocol: str, train: Ratings, test: Ratings, path: Any = None) -> ServedData:
    """Loads ``train`` into the models, trains and publishes the model, reloads serving."""
    loaded = load_into_models(dataset, train, path)
    started = time.perf_counter()
    training.train_and_publish()
    trained = time.perf_counter() - started
    serving.get_recommender().refresh(force=True)
    return ServedData(
        dataset,
        protocol,
        train,
        test,
        loaded.account_of,
        last_moments(train),
        relevant_items(protocol, test),
        few_positive_users(train),
        loaded.seconds,
        trained,
    )


def served_lists(
    data: ServedData, blend: serving.Blend | None = None
) -> tuple[dict[int, list[int]], np.ndarray]:
    """Each test user's top ``RECALL_K`` from ``recommendations_for`` (with ``blend``, if given),
    and the wall time of each call in ms."""
    lists: dict[int, list[int]] = {}
    times: list[float] = []
    with serving.blend_override(blend or serving.BLEND):
        for user in sorted(data.truth):
            started = time.perf_counter()
            found = serving.recommendations_for(data.account_of[user], RECALL_K, as_of=data.as_of[user])
            times.append((time.perf_counter() - started) * 1000.0)
            lists[user] = [item.movie_id for item, _ in found]
    return lists, np.asarray(times)


def core_blend(blend: serving.Blend) -> serving.Blend:
    """The collaborative model alone: no other component, no diversity pass, no recency."""
    only = {name: 1.0 if name == "collab" else 0.0 for name in serving.COMPONENTS}
    return dataclasses.replace(blend, warm=only, cold=only, diversity=0.0, recency_half_life_days=None)


def ablations(blend: serving.Blend) -> list[tuple[str, serving.Blend]]:
    """One blend per component that is on, with that component off."""
    rows = []
    for name in serving.COMPONENTS:
        if name != "collab" and (blend.warm[name] or blend.cold[name]):
            warm, cold = dict(blend.warm), dict(blend.cold)
            warm[name] = cold[name] = 0.0
            rows.append((f"without {name}", dataclasses.replace(blend, warm=warm, cold=cold)))
    if blend.diversity:
        rows.append(("without diversity", dataclasses.replace(blend, diversity=0.0)))
    if blend.recency_half_life_days:
        rows.append(("without recency weighting", dataclasses.replace(blend, recency_half_life_days=None)))
    return rows


def _lists_from_scores(
    score: Callable[[np.ndarray, np.ndarray], np.ndarray], X: Any, user_ids: np.ndarray, item_ids: np.ndarray
) -> dict[int, list[int]]:
    lists: dict[int, list[int]] = {}
    for row, user in enumerate(user_ids.tolist()):
        start, end = X.indptr[row], X.indptr[row + 1]
        seen = X.indices[start:end].astype(np.int64)
        top, _ = top_k(score(seen, X.data[start:end]), RECALL_K, seen)
        lists[user] = item_ids[top].tolist()
    return lists


def plain_ease_lambda(protocol: str, train: Ratings, item_ids: np.ndarray, seed: int = 42) -> float:
    """The binary EASE lambda with the best validation nDCG@10 (validation carved from ``train``)."""
    fit_rows, val_rows = split_rows(protocol, train, seed + 1)
    fit, val = train.subset(fit_rows), train.subset(val_rows)
    data = build_split(fit, val, "binary", item_ids)
    truth = relevant_items(protocol, val)
    best = (-1.0, PLAIN_LAMBDA_GRID[0])
    for lam in PLAIN_LAMBDA_GRID:
        lists = _lists_from_scores(dense_score_fn(fit_ease(data.X, lam)), data.X, data.user_ids, item_ids)
        ndcg = float(np.mean(list(Scores.of(lists, truth).ndcg.values())))
        best = max(best, (ndcg, lam))
    return best[1]


def baseline_lists(data: ServedData, item_ids: np.ndarray, lam: float) -> dict[str, dict[int, list[int]]]:
    """Plain EASE (binary, ``lam``) and most popular, trained on the same training rows."""
    split = build_split(data.train, data.test, "binary", item_ids)
    counts = np.asarray((split.X != 0).sum(axis=0)).ravel().astype(np.float32)
    return {
        "plain": _lists_from_scores(
            dense_score_fn(fit_ease(split.X, lam)), split.X, split.user_ids, item_ids
        ),
        "popular": _lists_from_scores(lambda idx, w: counts, split.X, split.user_ids, item_ids),
    }


@dataclass
class Row:
    name: str
    scores: Scores
    note: str = ""


@dataclass
class ProtocolReport:
    dataset: str
    protocol: str
    data: ServedData
    rows: list[Row]
    p50_ms: float
    p95_ms: float
    notes: list[str] = field(default_factory=list)


def evaluate_protocol(
    dataset: str,
    protocol: str,
    ratings: Ratings,
    item_ids: np.ndarray,
    path: Any = None,
    seed: int = 42,
    say: Say | None = None,
) -> ProtocolReport:
    """Every row of one protocol's served-path table, computed in this run."""
    say = say or (lambda _message: None)
    train_rows, test_rows = split_rows(protocol, ratings, seed)
    train, test = ratings.subset(train_rows), ratings.subset(test_rows)
    say(f"{dataset} {protocol}: loading {len(train)} training ratings into the models and training ...")
    data = prepare(dataset, protocol, train, test, path)
    blend = serving.BLEND
    say(f"{dataset} {protocol}: served hybrid for {len(data.truth)} users ...")
    served, times = served_lists(data, blend)
    rows = [Row("Served hybrid (recommendations_for)", Scores.of(served, data.truth), "serving.BLEND")]
    say(f"{dataset} {protocol}: core ...")
    core, _ = served_lists(data, core_blend(blend))
    rows.append(Row("Core: served collaborative model alone", Scores.of(core, data.truth), "EDLAE EASE"))
    lam = plain_ease_lambda(protocol, train, item_ids, seed)
    baselines = baseline_lists(data, item_ids, lam)
    rows.append(Row("Plain EASE (binary)", Scores.of(baselines["plain"], data.truth), f"lambda={lam:g}"))
    rows.append(Row("Most popular", Scores.of(baselines["popular"], data.truth)))
    for name, variant in ablations(blend):
        say(f"{dataset} {protocol}: {name} ...")
        lists, _ = served_lists(data, variant)
        rows.append(Row(f"Served {name}", Scores.of(lists, data.truth), "ablation"))
    return ProtocolReport(
        dataset, protocol, data, rows, float(np.percentile(times, 50)), float(np.percentile(times, 95))
    )


def _f(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.4f}"


def format_protocol(report: ProtocolReport) -> str:
    """The markdown table of one protocol, with the paired differences and the targets."""
    data = report.data
    by_name = {row.name: row for row in report.rows}
    served, core = (
        by_name["Served hybrid (recommendations_for)"],
        by_name["Core: served collaborative model alone"],
    )
    plain, popular = by_name["Plain EASE (binary)"], by_name["Most popular"]
    lines = [
        f"#### {report.dataset}, served path, {PROTOCOL_TITLES[report.protocol]}",
        "",
        f"{len(data.account_of)} accounts, {len(data.train)} training ratings loaded "
        f"({data.load_seconds:.0f} s), trained in {data.train_seconds:.1f} s; "
        f"{len(served.scores.ndcg)} test users with relevant films, {len(data.few & set(served.scores.ndcg))} "
        f"of them with <= {FEW_POSITIVES} training positives.",
        "",
        f"| Row | nDCG@{NDCG_K} | Recall@{RECALL_K} | nDCG@{NDCG_K} few | Recall@{RECALL_K} few | Notes |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in report.rows:
        ndcg, recall, _ = row.scores.mean()
        few_ndcg, few_recall, _ = row.scores.mean(data.few)
        lines.append(
            f"| {row.name} | {ndcg:.4f} | {recall:.4f} | {few_ndcg:.4f} | {few_recall:.4f} | {row.note} |"
        )
    lines.append("")
    users = list(served.scores.ndcg)
    few = [u for u in users if u in data.few]
    for label, chosen in (("all users", users), (f"<= {FEW_POSITIVES} positives", few)):
        nd, nd_ci = paired_difference(served.scores.ndcg, core.scores.ndcg, chosen)
        rc, rc_ci = paired_difference(served.scores.recall, core.scores.recall, chosen)
        lines.append(
            f"- Served minus core, {label} ({len(chosen)}): nDCG@{NDCG_K} {nd:+.4f} ± {_f(nd_ci)}, "
            f"Recall@{RECALL_K} {rc:+.4f} ± {_f(rc_ci)} (95%)"
        )
    s_all, p_all = served.scores.mean()[0], plain.scores.mean()[0]
    s_few, pop_few = served.scores.mean(data.few)[0], popular.scores.mean(data.few)[0]
    lines.append(
        f"- Served vs plain EASE, nDCG@{NDCG_K}: {100 * (s_all / p_all - 1):+.1f}%; "
        f"served vs most popular, <= {FEW_POSITIVES} positives: {100 * (s_few / pop_few - 1):+.1f}%"
        if p_all and pop_few
        else "- (no baseline to compare with)"
    )
    lines.append(
        f"- recommendations_for per user, uncached: p50 {report.p50_ms:.1f} ms, p95 {report.p95_ms:.1f} ms"
    )
    lines += report.notes
    return "\n".join(lines)


# --- selection on validation ------------------------------------------------------------------
@dataclass
class UserComponents:
    values: dict[str, np.ndarray]
    allowed: np.ndarray
    positives: int


@dataclass
class Validation:
    """One protocol's validation users with their components, per recency half-life."""

    protocol: str
    truth: dict[int, set[int]]
    few: set[int]
    users: dict[float | None, dict[int, UserComponents]]
    index: serving.CatalogIndex


HALF_LIVES: tuple[float | None, ...] = (None, 30.0, 180.0)
WEIGHT_GRID = (0.0, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 1.0)
COLLAB_COLD_GRID = (0.0, 0.25, 0.5, 1.0)
DIVERSITY_GRID = (0.0, 0.02, 0.05, 0.1, 0.2, 0.35)
FULL_WARM_GRID = (1, 3, 5, 10, 20)
# A knob that moves the validation objective by less than this is not worth having.
PRUNE_TOLERANCE = 1e-4


def validation_components(
    dataset: str, protocol: str, ratings: Ratings, path: Any = None, seed: int = 42, say: Say | None = None
) -> Validation:
    """Loads the validation fit rows of ``protocol`` and computes every user's components once."""
    say = say or (lambda _message: None)
    train_rows, _ = split_rows(protocol, ratings, seed)
    train = ratings.subset(train_rows)
    fit_rows, val_rows = split_rows(protocol, train, seed + 1)
    fit, val = train.subset(fit_rows), train.subset(val_rows)
    say(f"validation {dataset} {protocol}: loading {len(fit)} ratings and training ...")
    data = prepare(dataset, protocol, fit, val, path)
    snap = serving.get_recommender().snapshot()
    users: dict[float | None, dict[int, UserComponents]] = {h: {} for h in HALF_LIVES}
    say(f"validation {dataset} {protocol}: components of {len(data.truth)} users ...")
    for user in sorted(data.truth):
        account = data.account_of[user]
        interactions, seen = serving.user_interactions(account)
        prefs = serving.user_preferences(account)
        recent = recent_interactions(serving.TRENDING_DAYS, data.as_of[user])
        allowed = serving.Recommender._allowed(snap.index, prefs, seen)
        for half_life in HALF_LIVES:
            scored = serving.Recommender.components(snap, interactions, prefs, half_life, recent)
            values = dict(scored.values)
            # Shared arrays stay shared; only the per-user ones are kept per user.
            users[half_life][user] = UserComponents(values, allowed, len(scored.positives))
    return Validation(protocol, data.truth, data.few, users, snap.index)


def validation_score(validation: Validation, blend: serving.Blend) -> tuple[float, float]:
    """Mean nDCG@10 of all validation users and of the few-positives users under ``blend``."""
    per_user: dict[int, float] = {}
    index = validation.index
    for user, parts in validation.users[blend.recency_half_life_days].items():
        weights = blend.weights_for(parts.positives)
        rows, _ = serving.Recommender.rank(
            index, parts.values, weights, parts.allowed, NDCG_K, blend.diversity
        )
        per_user[user] = ndcg_at_k(index.ids[rows].tolist(), validation.truth[user], NDCG_K)
    few = [per_user[u] for u in per_user if u in validation.few]
    return float(np.mean(list(per_user.values()))), float(np.mean(few)) if few else 0.0


def objective(validations: list[Validation], blend: serving.Blend) -> float:
    """What selection maximises: over the protocols, the mean of all users' and the
    few-positives users' validation nDCG@10 (each half)."""
    return float(np.mean([sum(validation_score(v, blend)) / 2 for v in validations]))


def _settings(blend: serving.Blend) -> list[tuple[str, tuple[Any, ...], Callable[[Any], serving.Blend]]]:
    """Each knob of the blend, the values tried, and how to set it."""

    def weight(which: str, name: str) -> Callable[[Any], serving.Blend]:
        def set_weight(value: Any) -> serving.Blend:
            weights = dict(getattr(blend, which))
            weights[name] = float(value)
            return dataclasses.replace(blend, **{which: weights})

        return set_weight

    knobs: list[tuple[str, tuple[Any, ...], Callable[[Any], serving.Blend]]] = []
    for name in serving.COMPONENTS:
        if name != "collab":
            knobs.append((f"warm.{name}", WEIGHT_GRID, weight("warm", name)))
    for name in serving.COMPONENTS:
        knobs.append(
            (f"cold.{name}", COLLAB_COLD_GRID if name == "collab" else WEIGHT_GRID, weight("cold", name))
        )
    knobs.append(("diversity", DIVERSITY_GRID, lambda v: dataclasses.replace(blend, diversity=float(v))))
    knobs.append(
        (
            "full_warm_positives",
            FULL_WARM_GRID,
            lambda v: dataclasses.replace(blend, full_warm_positives=int(v)),
        )
    )
    knobs.append(
        ("recency_half_life_days", HALF_LIVES, lambda v: dataclasses.replace(blend, recency_half_life_days=v))
    )
    return knobs


def measured(validations: list[Validation], blend: serving.Blend, knob: str) -> bool:
    """Whether any validation user's score depends on ``knob`` at all.

    ``cold.genre`` is not, for one: accounts with no liked film have no favorite genres
    (``served``'s mapping derives them from liked films), so validation cannot say what
    the boost is worth to a new user who sets some. Such a knob keeps the value it has.
    """
    side, _, name = knob.partition(".")
    if side not in ("warm", "cold"):
        return True
    for validation in validations:
        for parts in validation.users[blend.recency_half_life_days].values():
            share = (
                1.0
                if parts.positives >= blend.full_warm_positives
                else parts.positives / blend.full_warm_positives
            )
            if (share > 0 if side == "warm" else share < 1) and np.any(parts.values[name]):
                return True
    return False


def select_blend(
    validations: list[Validation], start: serving.Blend, rounds: int = 2, say: Say | None = None
) -> tuple[serving.Blend, list[str]]:
    """Coordinate ascent from ``start`` (each knob in turn set to its best value, up to ``rounds``
    times), then pruning: a component, the diversity pass or the recency weighting whose removal
    costs less than ``PRUNE_TOLERANCE`` of the objective is switched off. Knobs no validation
    user depends on (``measured``) are left as they are."""
    say = say or (lambda _message: None)
    best, best_value = start, objective(validations, start)
    log = [f"start: objective {best_value:.4f}"]
    for round_number in range(1, rounds + 1):
        changed = False
        for knob, values, _ in _settings(best):
            if not measured(validations, best, knob):
                continue
            setter = {k: s for k, _, s in _settings(best)}[knob]
            for value in values:
                candidate = setter(value)
                if candidate == best:
                    continue
                score = objective(validations, candidate)
                if score > best_value + 1e-5:
                    best, best_value, changed = candidate, score, True
            log.append(f"round {round_number}, {knob}: objective {best_value:.4f}")
            say(log[-1])
        if not changed:
            break
    for knob, _, _ in _settings(best):
        if knob == "full_warm_positives":
            continue
        if not measured(validations, best, knob):
            log.append(f"{knob}: not measured by validation, kept at its value")
            say(log[-1])
            continue
        setter = {k: s for k, _, s in _settings(best)}[knob]
        candidate = setter(None if knob == "recency_half_life_days" else 0.0)
        if candidate == best:
            continue
        score = objective(validations, candidate)
        if score >= best_value - PRUNE_TOLERANCE:
            best, best_value = candidate, score
            log.append(f"pruned {knob}: objective {score:.4f}")
            say(log[-1])
    return best, log


def format_blend(blend: serving.Blend) -> str:
    """The blend as the source line that sets it."""
    warm = ", ".join(f'"{n}": {blend.warm[n]:g}' for n in serving.COMPONENTS)
    cold = ", ".join(f'"{n}": {blend.cold[n]:g}' for n in serving.COMPONENTS)
    return (
        f"Blend(warm={{{warm}}}, cold={{{cold}}}, full_warm_positives={blend.full_warm_positives}, "
        f"diversity={blend.diversity:g}, recency_half_life_days={blend.recency_half_life_days})"
    )
