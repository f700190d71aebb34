"""The schema layer through the GraphQL endpoint: request bounds, input checks, cancellation safety."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import GraphQL

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _local(local_catalog: None) -> None:
    """The local catalog: everything here runs without TMDb."""


def test_an_error_that_cancels_siblings_never_escapes_as_http_500(gql: GraphQL, settings: Any) -> None:
    # The shape: the similar budget fails deep inside a page while sibling
    # resolvers wait on the request's shared movie loader. graphql-core cancels them;
    # the shared future must survive, or CancelledError ends the request in a 500.
    settings.GRAPHQL_MAX_COST = 10**9
    query = "{popularMovies(page:5){results{runtime similar(limit:10){runtime similar(limit:10){runtime}}}}}"
    response = gql(query)
    assert response.status == 200
    assert set(response.codes) == {"BAD_USER_INPUT"}
    negative = "{popularMovies{results{runtime similar(limit:10){runtime similar(limit:-3){id}}}}}"
    assert set(gql(negative).codes) == {"BAD_USER_INPUT"}
