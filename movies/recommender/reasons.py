"""The words beside each recommendation: why the hybrid scored it, said so a person can check it.

Serving hands over the picked catalog rows, the score components and the
user's liked films; this module finds the liked film or person behind each
pick and words the largest components. It reads the catalog index only
through the attributes named in ``ReasonIndex``, so it never imports serving.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from movies.recommender.content import ContentModel
from movies.recommender.ease import ItemItemModel

# A component adds a reason only when it moved the score by more than this.
MIN_CONTRIBUTION = 0.02
MAX_REASONS = 3
FALLBACK_REASON = "Popular right now"


class ReasonIndex(Protocol):
    """What the wording reads of the catalog index (``serving.CatalogIndex``)."""

    titles: list[str]
    row_of: dict[int, int]
    genres: list[frozenset[int]]
    genre_names: dict[int, str]
    directors: list[list[int]]
    cast: list[list[int]]
    person_names: dict[int, str]
    vote_average: np.ndarray
    content: ContentModel


def because_you_liked(
    index: ReasonIndex,
    model: ItemItemModel | None,
    columns: np.ndarray,
    picked: list[int],
    model_items: np.ndarray,
    model_weights: np.ndarray,
) -> dict[int, str]:
    """Picked row -> the title of the user's film that contributed most to its collaborative score.

    ``columns`` maps each catalog row to its model column (or -1).
    """
    if model is None or not picked:
        return {}
    picked_columns = columns[picked]
    best = model.explain_best(model_items, model_weights, picked_columns[picked_columns >= 0])
    titles: dict[int, str] = {}
    for row, column in zip(picked, picked_columns.tolist(), strict=True):
        source_row = index.row_of.get(int(model.item_ids[best[column]])) if column in best else None
        if source_row is not None:
            titles[row] = index.titles[source_row]
    return titles


def similar_to(index: ReasonIndex, picked: list[int], liked_ids: Sequence[int]) -> dict[int, str]:
    """Picked row -> its content reason: a director or actor it shares with films the user
    liked, else the user's film most like it (one sparse product for all picks)."""
    if not liked_ids or not picked:
        return {}
    rows = [index.row_of[movie_id] for movie_id in liked_ids]
    sims = np.asarray((index.content.matrix[rows] @ index.content.matrix[picked].T).toarray())
    best = sims.argmax(axis=0)
    reasons: dict[int, str] = {}
    for k, row in enumerate(picked):
        people = people_reason(index, row, liked_ids)
        if people:
            reasons[row] = people
        elif sims[best[k], k] > 0:
            reasons[row] = f"Similar to {index.titles[rows[int(best[k])]]}"
    return reasons


def people_reason(index: ReasonIndex, row: int, liked_ids: Sequence[int]) -> str | None:
    """'Directed by X, whose films you liked' (or a shared actor), only when that is true."""
    liked = [index.row_of[movie_id] for movie_id in liked_ids]
    wordings = (
        (
            index.directors,
            "Directed by {name}, whose films you liked",
            "Directed by {name}, who directed {title}",
        ),
        (index.cast, "Starring {name}, from films you liked", "Starring {name}, who is in {title}"),
    )
    for people, several, one in wordings:
        for person_id in people[row]:
            films = [other for other in liked if person_id in people[other]]
            if films:
                name = index.person_names[person_id]
                return (several if len(films) > 1 else one).format(name=name, title=index.titles[films[0]])
    return None


def reasons_for(
    index: ReasonIndex,
    row: int,
    weights: dict[str, float],
    components: dict[str, np.ndarray],
    sources: dict[str, dict[int, str]],
    liked_genres: set[int],
) -> tuple[str, ...]:
    """Up to ``MAX_REASONS`` worded reasons for one picked row, largest score component first."""
    contributions = sorted(
        ((weights[name] * float(values[row]), name) for name, values in components.items()),
        reverse=True,
    )
    reasons: list[str] = []
    for amount, name in contributions:
        if amount <= MIN_CONTRIBUTION or len(reasons) == MAX_REASONS:
            break
        text = reason_text(index, name, row, sources, liked_genres)
        if text and text not in reasons:
            reasons.append(text)
    return tuple(reasons) or (FALLBACK_REASON,)


def reason_text(
    index: ReasonIndex, name: str, row: int, sources: dict[str, dict[int, str]], liked_genres: set[int]
) -> str | None:
    """The wording of one score component for one row, or None when there is nothing true to say."""
    if name == "collab" and row in sources["collab"]:
        return f"Because you liked {sources['collab'][row]}"
    if name == "content" and row in sources["content"]:
        return sources["content"][row]
    matching = sorted(index.genre_names.get(g, "") for g in index.genres[row] & liked_genres)
    if name == "genre" and matching:
        return f"Matches your favorite genre: {matching[0]}"
    if name == "popularity":
        return f"Popular in {matching[0]}, a genre you like" if matching else "Popular right now"
    if name == "quality":
        return f"Highly rated: {index.vote_average[row]:.1f}/10"
    if name == "trending":
        return "Trending this week"
    return None
