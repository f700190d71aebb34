"""The words beside each recommendation: why the hybrid scored it, said so a person can check it.

Rules (each a named constant below):

- A reason is a score component that moved the film's score (by more than
  ``MIN_CONTRIBUTION``), in the order of how much, and it says only what is
  true of the film and the user: "Highly rated" only at ``HIGHLY_RATED_MIN_AVERAGE``
  with ``HIGHLY_RATED_MIN_VOTES`` votes or more, "Popular" only among the
  catalog's ``POPULAR_TOP_SHARE`` most popular films, "Trending" only when
  the film's activity this week is ``TRENDING_MIN_LIFT`` times its usual level
  (the ``TRENDING_USUAL_DAYS`` before) or more, with ``TRENDING_MIN_RECENT``
  interactions at least.
- "Because you liked X" and "Similar to X" name only films the user liked (a
  favorite, or rated ``LIKED_MIN_RATING`` or more; never a watchlist entry or a
  dismissed film), and only films that contribute at least
  ``ATTRIBUTION_MIN_SHARE`` of what the film contributing most does.
- A director or actor is named when their credit carries at least
  ``PERSON_MIN_SHARE`` of the film's content score: they drove it.
- No reason covers more than ``MAX_SHARE`` of any prefix of the list (rounded
  up, so the first film always gets its truest reason): a film whose truest
  reason is used up gets its next truest (another liked film that also
  contributes, a shared person, a genre, ...), and keeps its truest only when
  nothing else true is left. So a user with two liked films sees both named.

Serving hands over the picked catalog rows, the weighted components and an
``Evidence``; this module reads the catalog index only through the
attributes named in ``ReasonIndex``, so it never imports serving.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from movies.recommender.content import ContentModel
from movies.recommender.ease import ItemItemModel

# A component adds a reason only when it moved the score by more than this.
MIN_CONTRIBUTION = 0.02
MAX_REASONS = 3
# No one reason on more than this share of any prefix of a list (rounded up).
MAX_SHARE = 0.4
# "Highly rated": TMDb's average out of 10 and enough votes for it to mean something.
HIGHLY_RATED_MIN_AVERAGE = 7.5
HIGHLY_RATED_MIN_VOTES = 300
# "Popular": among this share of the catalog's most popular films.
POPULAR_TOP_SHARE = 0.1
# "Trending": this week's interactions against the weekly average of the 8 weeks before.
TRENDING_USUAL_DAYS = 56
TRENDING_MIN_LIFT = 2.0
TRENDING_MIN_RECENT = 5.0
# A film with no usual activity is compared with one interaction a week.
TRENDING_USUAL_FLOOR = 1.0
# What "you liked" means: a favorite, or a rating of 3.5 stars or more.
LIKED_MIN_RATING = 3.5
# A liked film is named for a pick when it contributes this share of the top contributor's part.
ATTRIBUTION_MIN_SHARE = 0.5
# A person is named when their credit carries this share of the pick's content score.
PERSON_MIN_SHARE = 0.15


class ReasonIndex(Protocol):
    """What the wording reads of the catalog index (``serving.CatalogIndex``)."""

    ids: np.ndarray
    titles: list[str]
    row_of: dict[int, int]
    genres: list[frozenset[int]]
    genre_names: dict[int, str]
    directors: list[list[int]]
    cast: list[list[int]]
    person_names: dict[int, str]
    vote_average: np.ndarray
    vote_count: np.ndarray
    popularity: np.ndarray
    content: ContentModel
    # Content cosine between every two rows, when the catalog is small enough to hold it.
    similarity: np.ndarray | None


@dataclass(frozen=True)
class Evidence:
    """What the reasons of one user's list may cite.

    ``model_items``/``model_weights`` are the user's positives as model columns and
    the weights the collaborative score used; ``content_rows``/``content_weights``
    the same for the content score (catalog rows). ``liked_ids`` are the films the
    user liked (the only ones a reason names); ``trending_lift`` is, per catalog
    row, this week's activity over its usual level (0 below ``TRENDING_MIN_RECENT``;
    None: unknown, so nothing is called trending).
    """

    liked_ids: frozenset[int]
    liked_genres: frozenset[int] = frozenset()
    model: ItemItemModel | None = None
    columns: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    model_items: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    model_weights: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.float32))
    content_rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    content_weights: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    trending_lift: np.ndarray | None = None


# One way to word a pick: the key its share of the list is counted by, and the text.
Option = tuple[str, str]


def trending_lift(
    row_of: Mapping[int, int], n: int, recent: Mapping[int, float], usual: Mapping[int, float]
) -> np.ndarray:
    """Per catalog row, recent interactions over the usual level (see ``activity.usual_interactions``);
    0 for films with fewer than ``TRENDING_MIN_RECENT`` recent interactions."""
    lift = np.zeros(n, dtype=np.float32)
    for movie_id, count in recent.items():
        row = row_of.get(movie_id)
        if row is not None and count >= TRENDING_MIN_RECENT:
            lift[row] = count / max(usual.get(movie_id, 0.0), TRENDING_USUAL_FLOOR)
    return lift


def explain(
    index: ReasonIndex,
    picked: Sequence[int],
    weights: Mapping[str, float],
    components: Mapping[str, np.ndarray],
    evidence: Evidence,
) -> list[tuple[str, ...]]:
    """One to ``MAX_REASONS`` reasons for each picked row, in list order (module docstring)."""
    picked = list(picked)
    if not picked:
        return []
    sources = {
        "collab": _collab_options(index, picked, evidence),
        "content": _content_options(index, picked, evidence),
    }
    popular_cut = _top_share_cut(index.popularity, POPULAR_TOP_SHARE)
    options = [_options(index, row, weights, components, sources, evidence, popular_cut) for row in picked]
    share = _ShareCap(len(picked))
    # Each film's first reason first, over the whole list; then the others where the cap leaves room.
    chosen: list[list[tuple[int, Option]]] = []
    for position, row in enumerate(picked):
        first = share.first_fit(position, options[position], set())
        if first is None:
            fallback = _fallback(index, row)
            truest = next(((rank, alts[0]) for rank, alts in enumerate(options[position]) if alts), None)
            first = (len(options[position]), fallback) if share.fits(fallback[0], position) else truest
            first = first or (len(options[position]), fallback)
        share.use(first[1][0], position)
        chosen.append([first])
    for position in range(len(picked)):
        for rank, alternatives in enumerate(options[position]):
            if len(chosen[position]) == MAX_REASONS:
                break
            if any(rank == used_rank for used_rank, _ in chosen[position]):
                continue
            keys = {option[0] for _, option in chosen[position]}
            found = share.first_fit(position, [alternatives], keys)
            if found is not None:
                share.use(found[1][0], position)
                chosen[position].append((rank, found[1]))
    return [tuple(option[1] for _, option in sorted(reasons)) for reasons in chosen]


class _ShareCap:
    """Where each reason key is used, so that none exceeds ``MAX_SHARE`` of any prefix of the list."""

    def __init__(self, length: int) -> None:
        self.caps = [max(1, math.ceil(MAX_SHARE * (position + 1))) for position in range(length)]
        self.positions: dict[str, list[int]] = {}

    def fits(self, key: str, position: int) -> bool:
        """Whether one more ``key`` at ``position`` keeps every prefix from there on within its cap."""
        used = self.positions.get(key, [])
        count = sum(1 for q in used if q <= position) + 1
        if count > self.caps[position]:
            return False
        for q in sorted(q for q in used if q > position):
            count += 1
            if count > self.caps[q]:
                return False
        return True

    def use(self, key: str, position: int) -> None:
        self.positions.setdefault(key, []).append(position)

    def first_fit(
        self, position: int, options: list[list[Option]], taken: set[str]
    ) -> tuple[int, Option] | None:
        """The first option, in the order given, not in ``taken`` and within the cap, with its rank."""
        for rank, alternatives in enumerate(options):
            for option in alternatives:
                if option[0] not in taken and self.fits(option[0], position):
                    return rank, option
        return None


def _top_share_cut(values: np.ndarray, share: float) -> float:
    """The smallest value among the ``share`` largest (one partition, not a sort)."""
    if not len(values):
        return 0.0
    k = max(1, math.ceil(share * len(values)))
    return float(np.partition(values, len(values) - k)[len(values) - k])


def _options(
    index: ReasonIndex,
    row: int,
    weights: Mapping[str, float],
    components: Mapping[str, np.ndarray],
    sources: Mapping[str, Mapping[int, list[Option]]],
    evidence: Evidence,
    popular_cut: float,
) -> list[list[Option]]:
    """The row's true wordings, per component in the order of its contribution (largest first)."""
    contributions = sorted(
        ((weights.get(name, 0.0) * float(values[row]), name) for name, values in components.items()),
        reverse=True,
    )
    matching = sorted((index.genre_names.get(g, ""), g) for g in index.genres[row] & evidence.liked_genres)
    options: list[list[Option]] = []
    for amount, name in contributions:
        if amount <= MIN_CONTRIBUTION:
            break
        if name in sources:
            options.append(sources[name].get(row, []))
        elif name == "genre":
            options.append([(f"genre:{g}", f"Matches your favorite genre: {label}") for label, g in matching])
        elif name == "popularity" and index.popularity[row] >= popular_cut:
            wording = f"Popular in {matching[0][0]}, a genre you like" if matching else "Popular right now"
            options.append([("popular", wording)])
        elif name == "quality" and _highly_rated(index, row):
            votes = int(index.vote_count[row])
            wording = f"Highly rated: {index.vote_average[row]:.1f}/10 from {votes:,} votes"
            options.append([("highly-rated", wording)])
        elif name == "trending" and evidence.trending_lift is not None:
            lift = float(evidence.trending_lift[row])
            if lift >= TRENDING_MIN_LIFT:
                options.append([("trending", f"Trending: {lift:.0f} times its usual activity this week")])
    return options


