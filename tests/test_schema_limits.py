"""Request bounds through the GraphQL endpoint: cost budget, input checks, cancellation safety."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import tokens
from accounts.models import User
from tests.conftest import GraphQL

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local(local_catalog: None) -> None:
    """The local catalog: everything here runs without TMDb."""


def test_an_error_that_cancels_siblings_never_escapes_as_http_500(gql: GraphQL, settings: Any) -> None:
    # The issue's shape: the similar budget fails deep inside a page while sibling
    # resolvers wait on the request's shared movie loader. graphql-core cancels them;
    # the shared future must survive, or CancelledError ends the request in a 500.
    settings.GRAPHQL_MAX_COST = 10**9
    query = "{popularMovies(page:5){results{runtime similar(limit:10){runtime similar(limit:10){runtime}}}}}"
    response = gql(query)
    assert response.status == 200
    assert set(response.codes) == {"BAD_USER_INPUT"}
    negative = "{popularMovies{results{runtime similar(limit:10){runtime similar(limit:-3){id}}}}}"
    assert set(gql(negative).codes) == {"BAD_USER_INPUT"}


@pytest.fixture
def token() -> str:
    user = User.objects.create_user("bob", "bob@example.com", "a-long-passphrase-1")
    return tokens.issue(user).token


# --- every string and list input, checked in one place --------------------------------------

BAD_TEXTS = ["nul\x00byte", "lone\ud800surrogate", "\udfff"]
# (operation with a $s: String! variable, needs a signed-in user)
STRING_FIELDS = [
    ("query($s: String!) { searchMovies(query: $s) { totalResults } }", False),
    ('mutation($s: String!) { tokenAuth(username: $s, password: "x") { token } }', False),
    (
        'mutation($s: String!) { register(input: {username: "carol", email: "c@example.com", '
        'password: "a-long-passphrase-1", firstName: $s}) { token } }',
        False,
    ),
    ("mutation($s: String!) { addFavorite(movieId: 155, note: $s) { id } }", True),
    ("mutation($s: String!) { updateProfile(input: {firstName: $s}) { firstName } }", True),
]


@pytest.mark.parametrize("text", BAD_TEXTS)
@pytest.mark.parametrize(("operation", "signed_in"), STRING_FIELDS)
def test_nul_and_lone_surrogates_in_any_string_are_bad_user_input(
    gql: GraphQL, token: str, operation: str, signed_in: bool, text: str
) -> None:
    response = gql(operation, {"s": text}, token=token if signed_in else None)
    assert response.status == 200
    assert response.codes == ["BAD_USER_INPUT"]
    assert "$s" in response.errors[0]["message"]


def test_nul_in_a_literal_or_a_default_is_bad_user_input(gql: GraphQL) -> None:
    literal = gql('{ searchMovies(query: "a\\u0000b") { totalResults } }')
    assert literal.codes == ["BAD_USER_INPUT"]
    assert "'query'" in literal.errors[0]["message"]
    default = gql('query($q: String = "\\u0000") { searchMovies(query: $q) { totalResults } }')
    assert default.codes == ["BAD_USER_INPUT"]
    surrogate = gql('{ searchMovies(query: "\\ud800") { totalResults } }')
    assert surrogate.codes == ["BAD_USER_INPUT"]


def test_nested_input_fields_and_keys_are_checked_too(gql: GraphQL) -> None:
    query = "query($f: DiscoverFilter) { discoverMovies(filter: $f) { totalResults } }"
    assert gql(query, {"f": {"language": "e\x00"}}).codes == ["BAD_USER_INPUT"]
    assert gql(query, {"f": {"lang\x00": "en"}}).codes == ["BAD_USER_INPUT"]


def test_every_list_input_is_bounded(gql: GraphQL, settings: Any) -> None:
    settings.GRAPHQL_MAX_LIST_LENGTH = 100
    query = "query($g: [Int!]) { discoverMovies(filter: {genreIds: $g}) { totalResults } }"
    response = gql(query, {"g": [28] * 101})
    assert response.codes == ["BAD_USER_INPUT"]
    assert "at most 100 items" in response.errors[0]["message"]
    literal = "{ movies(ids: [" + ",".join(["1"] * 101) + "]) { id } }"
    assert gql(literal).codes == ["BAD_USER_INPUT"]


# --- the cost budget -------------------------------------------------------------------------


def test_a_long_genre_list_is_refused_before_any_sql(gql: GraphQL, settings: Any) -> None:
    # Defect 1: 100,000 genre ids pinned a worker for 27 minutes.
    settings.GRAPHQL_MAX_LIST_LENGTH = 10**6
    query = "query($g: [Int!]) { discoverMovies(filter: {genreIds: $g}) { totalResults } }"
    with CaptureQueriesContext(connection) as queries:
        response = gql(query, {"g": [28] * 100_000})
    assert response.codes == ["BAD_USER_INPUT"]
    assert response.errors[0]["extensions"]["cost"] > response.errors[0]["extensions"]["budget"] == 10_000
    assert "over the budget of 10000" in response.errors[0]["message"]
    assert not [q for q in queries.captured_queries if "movies_movie" in q["sql"]]


def test_aliases_of_an_expensive_field_each_count(gql: GraphQL) -> None:
    # Defect 3: 30 aliased searchMovies with distinct queries, within every other limit.
    fields = " ".join(f'a{i}: searchMovies(query: "dark {i}") {{ totalResults }}' for i in range(30))
    with CaptureQueriesContext(connection) as queries:
        response = gql("{ " + fields + " }")
    assert response.codes == ["BAD_USER_INPUT"]
    assert response.errors[0]["extensions"]["cost"] == 30 * (1 + 2500 + 1)
    assert not queries.captured_queries
    few = " ".join(f'a{i}: searchMovies(query: "dark {i}") {{ totalResults }}' for i in range(3))
    assert gql("{ " + few + " }").ok()


def test_limits_and_pages_multiply_their_selections(gql: GraphQL) -> None:
    nested = "{popularMovies(page:5){results{runtime similar(limit:10){runtime similar(limit:10){runtime}}}}}"
    response = gql(nested)
    assert response.codes == ["BAD_USER_INPUT"]
    # popularMovies 1 + results (1 + 20 x (runtime 1 + similar (1 + 50 + 10 x (runtime 1 + similar 61))))
    assert response.errors[0]["extensions"]["cost"] == 1 + 1 + 20 * (1 + 51 + 10 * (1 + 61))
    assert gql("{ popularMovies { results { similar(limit: 10) { id } } } }").ok()


def test_fragments_and_variables_are_costed_like_inline_fields(gql: GraphQL) -> None:
    query = """
    query($n: Int!) { movie(id: 155) { ...More } }
    fragment More on Movie { similar(limit: $n) { ... on Movie { similar(limit: $n) { id } } } }
    """
    assert gql(query, {"n": 5}).ok()
    refused = gql(query, {"n": 100})
    assert refused.codes == ["BAD_USER_INPUT"]
    assert refused.errors[0]["extensions"]["cost"] == 1 + 51 + 100 * (51 + 100)


def test_the_documented_example_queries_fit_the_budget(gql: GraphQL, token: str) -> None:
    home = """{
      trendingMovies(timeWindow: WEEK) { results { id title year posterUrl(size: W342) genres { name } } }
      popularMovies(page: 1) { totalPages results { id title voteAverage } }
    }"""
    assert gql(home).ok()
    me = """{
      me { favorites(limit: 10) { totalCount results { note movie { title isFavorite } } }
           ratings { results { score movie { title } } } }
      recommendations(limit: 10) { score reasons movie { title year genres { name } } }
    }"""
    assert gql(me, token=token).ok()
    assert gql("{ __schema { types { name fields { name } } } }").ok()


def test_one_password_check_per_request(gql: GraphQL) -> None:
    # Each hashes a password for a few hundred ms of CPU: two in one request would double it.
    two = 'mutation { a: tokenAuth(username: "x", password: "y") { token } b: tokenAuth(username: "z", password: "w") { token } }'
    refused = gql(two)
    assert refused.codes == ["BAD_USER_INPUT"]
    assert refused.errors[0]["extensions"]["cost"] > 10_000
    assert gql('mutation { tokenAuth(username: "x", password: "y") { token } }').codes == ["UNAUTHENTICATED"]
