"""Search that forgives typos on every backend: the in-memory engine and PostgreSQL's, same cases."""

from __future__ import annotations

from typing import Any

import pytest

from bench.search_quality import MOVIE_CASES, PEOPLE_CASES, is_hit
from movies.catalog import fuzzy
from movies.catalog.sources import local
from movies.catalog.sources.local import LocalCatalogSource
from movies.models import Movie
from tests.conftest import GraphQL

pytestmark = pytest.mark.django_db

SEARCH = "query($q: String!) { searchMovies(query: $q) { totalResults results { id title } } }"
PEOPLE = "query($q: String!) { searchPeople(query: $q) { results { name } } }"
# PostgreSQL takes most of a second per search here: a few cases through the endpoint.
DATABASE_CASES = ["dark nite", "dark knight", "the dark knight rises", "godfathr"]


@pytest.fixture(params=["fuzzy", "database"])
def engine(request: pytest.FixtureRequest, settings: Any, local_catalog: None) -> str:
    """The in-memory engine (SQLite's; chosen by CATALOG_SEARCH on PostgreSQL) and PostgreSQL's own."""
    if request.param == "database":
        request.getfixturevalue("postgres")
        settings.CATALOG_SEARCH = "auto"
    else:
        settings.CATALOG_SEARCH = "fuzzy"
    return str(request.param)


def test_dark_nite_finds_the_dark_knight_first(gql: GraphQL, engine: str) -> None:
    titles = [m["title"] for m in gql(SEARCH, {"q": "dark nite"}).ok()["searchMovies"]["results"]]
    assert titles[0] == "The Dark Knight"
    assert "The Dark Knight Rises" in titles[1:]


@pytest.mark.parametrize("query", DATABASE_CASES)
def test_cases_come_first_through_the_endpoint(gql: GraphQL, engine: str, query: str) -> None:
    expected = dict(MOVIE_CASES)[query]
    results = gql(SEARCH, {"q": query}).ok()["searchMovies"]["results"]
    assert is_hit(expected, results[0]["title"]), results[:3]


def test_people_typos_through_the_endpoint(gql: GraphQL, engine: str) -> None:
    for query in ("nolan", "cristopher nolan"):
        assert gql(PEOPLE, {"q": query}).ok()["searchPeople"]["results"][0]["name"] == "Christopher Nolan"


def test_every_case_comes_first_in_memory(settings: Any, local_catalog: None) -> None:
    settings.CATALOG_SEARCH = "fuzzy"
    source = LocalCatalogSource()
    misses = [
        (query, first)
        for query, expected in MOVIE_CASES
        if not is_hit(expected, first := next((m.title for m in source.search(query, None, 1).results), None))
    ]
    misses += [
        (query, first)
        for query, expected in PEOPLE_CASES
        if not is_hit(expected, first := next((p.name for p in source.search_people(query, 1).results), None))
    ]
    assert misses == []


def test_in_memory_search_filters_by_year_and_pages(gql: GraphQL, settings: Any, local_catalog: None) -> None:
    settings.CATALOG_SEARCH = "fuzzy"
    query = "query($q: String!, $y: Int, $p: Int!) { searchMovies(query: $q, year: $y, page: $p) { page totalResults totalPages results { title year } } }"
    in_2012 = gql(query, {"q": "dark knight", "y": 2012, "p": 1}).ok()["searchMovies"]
    assert [m["title"] for m in in_2012["results"]] == ["The Dark Knight Rises"]
    first = gql(query, {"q": "star", "p": 1}).ok()["searchMovies"]
    second = gql(query, {"q": "star", "p": 2}).ok()["searchMovies"]
    assert first["totalResults"] > 20
    assert {m["title"] for m in first["results"]}.isdisjoint(m["title"] for m in second["results"])
    assert gql(query, {"q": "qqqqzzzz", "p": 1}).ok()["searchMovies"]["totalResults"] == 0


def test_the_in_memory_index_follows_catalog_changes(
    settings: Any, local_catalog: None, monkeypatch: Any
) -> None:
    settings.CATALOG_SEARCH = "fuzzy"
    monkeypatch.setattr(fuzzy, "REFRESH_SECONDS", 0.0)
    source = LocalCatalogSource()
    assert source.search("zorblax", None, 1).total_results == 0
    Movie.objects.create(id=990001, title="Zorblax Returns", popularity=1.0)
    assert [m.title for m in source.search("zorblax", None, 1).results] == ["Zorblax Returns"]
    local.MOVIE_TITLES.forget()


def test_normalize_reads_roman_numerals_and_punctuation() -> None:
    assert fuzzy.normalize("The Godfather: Part II") == "the godfather part 2"
    assert fuzzy.normalize("  Spider-Man  ") == "spider man"
    index = fuzzy.NameIndex.build([(1, "Spider-Man", 0.5), (2, "", 1.0), (3, "Superman", 0.1)])
    assert index.search("spiderman")[0] == 1  # "spider" + "man" joined; the blank name is skipped
    assert index.search("   ") == []
    assert fuzzy.NameIndex.build([]).search("anything") == []