def _highly_rated(index: ReasonIndex, row: int) -> bool:
    return bool(
        index.vote_average[row] >= HIGHLY_RATED_MIN_AVERAGE
        and index.vote_count[row] >= HIGHLY_RATED_MIN_VOTES
    )


def _fallback(index: ReasonIndex, row: int) -> Option:
    """When no component has anything true to say (it barely moved the score): the film's own figures."""
    votes = int(index.vote_count[row])
    if votes > 0:
        return ("rated", f"Rated {index.vote_average[row]:.1f}/10 by {votes:,} viewers")
    return ("picked", "A pick to broaden your list")


def _collab_options(index: ReasonIndex, picked: list[int], evidence: Evidence) -> dict[int, list[Option]]:
    """Picked row -> "Because you liked X" for each liked film that contributes enough to its
    collaborative score, the largest contributor first."""
    model = evidence.model
    if model is None or not evidence.liked_ids or evidence.model_items.size == 0:
        return {}
    columns = evidence.columns[picked]
    found = model.contributions(
        evidence.model_items, evidence.model_weights, columns[columns >= 0], ATTRIBUTION_MIN_SHARE
    )
    options: dict[int, list[Option]] = {}
    for row, column in zip(picked, columns.tolist(), strict=True):
        named = []
        for source_column, _ in found.get(column, []) if column >= 0 else []:
            movie_id = int(model.item_ids[source_column])
            source_row = index.row_of.get(movie_id)
            if movie_id in evidence.liked_ids and source_row is not None:
                named.append((f"film:{movie_id}", f"Because you liked {index.titles[source_row]}"))
        options[row] = named
    return options


