"""What a "not interested" says beyond the film itself: films like a dismissed one score lower.

The dismissed film is never recommended (serving counts it as seen); this
module is the negative signal. MovieLens has no dismissals, so the offline
evaluation cannot select these weights: they are set so that a film sharing
most of its content or co-interactions with a dismissed one loses about what
a liked genre adds, and a dismissal never outweighs a strong positive.
"""

from __future__ import annotations

import numpy as np

from movies.recommender.content import ContentModel
from movies.recommender.ease import ItemItemModel

# Subtracted, times the 0..1 similarity to the user's dismissed films.
DISMISSED_CONTENT_PENALTY = 0.25
DISMISSED_COLLAB_PENALTY = 0.25


def dismissal_penalty(
    content: ContentModel,
    model: ItemItemModel | None,
    columns: np.ndarray,
    dismissed_rows: list[int],
) -> np.ndarray:
    """Per catalog row, how much its score drops for being like the user's dismissed films.

    ``columns`` maps each catalog row to its collaborative model column (or -1);
    content similarity is the cosine to the dismissed films' profile and the
    collaborative part is scaled so the film most co-liked with them scores 1.
    """
    penalty = np.zeros(content.n_items, dtype=np.float32)
    if not dismissed_rows:
        return penalty
    ones = np.ones(len(dismissed_rows))
    penalty += DISMISSED_CONTENT_PENALTY * content.score_indices(np.asarray(dismissed_rows), ones)
    known = columns[dismissed_rows]
    known = known[known >= 0]
    if model is not None and known.size:
        by_column = np.clip(model.score(known, np.ones(known.size, dtype=np.float32)), 0, None)
        has_column = columns >= 0
        collab = np.zeros(content.n_items, dtype=np.float32)
        collab[has_column] = by_column[columns[has_column]]
        penalty += DISMISSED_COLLAB_PENALTY * collab / max(float(collab.max(initial=0.0)), 1e-6)
    return penalty
