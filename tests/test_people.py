"""Cast, crew and people through the GraphQL endpoint: both sources, batching, caching, language."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from movies.catalog import cache_policy, reads
from movies.models import Credit, Movie, Person
from tests.conftest import GraphQL

pytestmark = pytest.mark.django_db

NOLAN, BALE, LEDGER = 525, 3894, 1810
MOVIE_PAGE = """
query MoviePage($id: Int!) {
  movie(id: $id) {
    title posterUrl(size: W342) imdbId
    cast(limit: 3) { order character person { id name knownForDepartment profileUrl } }
    directors { id name }
    crew(jobs: ["Screenplay", "original music composer"]) { job department person { name } }
    productionCompanies { id name logoPath }
    productionCountries spokenLanguages
  }
}
"""
PERSON = """
query Person($id: Int!) {
  person(id: $id) {
    id name knownForDepartment biography birthday placeOfBirth popularity profileUrl(size: H632)
    movieCredits { cast { character movie { id title } } crew { job department movie { id title year } } }
  }
}
"""
SEARCH_PEOPLE = "query($q: String!) { searchPeople(query: $q) { totalResults results { id name } } }"
DISCOVER_PEOPLE = """
query($ids: [Int!]) {
  discoverMovies(filter: {withPeopleIds: $ids}) { totalResults results { id title } }
}
"""


@pytest.fixture(params=["local", "tmdb"])
def source(request: pytest.FixtureRequest) -> str:
    """Runs a test on the embedded default and on TMDb (the fake server)."""
    request.getfixturevalue("local_catalog" if request.param == "local" else "tmdb_catalog")
    return str(request.param)


def test_the_dark_knight_page_lists_bale_first_and_nolan_as_director(gql: GraphQL, source: str) -> None:
    movie = gql(MOVIE_PAGE, {"id": 155}).ok()["movie"]
    assert movie["title"] == "The Dark Knight"
    assert movie["posterUrl"].startswith("https://image.tmdb.org/t/p/w342/")
    assert movie["imdbId"] == "tt0468569"
    cast = movie["cast"]
    assert [c["person"]["name"] for c in cast] == ["Christian Bale", "Heath Ledger", "Aaron Eckhart"]
    assert (cast[0]["order"], cast[0]["character"], cast[0]["person"]["knownForDepartment"]) == (
        0,
        "Bruce Wayne",
        "Acting",
    )
    assert movie["directors"] == [{"id": NOLAN, "name": "Christopher Nolan"}]
    jobs = {(c["job"], c["department"], c["person"]["name"]) for c in movie["crew"]}
    assert ("Original Music Composer", "Sound", "Hans Zimmer") in jobs
    assert ("Screenplay", "Writing", "Jonathan Nolan") in jobs
    assert {c["job"] for c in movie["crew"]} == {"Screenplay", "Original Music Composer"}
    assert "Warner Bros." in {c["name"] for c in movie["productionCompanies"]}
    assert movie["productionCountries"] == ["GB", "US"]
    assert movie["spokenLanguages"] == ["en", "zh"]


def test_the_embedded_default_has_a_poster_for_the_dark_knight(gql: GraphQL, local_catalog: None) -> None:
    """What a newcomer sees first: the bundled catalog, no TMDb key, a real poster URL."""
    url = gql("{ movie(id: 155) { posterUrl } }").ok()["movie"]["posterUrl"]
    assert url == f"https://image.tmdb.org/t/p/w500{Movie.objects.get(id=155).poster_path}"


def test_nolan_lists_his_catalog_films(gql: GraphQL, source: str) -> None:
    person = gql(PERSON, {"id": NOLAN}).ok()["person"]
    assert (person["name"], person["knownForDepartment"]) == ("Christopher Nolan", "Directing")
    directed = [c["movie"]["title"] for c in person["movieCredits"]["crew"] if c["job"] == "Director"]
    assert {"The Dark Knight", "Inception", "Interstellar", "The Prestige"} <= set(directed)
    years = [c["movie"]["year"] for c in person["movieCredits"]["crew"]]
    assert years == sorted(years, reverse=True)  # newest first
    local = set(Credit.objects.filter(person_id=NOLAN, job="Director").values_list("movie__title", flat=True))
    assert local <= set(directed)


def test_local_people_have_no_biography_and_say_so_with_null(gql: GraphQL, local_catalog: None) -> None:
    person = gql(PERSON, {"id": BALE}).ok()["person"]
    assert (person["biography"], person["birthday"], person["placeOfBirth"]) == (None, None, None)
    assert (person["popularity"], person["profileUrl"]) == (None, None)
    assert "Bruce Wayne" in {c["character"] for c in person["movieCredits"]["cast"]}
    assert gql(PERSON, {"id": 999999999}).ok() == {"person": None}


def test_tmdb_people_have_their_details(gql: GraphQL, tmdb_catalog: Any) -> None:
    tmdb_catalog.set_person(
        NOLAN, biography="Director of Memento.", birthday="1970-07-30", place_of_birth="London"
    )
    person = gql(PERSON, {"id": NOLAN}).ok()["person"]
    assert (person["biography"], person["birthday"], person["placeOfBirth"]) == (
        "Director of Memento.",
        "1970-07-30",
        "London",
    )
    # Details and films came from the one /person call, with movie_credits appended.
    assert tmdb_catalog.count(f"/person/{NOLAN}") == 1
    sent = next(r for r in tmdb_catalog.requests if r.path == f"/3/person/{NOLAN}")
    assert sent.query["append_to_response"] == "movie_credits"
    assert gql(PERSON, {"id": 999999999}).ok() == {"person": None}


def test_search_people_finds_nolan(gql: GraphQL, source: str) -> None:
    found = gql(SEARCH_PEOPLE, {"q": "nolan"}).ok()["searchPeople"]
    assert {"id": NOLAN, "name": "Christopher Nolan"} in found["results"]
    assert found["totalResults"] >= len(found["results"])


def test_search_people_forgives_typos(gql: GraphQL, local_catalog: None) -> None:
    for typo, name in [("cristopher nolan", "Christopher Nolan"), ("scarlet johanson", "Scarlett Johansson")]:
        results = gql(SEARCH_PEOPLE, {"q": typo}).ok()["searchPeople"]["results"]
        assert results[0]["name"] == name, typo


@pytest.mark.parametrize(("text", "message"), [("  ", "empty"), ("x" * 201, "at most 200")])
def test_bad_people_search_is_bad_user_input(
    gql: GraphQL, local_catalog: None, text: str, message: str
) -> None:
    response = gql(SEARCH_PEOPLE, {"q": text})
    assert response.codes == ["BAD_USER_INPUT"]
    assert message in response.errors[0]["message"]


def test_discover_with_people_needs_all_of_them(gql: GraphQL, source: str) -> None:
    page = gql(DISCOVER_PEOPLE, {"ids": [NOLAN, BALE]}).ok()["discoverMovies"]
    titles = {movie["title"] for movie in page["results"]}
    assert {"Batman Begins", "The Dark Knight", "The Dark Knight Rises", "The Prestige"} <= titles
    assert "Inception" not in titles  # Nolan's, without Bale
    with_ledger = gql(DISCOVER_PEOPLE, {"ids": [NOLAN, BALE, LEDGER, BALE]}).ok()["discoverMovies"]
    assert [m["title"] for m in with_ledger["results"]] == ["The Dark Knight"]  # the repeat is ignored


@pytest.mark.parametrize(
    ("ids", "message"), [(list(range(1, 12)), "at most 10 people"), ([NOLAN, -1], "positive")]
)
def test_discover_people_ids_are_bounded(
    gql: GraphQL, local_catalog: None, ids: list[int], message: str
) -> None:
    response = gql(DISCOVER_PEOPLE, {"ids": ids})
    assert response.codes == ["BAD_USER_INPUT"]
    assert message in response.errors[0]["message"]


def test_tmdb_discover_sends_with_people(gql: GraphQL, tmdb_catalog: Any) -> None:
    gql(DISCOVER_PEOPLE, {"ids": [NOLAN, BALE, NOLAN]}).ok()
    sent = next(r for r in tmdb_catalog.requests if r.path == "/3/discover/movie")
    assert sent.query["with_people"] == f"{NOLAN},{BALE}"


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("cast(limit: 0) { order }", "limit must be between 1 and 100"),
        ("crew(limit: 201) { job }", "limit must be between 1 and 200"),
        ("crew(jobs: [{}]) {{ job }}".format(", ".join(['"Director"'] * 21)), "at most 20 jobs"),
    ],
)
def test_credit_limits_are_bad_user_input(
    gql: GraphQL, local_catalog: None, field: str, message: str
) -> None:
    response = gql(f"{{ movie(id: 155) {{ {field} }} }}")
    assert response.codes == ["BAD_USER_INPUT"]
    assert message in response.errors[0]["message"]


# --- batching: counts constant in the page size ------------------------------------------------

PAGE = """
query($ids: [Int!]!) {
  movies(ids: $ids) {
    title
    cast(limit: 5) { character person { name %s } }
    directors { name }
  }
}
"""
PERSON_FIELDS = "biography movieCredits { cast { movie { title } } crew { job } }"


def _page_ids(count: int) -> list[int]:
    return list(Movie.objects.order_by("-popularity").values_list("id", flat=True)[:count])


def _queries(gql: GraphQL, query: str, ids: list[int]) -> int:
    with CaptureQueriesContext(connection) as captured:
        gql(query, {"ids": ids}).ok()
    return len(captured)


@pytest.mark.parametrize("person_fields", ["", PERSON_FIELDS])
def test_local_credits_cost_the_same_queries_for_5_or_20_movies(
    gql: GraphQL, local_catalog: None, person_fields: str
) -> None:
    query = PAGE % person_fields
    small = _queries(gql, query, _page_ids(5))
    reads.forget_local()
    cache.clear()
    large = _queries(gql, query, _page_ids(20))
    assert small == large
    # The movies, their credits (one query, people joined in), then with person
    # fields one query for the people and one for their films.
    assert large == (2 if not person_fields else 4)


def test_a_page_of_people_costs_one_query_for_their_films(gql: GraphQL, local_catalog: None) -> None:
    query = "query($q: String!) { searchPeople(query: $q) { results { name movieCredits { cast { movie { title } } } } } }"
    with CaptureQueriesContext(connection) as captured:
        results = gql(query, {"q": "chris"}).ok()["searchPeople"]["results"]
    assert len(results) == 20
    films = [q["sql"] for q in captured.captured_queries if '"movies_credit"' in q["sql"]]
    assert len(films) == 1, films


def test_tmdb_credits_come_with_the_details_call(gql: GraphQL, tmdb_catalog: Any) -> None:
    query = (
        "{ popularMovies { results { id runtime cast(limit: 3) { person { name } } directors { name } } } }"
    )
    results = gql(query).ok()["popularMovies"]["results"]
    assert len(results) == 20
    details = [r for r in tmdb_catalog.requests if r.path.startswith("/3/movie/") and r.path[9:].isdigit()]
    assert len(details) == 20  # one call per movie brings details and credits
    assert {r.query["append_to_response"] for r in details} == {"credits,keywords"}
    # Asked in the other order (credits first, then details): still nothing more.
    before = len(tmdb_catalog.requests)
    reads.forget_local()
    gql("{ popularMovies { results { cast { order } tagline } } }").ok()
    assert len(tmdb_catalog.requests) == before


def test_tmdb_people_of_a_page_are_one_batch(gql: GraphQL, tmdb_catalog: Any) -> None:
    tmdb_catalog.latency = 0.05
    query = "{ movie(id: 155) { cast(limit: 8) { person { biography movieCredits { cast { movie { id } } } } } } }"
    gql(query).ok()
    people = [r for r in tmdb_catalog.requests if r.path.startswith("/3/person/")]
    assert len(people) == 8  # one call each brings details and films
    assert tmdb_catalog.max_in_flight >= 4  # fetched concurrently, in one batch


# --- caching --------------------------------------------------------------------------------


def test_tmdb_credits_and_people_are_cached_a_day_with_stale_copies(
    gql: GraphQL, tmdb_catalog: Any, redis_cache: None
) -> None:
    from django_redis import get_redis_connection

    gql(MOVIE_PAGE, {"id": 155}).ok()
    gql(PERSON, {"id": NOLAN}).ok()
    redis = get_redis_connection("default")
    for kind, item_id in (("credits", 155), ("person", NOLAN), ("person-credits", NOLAN)):
        key = cache_policy.cache_key("tmdb", kind, item_id, reads.locale())  # type: ignore[arg-type]
        ttl = redis.ttl(cache.make_key(key))
        assert 24 * 3600 - 5 <= ttl <= 24 * 3600, kind
        assert cache.get(f"stale:{key}") is not None, kind


def test_tmdb_down_serves_stale_credits_then_our_stored_ones(gql: GraphQL, tmdb_catalog: Any) -> None:
    first = gql(MOVIE_PAGE, {"id": 155}).ok()
    # The fresh copies expire while TMDb is down: the stale copies answer.
    for kind in ("movie", "credits"):
        cache.delete(cache_policy.cache_key("tmdb", kind, 155, reads.locale()))  # type: ignore[arg-type]
    reads.forget_local()
    tmdb_catalog.down = True
    assert gql(MOVIE_PAGE, {"id": 155}).ok() == first
    # Without stale copies, the bundled catalog's credits answer for a film we hold.
    cache.clear()
    reads.forget_local()
    cast = gql("{ movie(id: 155) { cast(limit: 1) { person { name } } } }").ok()["movie"]["cast"]
    assert cast == [{"person": {"name": "Christian Bale"}}]


def test_tmdb_down_people_we_store_answer_others_are_upstream_unavailable(
    gql: GraphQL, tmdb_catalog: Any
) -> None:
    tmdb_catalog.down = True
    person = gql(PERSON, {"id": NOLAN}).ok()["person"]  # from the bundled catalog's tables
    assert person["name"] == "Christopher Nolan"
    assert "The Dark Knight" in {c["movie"]["title"] for c in person["movieCredits"]["crew"]}
    response = gql(PERSON, {"id": 999999999})  # only TMDb could say whether it exists
    assert response.codes == ["UPSTREAM_UNAVAILABLE"]


# --- language -------------------------------------------------------------------------------


def test_tmdb_follows_the_request_language(gql: GraphQL, tmdb_catalog: Any) -> None:
    query = "{ movie(id: 155) { title cast(limit: 1) { character } } }"
    gql(query, headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}).ok()
    gql(query, headers={"Accept-Language": "de"}).ok()
    gql(query, headers={"Accept-Language": "tlh, *"}).ok()  # nothing usable: the default
    sent = [r.query["language"] for r in tmdb_catalog.requests if r.path == "/3/movie/155"]
    assert sent == ["fr-FR", "de", "en-US"]  # each language its own cache entry
    gql(query, headers={"Accept-Language": "fr-FR"}).ok()
    assert tmdb_catalog.count("/movie/155") == 3


def test_the_local_catalog_is_english_whatever_the_request_asks(gql: GraphQL, local_catalog: None) -> None:
    query = "{ movie(id: 155) { title } }"
    with CaptureQueriesContext(connection) as english:
        gql(query).ok()
    with CaptureQueriesContext(connection) as french:
        assert gql(query, headers={"Accept-Language": "fr"}).ok() == {"movie": {"title": "The Dark Knight"}}
    assert len(english) == 1
    assert len(french) == 0  # the same cache entry answered


def test_load_catalog_imports_people_credits_and_companies() -> None:
    assert Person.objects.count() == 26952
    assert Credit.objects.filter(kind=Credit.CAST).count() == 41137
    assert Credit.objects.filter(kind=Credit.CREW).count() == 29845
    nolan = Person.objects.get(id=NOLAN)
    assert (nolan.known_for_department, nolan.credit_count) == ("Directing", nolan.credits.count())
    dark_knight = Movie.objects.get(id=155)
    assert "Warner Bros." in set(dark_knight.companies.values_list("name", flat=True))