# (content token field, the index's credits, wording for several liked films, for one)
PEOPLE = (
    (
        "director",
        "directors",
        "Directed by {name}, whose films you liked",
        "Directed by {name}, who directed {title}",
    ),
    ("cast", "cast", "Starring {name}, from films you liked", "Starring {name}, who is in {title}"),
)


def _content_options(index: ReasonIndex, picked: list[int], evidence: Evidence) -> dict[int, list[Option]]:
    """Picked row -> the director or actor who carries its content score (with a liked film of
    theirs), then "Similar to X" for each liked film about as like it as the most like it is."""
    liked_rows = [index.row_of[m] for m in sorted(evidence.liked_ids) if m in index.row_of]
    if not liked_rows or evidence.content_rows.size == 0:
        return {}
    sims = _similarity(index, liked_rows, picked)
    # The user's content profile (what the content score is the cosine to), one product.
    weights = np.zeros(len(index.ids), dtype=np.float64)
    weights[evidence.content_rows] = evidence.content_weights  # one interaction per film
    profile = np.asarray(index.content.matrix.T @ weights).ravel()
    liked = set(liked_rows)
    films_of = _films_of_people(index)
    options: dict[int, list[Option]] = {}
    for k, row in enumerate(picked):
        found = _people_options(index, row, liked, films_of, profile)
        best = float(sims[:, k].max())
        if best > 0:
            for j in np.argsort(-sims[:, k], kind="stable").tolist():
                if sims[j, k] < ATTRIBUTION_MIN_SHARE * best:
                    break
                movie_id = int(index.ids[liked_rows[j]])
                found.append((f"film:{movie_id}", f"Similar to {index.titles[liked_rows[j]]}"))
        options[row] = found
    return options


