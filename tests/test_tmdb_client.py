"""TmdbClient against the fake TMDb server: real HTTP, recorded TMDb bodies, no mocks."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import requests

from backend.errors import UpstreamUnavailable
from movies.records import MAX_PAGE, DiscoverQuery
from movies.tmdb import TmdbClient, TmdbPartialFailure
from tests.fake_tmdb import FakeTmdb

FIGHT_CLUB_KEYWORDS = 14


@pytest.fixture
def server() -> Iterator[FakeTmdb]:
    with FakeTmdb() as fake:
        yield fake


def make_client(server: FakeTmdb, *, bearer: bool = False, **overrides: Any) -> TmdbClient:
    """A client with fast retries so failure tests take milliseconds."""
    options: dict[str, Any] = {
        "base_url": overrides.pop("base_url", None) or server.base_url,
        "api_key": None if bearer else server.api_key,
        "read_access_token": server.read_access_token if bearer else None,
        "backoff": 0.01,
        "max_retry_wait": 0.05,
        "read_timeout": 5,
    }
    options.update(overrides)
    return TmdbClient(**options)


@pytest.fixture
def client(server: FakeTmdb) -> Iterator[TmdbClient]:
    with make_client(server) as tmdb:
        yield tmdb


# ---------------------------------------------------------------------- parsing


def test_genres(client: TmdbClient, server: FakeTmdb) -> None:
    genres = client.genres()
    assert len(genres) == 19
    assert (genres[0].id, genres[0].name) == (28, "Action")
    assert (genres[-1].id, genres[-1].name) == (37, "Western")
    assert server.requests[-1].query["language"] == "en-US"


def test_popular_page_is_parsed_and_total_pages_clamped(client: TmdbClient) -> None:
    page = client.movie_list("popular", 1)
    assert page.page == 1
    assert page.total_pages == MAX_PAGE  # the body says 42471
    assert page.total_results == 849412
    assert len(page.results) == 20
    wonka = page.results[0]
    assert (wonka.id, wonka.title, wonka.original_title) == (787699, "Wonka", "Wonka")
    assert wonka.release_date == date(2023, 12, 6)
    assert wonka.year == 2023
    assert wonka.genre_ids == (35, 10751, 14)
    assert wonka.vote_average == pytest.approx(7.193)
    assert wonka.vote_count == 1401
    assert wonka.popularity == pytest.approx(3205.442)
    assert wonka.adult is False
    assert wonka.poster_path == "/qhb1qOilapbapxWQn9jtRCMwXJF.jpg"


@pytest.mark.parametrize(
    ("kind", "path", "first_id", "total_pages"),
    [
        ("trending_day", "/3/trending/movie/day", 1098006, 500),
        ("trending_week", "/3/trending/movie/week", 1098006, 500),
        ("popular", "/3/movie/popular", 787699, 500),
        ("top_rated", "/3/movie/top_rated", 278, 456),
        ("now_playing", "/3/movie/now_playing", 787699, 155),
        ("upcoming", "/3/movie/upcoming", 787699, 37),
    ],
)
def test_movie_list_kinds(server: FakeTmdb, kind: Any, path: str, first_id: int, total_pages: int) -> None:
    with make_client(server, region="US") as client:
        page = client.movie_list(kind, 2)
    request = server.requests[-1]
    assert request.path == path
    assert request.query["page"] == "2"
    # TMDb has no region filter on trending; the others take it.
    assert ("region" in request.query) is not kind.startswith("trending")
    assert page.page == 2
    assert page.results[0].id == first_id
    assert page.total_pages == total_pages


def test_movie_list_rejects_pages_tmdb_would_refuse(client: TmdbClient, server: FakeTmdb) -> None:
    for bad_page in (0, MAX_PAGE + 1):
        with pytest.raises(ValueError, match="page"):
            client.movie_list("popular", bad_page)
    with pytest.raises(ValueError, match="kind"):
        client.movie_list("nope", 1)  # type: ignore[arg-type]
    assert server.count() == 0


def test_movie_550_with_details_and_keywords(client: TmdbClient, server: FakeTmdb) -> None:
    result = client.movie(550)
    assert result is not None
    movie, details, _ = result
    assert movie.id == 550
    assert movie.title == "Fight Club"
    assert movie.release_date == date(1999, 10, 15)
    assert movie.genre_ids == (18,)  # from details' genres [{id, name}]
    assert movie.vote_count == 27917
    assert details.runtime == 139
    assert details.tagline == "Mischief. Mayhem. Soap."
    assert details.status == "Released"
    assert details.imdb_id == "tt0137523"
    assert details.homepage == "http://www.foxmovies.com/movies/fight-club"
    assert details.budget == 63000000
    assert details.revenue == 100853753
    assert len(details.keywords) == FIGHT_CLUB_KEYWORDS
    assert details.keywords[0] == "dual identity"
    assert "insomnia" in details.keywords
    request = server.requests[-1]
    assert request.path == "/3/movie/550"
    # One call brings keywords and credits together.
    assert request.query["append_to_response"] == "credits,keywords"


def test_movie_550_credits_companies_countries_and_languages(client: TmdbClient) -> None:
    result = client.movie(550)
    assert result is not None
    _, details, credits = result
    # The recorded body: 75 cast in billing order, 188 crew in TMDb's order.
    assert len(credits.cast) == 75
    assert [c.order for c in credits.cast] == sorted(c.order for c in credits.cast)
    first = credits.cast[0]
    assert (first.person.id, first.person.name, first.character, first.order) == (
        819,
        "Edward Norton",
        "Narrator",
        0,
    )
    assert first.person.known_for_department == "Acting"
    assert first.person.profile_path == "/8nytsqL59SFJTVYVrN72k6qkGgJ.jpg"
    assert first.person.popularity == pytest.approx(8.3963)
    assert len(credits.crew) == 188
    directors = [c.person.name for c in credits.crew if c.job == "Director"]
    assert directors == ["David Fincher"]
    assert {c.department for c in credits.crew if c.job == "Director"} == {"Directing"}
    assert details.production_companies[0].name == "Fox 2000 Pictures"
    assert details.production_companies[0].logo_path == "/tEiIH5QesdheJmDAqQwvtN60727.png"
    assert "US" in details.production_countries
    assert details.spoken_languages == ("en",)


def test_person_with_movie_credits_is_one_call(client: TmdbClient, server: FakeTmdb) -> None:
    server.set_person(
        525, biography="British-American filmmaker.", birthday="1970-07-30", place_of_birth="London"
    )
    result = client.person(525)
    assert result is not None
    person, details, credits = result
    assert (person.id, person.name, person.known_for_department) == (525, "Christopher Nolan", "Directing")
    assert details.biography == "British-American filmmaker."
    assert details.birthday == date(1970, 7, 30)
    assert details.place_of_birth == "London"
    directed = [c.movie.title for c in credits.crew if c.job == "Director"]
    assert "The Dark Knight" in directed
    years = [c.movie.release_date for c in credits.crew]
    assert years == sorted(years, reverse=True)  # newest first
    assert server.count("/person/525") == 1
    assert server.requests[-1].query["append_to_response"] == "movie_credits"
    assert client.person(999999999) is None
    assert client.person(0) is None


def test_person_unknown_fields_are_none(client: TmdbClient) -> None:
    result = client.person(3894)  # Christian Bale: the fake leaves biography "" and birthday null
    assert result is not None
    _, details, credits = result
    assert details.biography is None
    assert details.birthday is None
    assert "The Dark Knight" in [c.movie.title for c in credits.cast]


def test_search_people(client: TmdbClient, server: FakeTmdb) -> None:
    page = client.search_people("nolan")
    assert "Christopher Nolan" in [p.name for p in page.results]
    assert page.total_results >= len(page.results)
    sent = server.requests[-1]
    assert (sent.path, sent.query["query"], sent.query["include_adult"]) == (
        "/3/search/person",
        "nolan",
        "false",
    )
    assert client.search_people("   ").total_results == 0
    assert server.count("/search/person") == 1


def test_discover_sends_people_as_and(client: TmdbClient, server: FakeTmdb) -> None:
    page = client.discover(DiscoverQuery(people_ids=(525, 3894)))
    assert server.requests[-1].query["with_people"] == "525,3894"
    assert {"The Dark Knight", "Batman Begins", "The Prestige"} <= {m.title for m in page.results}


def test_language_follows_the_callers_hook_into_worker_threads(server: FakeTmdb) -> None:
    import contextvars

    language: contextvars.ContextVar[str | None] = contextvars.ContextVar("language", default=None)
    with make_client(server, language_of=language.get) as client:
        client.genres()
        language.set("de-DE")
        client.movies_many([550, 348])
        client.search_people("nolan")
    sent = [r.query["language"] for r in server.requests]
    assert sent == ["en-US", "de-DE", "de-DE", "de-DE"]


def test_movie_348_alien(client: TmdbClient) -> None:
    result = client.movie(348)
    assert result is not None
    movie, details, _ = result
    assert movie.title == "Alien"
    assert movie.genre_ids == (27, 878)
    assert details.imdb_id == "tt0078748"
    assert details.budget == 11000000
    assert details.keywords == ()


def test_movie_built_from_a_list_entry_maps_unknown_zeros_to_none(client: TmdbClient) -> None:
    result = client.movie(238)  # in a list recording, not in the bundled catalog
    assert result is not None
    movie, details, _ = result
    assert movie.title == "The Godfather"
    assert movie.genre_ids == (18, 80)
    # TMDb's "unknown" values (0, "", null) become None.
    assert details.runtime is None
    assert details.budget is None
    assert details.tagline is None
    assert details.imdb_id is None
    assert details.production_companies == ()


def test_unknown_movie_is_none_not_an_error(client: TmdbClient, server: FakeTmdb) -> None:
    assert client.movie(999999999) is None
    assert server.count("/movie/999999999") == 1  # a 404 is never retried
    assert client.movie(0) is None
    assert server.count("/movie/0") == 0


def test_search(client: TmdbClient, server: FakeTmdb) -> None:
    page = client.search("Inception", year=2010)
    assert (page.page, page.total_pages, page.total_results) == (1, 1, 10)
    assert [m.id for m in page.results][:2] == [27205, 1370380]
    assert page.results[0].title == "Inception"
    by_id = {m.id: m for m in page.results}
    assert by_id[350632].release_date is None  # "" in the body
    assert by_id[350632].year is None
    assert by_id[1370380].poster_path is None
    assert by_id[1370380].backdrop_path is None
    query = server.requests[-1].query
    assert query["query"] == "Inception"
    assert query["include_adult"] == "false"
    assert query["primary_release_year"] == "2010"


def test_blank_search_does_not_call_tmdb(client: TmdbClient, server: FakeTmdb) -> None:
    page = client.search("   ")
    assert page.results == ()
    assert page.total_results == 0
    assert server.count() == 0


def test_discover_sends_tmdb_filters(client: TmdbClient, server: FakeTmdb) -> None:
    query = DiscoverQuery(
        genre_ids=(28, 12),
        exclude_genre_ids=(27,),
        year_from=1990,
        year_to=1999,
        min_vote_average=7.5,
        min_vote_count=100,
        language="en",
        sort="title_asc",
    )
    page = client.discover(query, page=3)
    assert page.results[0].title == "Thor: Love and Thunder"
    assert page.total_pages == MAX_PAGE
    sent = server.requests[-1]
    assert sent.path == "/3/discover/movie"
    assert sent.query["with_genres"] == "28,12"
    assert sent.query["without_genres"] == "27"
    assert sent.query["primary_release_date.gte"] == "1990-01-01"
    assert sent.query["primary_release_date.lte"] == "1999-12-31"
    assert sent.query["vote_average.gte"] == "7.5"
    assert sent.query["vote_count.gte"] == "100"
    assert sent.query["with_original_language"] == "en"
    assert sent.query["include_adult"] == "false"
    assert sent.query["sort_by"] == "title.asc"
    assert sent.query["page"] == "3"


@pytest.mark.parametrize(
    ("sort", "sort_by"),
    [
        ("popularity_desc", "popularity.desc"),
        ("vote_average_desc", "vote_average.desc"),
        ("release_date_desc", "primary_release_date.desc"),
        ("revenue_desc", "revenue.desc"),
    ],
)
def test_discover_sort_mapping(client: TmdbClient, server: FakeTmdb, sort: Any, sort_by: str) -> None:
    client.discover(DiscoverQuery(sort=sort))
    query = server.requests[-1].query
    assert query["sort_by"] == sort_by
    assert "with_genres" not in query


def test_similar(client: TmdbClient, server: FakeTmdb) -> None:
    page = client.similar(550)
    assert server.requests[-1].path == "/3/movie/550/similar"
    assert page.results
    assert all(18 in m.genre_ids and m.id != 550 for m in page.results)
    assert client.similar(999999999).results == ()


# ---------------------------------------------------------------------- auth


def test_bearer_token_auth(server: FakeTmdb) -> None:
    with make_client(server, bearer=True) as client:
        assert len(client.genres()) == 19
    request = server.requests[-1]
    assert request.headers["Authorization"] == f"Bearer {server.read_access_token}"
    assert "api_key" not in request.query


def test_api_key_auth(client: TmdbClient, server: FakeTmdb) -> None:
    client.genres()
    request = server.requests[-1]
    assert request.query["api_key"] == server.api_key
    assert "Authorization" not in request.headers


def test_bad_key_raises_without_leaking_it(server: FakeTmdb, caplog: pytest.LogCaptureFixture) -> None:
    secret = "wrong-key-that-must-not-leak-42"
    caplog.set_level(logging.DEBUG)  # urllib3 logs full URLs at DEBUG
    with make_client(server, api_key=secret) as client, pytest.raises(UpstreamUnavailable) as excinfo:
        client.movie_list("popular", 1)
    assert "401" in str(excinfo.value)
    assert secret not in str(excinfo.value)
    # No chained requests exception (its text would hold the URL with the key).
    assert excinfo.value.__cause__ is None
    assert excinfo.value.__context__ is None or excinfo.value.__suppress_context__
    assert secret not in caplog.text
    assert any(
        r.levelno == logging.ERROR and "TMDb rejected the API key" in r.getMessage() for r in caplog.records
    )
    assert server.count() == 1  # 401 is not retried


def test_bad_bearer_token_is_rejected(server: FakeTmdb) -> None:
    with (
        make_client(server, bearer=True, read_access_token="bad-token") as client,
        pytest.raises(UpstreamUnavailable, match="401"),
    ):
        client.genres()


def test_unconfigured_client_does_not_call_tmdb(server: FakeTmdb) -> None:
    with make_client(server, api_key="") as client:
        assert not client.configured
        with pytest.raises(UpstreamUnavailable, match="not configured"):
            client.genres()
    assert server.count() == 0


def test_repr_hides_credentials(client: TmdbClient, server: FakeTmdb) -> None:
    assert server.api_key not in repr(client)


# ---------------------------------------------------------------------- failures


def test_retries_server_errors_then_succeeds(server: FakeTmdb) -> None:
    calls: list[tuple[str, int, float]] = []
    server.fail_next(2, status=500)
    with make_client(server, on_request=lambda *call: calls.append(call)) as client:
        assert len(client.genres()) == 19
    assert server.count("/genre/movie/list") == 3
    assert [(path, status) for path, status, _ in calls] == [
        ("/genre/movie/list", 500),
        ("/genre/movie/list", 500),
        ("/genre/movie/list", 200),
    ]
    assert all(seconds >= 0 for *_, seconds in calls)


def test_on_request_reports_the_path_template(client: TmdbClient) -> None:
    calls: list[tuple[str, int, float]] = []
    client.on_request = lambda *call: calls.append(call)
    client.movie(550)
    client.movie(424242424)
    assert [(path, status) for path, status, _ in calls] == [
        ("/movie/{movie_id}", 200),
        ("/movie/{movie_id}", 404),
    ]


def test_failing_hook_does_not_break_requests(server: FakeTmdb) -> None:
    def broken_hook(path: str, status: int, seconds: float) -> None:
        raise RuntimeError("metrics backend down")

    with make_client(server, on_request=broken_hook) as client:
        assert client.genres()


def test_exhausted_retries(server: FakeTmdb) -> None:
    server.fail_next(10, status=503)
    with (
        make_client(server, max_retries=2) as client,
        pytest.raises(UpstreamUnavailable, match="503") as excinfo,
    ):
        client.movie_list("top_rated", 1)
    assert server.count() == 3
    message = str(excinfo.value)
    assert server.api_key not in message
    assert "127.0.0.1" not in message  # no URL in messages


def test_rate_limit_honours_retry_after(server: FakeTmdb) -> None:
    server.rate_limit_next(1, retry_after=0.3)
    with make_client(server, max_retry_wait=5) as client:
        started = time.monotonic()
        assert client.genres()
        elapsed = time.monotonic() - started
    assert server.count() == 2
    assert elapsed >= 0.3  # waited as told, not the 0.01 s backoff


def test_rate_limit_wait_is_capped(server: FakeTmdb) -> None:
    server.rate_limit_next(2, retry_after=30)
    with make_client(server, max_retry_wait=0.05) as client:
        started = time.monotonic()
        assert client.genres()
        elapsed = time.monotonic() - started
    assert server.count() == 3
    assert elapsed < 5


def test_rate_limit_exhausted(server: FakeTmdb) -> None:
    server.rate_limit_next(5, retry_after=1)
    with make_client(server, max_retries=1) as client, pytest.raises(UpstreamUnavailable, match="429"):
        client.genres()
    assert server.count() == 2


def test_client_errors_other_than_429_are_not_retried(server: FakeTmdb) -> None:
    server.fail_next(1, status=400)
    with make_client(server) as client, pytest.raises(UpstreamUnavailable, match="Invalid page"):
        client.movie_list("popular", 1)
    assert server.count() == 1


def test_malformed_json(client: TmdbClient, server: FakeTmdb) -> None:
    server.malformed_next(1)
    with pytest.raises(UpstreamUnavailable, match="malformed JSON"):
        client.genres()
    assert server.count() == 1
    assert client.genres()  # the next body is fine again


def test_server_down(server: FakeTmdb) -> None:
    server.down = True
    with make_client(server, max_retries=2) as client, pytest.raises(UpstreamUnavailable) as excinfo:
        client.genres()
    assert server.count() == 3  # connection errors are retried
    assert server.api_key not in str(excinfo.value)
    server.down = False
    with make_client(server) as client:
        assert client.genres()


def test_connection_refused(server: FakeTmdb) -> None:
    base_url = server.base_url
    server.stop()
    with make_client(server, base_url=base_url, max_retries=1) as client, pytest.raises(UpstreamUnavailable):
        client.genres()


def test_read_timeout(server: FakeTmdb) -> None:
    server.latency = 0.5
    with make_client(server, read_timeout=0.1) as client:
        started = time.monotonic()
        with pytest.raises(UpstreamUnavailable, match="timed out"):
            client.movie(550)
        elapsed = time.monotonic() - started
    assert elapsed < 0.45
    assert server.count() == 1  # a slow TMDb is not asked again


# ---------------------------------------------------------------------- movies_many


def test_movies_many_runs_concurrently(server: FakeTmdb) -> None:
    ids = [550, 348, 278, 238, 240, 424, 389, 19404]
    server.latency = 0.2
    with make_client(server, max_workers=8) as client:
        movies = client.movies_many([*ids, 999999999, 550])
    assert set(movies) == set(ids)  # unknown id absent, duplicate fetched once
    assert movies[550][0].title == "Fight Club"
    assert movies[550][1].runtime == 139
    assert server.count("/movie/") == len(ids) + 1
    assert server.max_in_flight >= 4


def test_movies_many_is_bounded_by_max_workers(server: FakeTmdb) -> None:
    server.latency = 0.1
    with make_client(server, max_workers=3) as client:
        movies = client.movies_many([550, 348, 278, 238, 240, 424, 389])
    assert len(movies) == 7
    assert 2 <= server.max_in_flight <= 3


def test_movies_many_empty(client: TmdbClient, server: FakeTmdb) -> None:
    assert client.movies_many([]) == {}
    assert server.count() == 0


def test_movies_many_partial_failure(server: FakeTmdb) -> None:
    server.fail_next(1, status=500)
    with make_client(server, max_retries=0) as client, pytest.raises(TmdbPartialFailure) as excinfo:
        client.movies_many([550, 348])
    failure = excinfo.value
    assert isinstance(failure, UpstreamUnavailable)
    assert len(failure.failed_ids) == 1
    assert set(failure.results) | set(failure.failed_ids) == {550, 348}


# ---------------------------------------------------------------------- settings & fake server


def test_from_settings(settings: Any, server: FakeTmdb) -> None:
    settings.TMDB_BASE_URL = server.base_url
    settings.TMDB_API_KEY = ""
    settings.TMDB_READ_ACCESS_TOKEN = server.read_access_token
    settings.TMDB_LANGUAGE = "fr-FR"
    settings.TMDB_REGION = "FR"
    settings.TMDB_TIMEOUT = 4.0
    settings.TMDB_MAX_RETRIES = 1
    settings.TMDB_MAX_WORKERS = 2
    with TmdbClient.from_settings() as client:
        assert (client.read_timeout, client.max_retries, client.max_workers) == (4.0, 1, 2)
        client.movie_list("now_playing", 1)
    request = server.requests[-1]
    assert request.query["language"] == "fr-FR"
    assert request.query["region"] == "FR"
    assert request.headers["Authorization"] == f"Bearer {server.read_access_token}"


def test_fake_server_tmdb_errors(server: FakeTmdb) -> None:
    key = {"api_key": server.api_key}
    too_far = requests.get(f"{server.base_url}/movie/popular", params={**key, "page": 501}, timeout=5)
    assert too_far.status_code == 400
    assert too_far.json()["status_code"] == 22
    no_query = requests.get(f"{server.base_url}/search/movie", params=key, timeout=5)
    assert no_query.status_code == 422
    assert no_query.json() == {"errors": ["query must be provided"]}
    unknown = requests.get(f"{server.base_url}/movie/999999999", params=key, timeout=5)
    assert unknown.status_code == 404
    assert unknown.json()["status_code"] == 34
    server.rate_limit_next(1, retry_after=2)
    limited = requests.get(f"{server.base_url}/configuration", params=key, timeout=5)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "2"
    assert requests.get(f"{server.base_url}/configuration", timeout=5).status_code == 401
    assert server.count("/configuration") == server.count("/3/configuration") == 2
