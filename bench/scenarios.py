"""The GraphQL requests each scenario sends."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

from bench.zipf import ZipfSampler

GRAPHQL_PATH = "/graphql"

CEILING_QUERY = "{ __typename }"

HOME_QUERY = (
    "{ trendingMovies(page: 1) { results { id title posterUrl genres { name } } } "
    "popularMovies(page: 1) { results { id title posterUrl } } }"
)

# The five list kinds of the mix: GraphQL field -> the catalog's cache kind.
LIST_FIELDS: dict[str, str] = {
    "trendingMovies": "trending",
    "popularMovies": "list",
    "topRatedMovies": "list",
    "nowPlayingMovies": "list",
    "upcomingMovies": "list",
}
LIST_QUERIES: dict[str, str] = {
    name: f"query List($page: Int!) {{ {name}(page: $page) {{ page results {{ id title posterUrl }} }} }}"
    for name in LIST_FIELDS
}
MOVIE_QUERY = "query Movie($id: Int!) { movie(id: $id) { id title overview runtime tagline } }"

MAX_LIST_PAGE = 50

RECOMMENDATIONS_QUERY = "{ recommendations(limit: 20) { score reasons movie { id title posterUrl } } }"
REGISTER_MUTATION = (
    'mutation { register(input: {username: "bench", email: "bench@example.com", '
    'password: "bench-password-long-enough"}) { token } }'
)
ADD_FAVORITE_MUTATION = "mutation Add($id: Int!) { addFavorite(movieId: $id) { id } }"


def body(query: str, variables: dict[str, object] | None = None) -> bytes:
    """A GraphQL POST body."""
    payload: dict[str, object] = {"query": query}
    if variables:
        payload["variables"] = variables
    return json.dumps(payload, separators=(",", ":")).encode()


def fixed(query: str) -> tuple[str, bytes]:
    """The (path, body) of a request that never varies."""
    return GRAPHQL_PATH, body(query)


class ZipfMix:
    """Half list pages, half ``movie(id)`` lookups, each Zipf-distributed.

    - list: kind uniform over the five lists; page Zipf(s) over 1..``MAX_LIST_PAGE``;
    - movie: id Zipf(s) over ``movie_ids`` (in the given order, the first most popular).

    The draws are seeded, so every run sends the same sequence. ``distinct``
    records every (kind, key) sent: the misses no cache can avoid.
    """

    def __init__(self, movie_ids: Sequence[int], s: float = 1.1, seed: int = 1234) -> None:
        if not movie_ids:
            raise ValueError("movie_ids is empty")
        self.rng = random.Random(seed)
        self.pages = ZipfSampler(MAX_LIST_PAGE, s, self.rng)
        self.movie_ids = list(movie_ids)
        self.movies = ZipfSampler(len(self.movie_ids), s, self.rng)
        self.list_names = list(LIST_FIELDS)
        self.distinct: set[tuple[str, int]] = set()
        self.sent: dict[str, int] = {"list": 0, "movie": 0}

    def __call__(self, index: int) -> tuple[str, bytes]:
        if self.rng.random() < 0.5:
            name = self.rng.choice(self.list_names)
            page = self.pages.sample()
            self.distinct.add((name, page))
            self.sent["list"] += 1
            return GRAPHQL_PATH, body(LIST_QUERIES[name], {"page": page})
        movie_id = self.movies.choice(self.movie_ids)
        self.distinct.add(("movie", movie_id))
        self.sent["movie"] += 1
        return GRAPHQL_PATH, body(MOVIE_QUERY, {"id": movie_id})