def _similarity(index: ReasonIndex, rows: list[int], columns: list[int]) -> np.ndarray:
    """Content cosine of each of ``rows`` (axis 0) with each of ``columns``."""
    if index.similarity is not None:
        return index.similarity[np.ix_(rows, columns)].astype(np.float32)
    matrix = index.content.matrix
    return np.asarray((matrix[rows] @ matrix[columns].T).toarray())


_PEOPLE_FILMS: weakref.WeakKeyDictionary[Any, dict[str, dict[int, list[int]]]] = weakref.WeakKeyDictionary()


def _films_of_people(index: ReasonIndex) -> dict[str, dict[int, list[int]]]:
    """Per credit kind, each person's catalog rows: built once per catalog index (they are rebuilt
    as a whole when the catalog changes, so an index never goes stale)."""
    films = _PEOPLE_FILMS.get(index)
    if films is None:
        films = {kind: {} for kind, _, _, _ in PEOPLE}
        for kind, credits, _, _ in PEOPLE:
            for row, people in enumerate(getattr(index, credits)):
                for person_id in people:
                    films[kind].setdefault(person_id, []).append(row)
        _PEOPLE_FILMS[index] = films
    return films


def _people_options(
    index: ReasonIndex,
    row: int,
    liked: set[int],
    films_of: dict[str, dict[int, list[int]]],
    profile: np.ndarray,
) -> list[Option]:
    """The pick's directors, then its top-billed actors, whose credit carries ``PERSON_MIN_SHARE``
    of its content score and who made a film the user liked."""
    shared = [
        (kind, credits, several, one, person_id, films)
        for kind, credits, several, one in PEOPLE
        for person_id in getattr(index, credits)[row]
        if (films := [other for other in films_of[kind].get(person_id, ()) if other in liked])
    ]
    if not shared:
        return []
    matrix = index.content.matrix
    start, end = matrix.indptr[row], matrix.indptr[row + 1]
    tokens, values = matrix.indices[start:end], matrix.data[start:end]
    score = float(values @ profile[tokens])
    if score <= 0:
        return []
    vocabulary = index.content.vocabulary
    options: list[Option] = []
    for kind, _, several, one, person_id, films in shared:
        token = f"{kind}:{person_id}"
        column = int(np.searchsorted(vocabulary, token))
        if column >= len(vocabulary) or vocabulary[column] != token:
            continue  # a credit no other film shares: the content model dropped it
        carried = float(values[tokens == column].sum()) * float(profile[column])
        if carried >= PERSON_MIN_SHARE * score:
            wording = several if len(films) > 1 else one
            text = wording.format(name=index.person_names[person_id], title=index.titles[films[0]])
            options.append((f"person:{person_id}", text))
    return options
