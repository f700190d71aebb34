"""The catalog through the GraphQL endpoint: both sources, validation, batching, caching."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import services
from accounts.models import Favorite, User
from movies.catalog import activity, cache_policy, reads
from movies.catalog.sources.local import LocalCatalogSource
from movies.models import Movie, MovieActivity
from tests.conftest import GraphQL, clear_caches

pytestmark = pytest.mark.django_db

DETAIL_FIELDS = "tagline runtime status imdbId homepage budget revenue keywords"
PAGE_QUERY = """
query Home($page: Int!) {
  popularMovies(page: $page) {
    page totalPages totalResults
    results { id title year voteAverage genres { id name } posterUrl(size: W342) %s }
  }
}
"""


@pytest.fixture(autouse=True)
def _local(local_catalog: None) -> None:
    """Tests here use the local source unless they ask for the fake TMDb."""


def test_genres_lists_the_catalog_genres(gql: GraphQL) -> None:
    genres = gql("{ genres { id name } }").ok()["genres"]
    assert {"id": 18, "name": "Drama"} in genres
    assert len(genres) == 19


def test_popular_is_paged_like_tmdb(gql: GraphQL) -> None:
    page = gql(PAGE_QUERY % "", {"page": 1}).ok()["popularMovies"]
    assert (page["page"], page["totalPages"], page["totalResults"]) == (1, 150, 3000)
    assert len(page["results"]) == 20
    popularity = list(Movie.objects.order_by("-popularity").values_list("id", flat=True)[:20])
    assert [movie["id"] for movie in page["results"]] == popularity
    assert all(movie["genres"] for movie in page["results"])
    # The bundled catalog carries TMDb poster paths (2,976 of 3,000 films).
    assert all(movie["posterUrl"].startswith("https://image.tmdb.org/t/p/w342/") for movie in page["results"])
    second = gql(PAGE_QUERY % "", {"page": 2}).ok()["popularMovies"]
    assert {m["id"] for m in second["results"]}.isdisjoint(m["id"] for m in page["results"])
    assert gql(PAGE_QUERY % "", {"page": 151}).ok()["popularMovies"]["results"] == []


@pytest.mark.parametrize("page", [0, -1, 501])
def test_page_out_of_range_is_bad_user_input(gql: GraphQL, page: int) -> None:
    response = gql(PAGE_QUERY % "", {"page": page})
    assert response.codes == ["BAD_USER_INPUT"]
    assert "between 1 and 500" in response.errors[0]["message"]


def test_top_rated_needs_enough_votes(gql: GraphQL) -> None:
    results = gql("{ topRatedMovies { results { voteAverage voteCount } } }").ok()["topRatedMovies"][
        "results"
    ]
    assert all(movie["voteCount"] >= 300 for movie in results)
    averages = [movie["voteAverage"] for movie in results]
    assert averages == sorted(averages, reverse=True)


def test_now_playing_and_upcoming_sit_around_the_reference_date(gql: GraphQL) -> None:
    reference = LocalCatalogSource.reference_date()
    data = gql(
        "{ nowPlayingMovies { results { releaseDate } } upcomingMovies { results { releaseDate } } }"
    ).ok()
    playing = [date.fromisoformat(m["releaseDate"]) for m in data["nowPlayingMovies"]["results"]]
    upcoming = [date.fromisoformat(m["releaseDate"]) for m in data["upcomingMovies"]["results"]]
    assert playing
    assert upcoming
    assert all(reference - timedelta(days=60) < day <= reference for day in playing)
    assert all(reference < day <= reference + timedelta(days=120) for day in upcoming)


def test_reference_date_setting_moves_the_lists(gql: GraphQL, settings: Any) -> None:
    settings.CATALOG_REFERENCE_DATE = "2009-12-18"
    titles = [
        m["title"]
        for m in gql("{ nowPlayingMovies { results { title } } }").ok()["nowPlayingMovies"]["results"]
    ]
    assert "Avatar" in titles


def test_trending_blends_in_our_users_recent_favorites(gql: GraphQL) -> None:
    query = "{ trendingMovies(timeWindow: WEEK) { results { id } } }"
    before = [m["id"] for m in gql(query).ok()["trendingMovies"]["results"]]
    obscure = Movie.objects.order_by("popularity").values_list("id", flat=True)[1500]
    assert obscure not in before
    for index in range(30):
        user = User.objects.create_user(f"fan{index}", f"fan{index}@example.com", "pw-12345678")
        Favorite.objects.create(user=user, movie_id=obscure)
    clear_caches()
    after = [m["id"] for m in gql(query).ok()["trendingMovies"]["results"]]
    assert obscure in after
    # Only the window's activity counts: three days on, the favorites still lift the week, not the day.
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        clear_caches()
        assert obscure in [m["id"] for m in gql(query).ok()["trendingMovies"]["results"]]
        day = [
            m["id"]
            for m in gql("{ trendingMovies(timeWindow: DAY) { results { id } } }").ok()["trendingMovies"][
                "results"
            ]
        ]
    assert obscure not in day


def _day_counts() -> set[tuple[int, date, int, int, int]]:
    return {
        row
        for row in MovieActivity.objects.values_list("movie_id", "day", "favorites", "ratings", "watchlist")
        if any(row[2:])
    }


def test_day_counts_follow_every_interaction_as_it_happens(gql: GraphQL) -> None:
    token = gql(
        'mutation { register(input: {username: "counter", email: "c@example.com", password: "a-long-passphrase-1"}) { token } }'
    ).ok()["register"]["token"]
    today = timezone.now().date()
    gql(
        "mutation { addFavorite(movieId: 155) { id } addToWatchlist(movieId: 550) { id } "
        "rateMovie(movieId: 155, score: 4) { id } }",
        token=token,
    ).ok()
    assert _day_counts() == {(155, today, 1, 1, 0), (550, today, 0, 0, 1)}
    gql('mutation { addFavorite(movieId: 155, note: "again") { id } }', token=token).ok()  # idempotent
    assert _day_counts() == {(155, today, 1, 1, 0), (550, today, 0, 0, 1)}
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        later = timezone.now().date()
        services.rate(User.objects.get(username="counter"), 155, 5)  # a rating counts when last changed
    assert _day_counts() == {(155, today, 1, 0, 0), (155, later, 0, 1, 0), (550, today, 0, 0, 1)}
    gql("mutation { removeFromWatchlist(movieId: 550) deleteRating(movieId: 155) }", token=token).ok()
    assert _day_counts() == {(155, today, 1, 0, 0)}
    # Rebuilding from the rows finds what the signals kept.
    from django.core.management import call_command

    call_command("rebuild_interaction_counts", stdout=(out := io.StringIO()))
    assert "Rebuilt 1 movie-day counts." in out.getvalue()
    assert _day_counts() == {(155, today, 1, 0, 0)}
    gql(
        'mutation { deleteAccount(password: "a-long-passphrase-1") }', token=token
    ).ok()  # a cascade counts too
    assert _day_counts() == set()


def test_a_day_window_counts_yesterday_by_the_part_still_inside_it() -> None:
    six = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
    MovieActivity.objects.create(movie_id=155, day=date(2026, 3, 10), favorites=2)
    MovieActivity.objects.create(movie_id=155, day=date(2026, 3, 9), ratings=4)
    MovieActivity.objects.create(movie_id=550, day=date(2026, 3, 8), favorites=9)  # outside
    assert activity.recent_interactions(1, now=six) == {155: pytest.approx(2 + 4 * 18 / 24)}
    assert activity.recent_interactions(7, now=six) == {155: 6.0, 550: 9.0}


def test_movie_by_id_has_detail_fields(gql: GraphQL) -> None:
    movie = gql(
        "{ movie(id: 155) { id title year runtime tagline budget keywords status genres { name } } }"
    ).ok()["movie"]
    assert movie["title"] == "The Dark Knight"
    assert movie["year"] == 2008
    assert movie["runtime"] == 152
    assert movie["tagline"] == "Why So Serious?"
    assert "joker" in movie["keywords"]
    avatar = gql("{ movie(id: 19995) { revenue revenueUsd budget } }").ok()["movie"]
    assert avatar == {"revenue": None, "revenueUsd": 2787965087.0, "budget": 237000000}
    assert {"name": "Crime"} in movie["genres"]


def test_unknown_movie_is_null_without_error(gql: GraphQL) -> None:
    response = gql("{ movie(id: 999999999) { id } }")
    assert response.ok() == {"movie": None}


def test_movies_keeps_order_with_nulls(gql: GraphQL) -> None:
    movies = gql("{ movies(ids: [155, 999999999, 19995]) { id title } }").ok()["movies"]
    assert movies == [{"id": 155, "title": "The Dark Knight"}, None, {"id": 19995, "title": "Avatar"}]


def test_more_than_100_ids_is_bad_user_input(gql: GraphQL) -> None:
    response = gql("query($ids: [Int!]!) { movies(ids: $ids) { id } }", {"ids": list(range(101))})
    assert response.codes == ["BAD_USER_INPUT"]


def test_search_finds_by_title_and_filters_by_year(gql: GraphQL) -> None:
    query = "query($q: String!, $year: Int) { searchMovies(query: $q, year: $year) { totalResults results { title year } } }"
    results = gql(query, {"q": "dark knight"}).ok()["searchMovies"]["results"]
    assert "The Dark Knight" in [movie["title"] for movie in results[:3]]
    in_2012 = gql(query, {"q": "dark knight", "year": 2012}).ok()["searchMovies"]["results"]
    assert in_2012
    assert all(movie["year"] == 2012 for movie in in_2012)


def test_search_tolerates_typos_on_postgres(gql: GraphQL, postgres: None) -> None:
    results = gql('{ searchMovies(query: "dark nite") { results { title } } }').ok()["searchMovies"][
        "results"
    ]
    assert "The Dark Knight" in [movie["title"] for movie in results[:5]]
    results = gql('{ searchMovies(query: "godfathr") { results { title } } }').ok()["searchMovies"]["results"]
    assert results
    assert results[0]["title"].startswith("The Godfather")


@pytest.mark.parametrize(("text", "message"), [("   ", "empty"), ("x" * 201, "at most 200")])
def test_bad_search_query_is_bad_user_input(gql: GraphQL, text: str, message: str) -> None:
    response = gql("query($q: String!) { searchMovies(query: $q) { totalResults } }", {"q": text})
    assert response.codes == ["BAD_USER_INPUT"]
    assert message in response.errors[0]["message"]


DISCOVER = """
query($filter: DiscoverFilter, $sort: DiscoverSort!) {
  discoverMovies(filter: $filter, sortBy: $sort) {
    totalResults results { id title year voteAverage voteCount originalLanguage genres { id } revenueUsd }
  }
}
"""


def test_discover_applies_every_filter(gql: GraphQL) -> None:
    flt = {
        "genreIds": [28, 878],
        "excludeGenreIds": [16],
        "yearFrom": 2000,
        "yearTo": 2010,
        "minVoteAverage": 6.5,
        "minVoteCount": 1000,
        "language": "en",
    }
    page = gql(DISCOVER, {"filter": flt, "sort": "VOTE_AVERAGE_DESC"}).ok()["discoverMovies"]
    assert page["totalResults"] > 0
    for movie in page["results"]:
        genres = {genre["id"] for genre in movie["genres"]}
        assert {28, 878} <= genres
        assert 16 not in genres
        assert 2000 <= movie["year"] <= 2010
        assert movie["voteAverage"] >= 6.5
        assert movie["voteCount"] >= 1000
        assert movie["originalLanguage"] == "en"
    averages = [movie["voteAverage"] for movie in page["results"]]
    assert averages == sorted(averages, reverse=True)


@pytest.mark.parametrize(
    ("sort", "key", "reverse"),
    [
        ("TITLE_ASC", "title", False),
        ("REVENUE_DESC", "revenueUsd", True),
        ("RELEASE_DATE_DESC", "year", True),
    ],
)
def test_discover_sorts(gql: GraphQL, sort: str, key: str, reverse: bool) -> None:
    results = gql(DISCOVER, {"sort": sort}).ok()["discoverMovies"]["results"]
    values = [movie[key] for movie in results]
    assert values == sorted(values, reverse=reverse)


@pytest.mark.parametrize(
    ("flt", "message"),
    [
        ({"yearFrom": 2010, "yearTo": 2000}, "yearFrom must not be after yearTo"),
        ({"yearFrom": 1500}, "between 1870 and 2100"),
        ({"minVoteAverage": 11}, "minVoteAverage"),
        ({"minVoteCount": -1}, "minVoteCount"),
        ({"language": "english"}, "ISO 639-1"),
        ({"genreIds": [28], "excludeGenreIds": [28]}, "both"),
    ],
)
def test_discover_rejects_bad_filters(gql: GraphQL, flt: dict[str, Any], message: str) -> None:
    response = gql(DISCOVER, {"filter": flt, "sort": "POPULARITY_DESC"})
    assert response.codes == ["BAD_USER_INPUT"]
    assert message in response.errors[0]["message"]


def test_similar_movies_share_genres_and_exclude_the_movie(gql: GraphQL) -> None:
    data = gql("{ movie(id: 155) { genres { id } similar(limit: 5) { id title genres { id } } } }").ok()[
        "movie"
    ]
    genres = {genre["id"] for genre in data["genres"]}
    assert len(data["similar"]) == 5
    assert all(m["id"] != 155 and genres & {g["id"] for g in m["genres"]} for m in data["similar"])
    assert "The Dark Knight Rises" in [movie["title"] for movie in data["similar"]]
    assert gql("{ movie(id: 155) { similar(limit: 0) { id } } }").codes == ["BAD_USER_INPUT"]


def test_a_page_with_details_costs_constant_queries_then_none_when_cached(gql: GraphQL) -> None:
    query = PAGE_QUERY % DETAIL_FIELDS
    with CaptureQueriesContext(connection) as cold:
        page = gql(query, {"page": 1}).ok()["popularMovies"]
    assert all(movie["runtime"] for movie in page["results"])
    # count + page slice, one batched details lookup, one genre list.
    assert len(cold) <= 4, [q["sql"] for q in cold.captured_queries]
    with CaptureQueriesContext(connection) as warm:
        gql(query, {"page": 1}).ok()
    assert len(warm) == 0


def test_cached_entries_use_the_design_ttls(gql: GraphQL, redis_cache: None) -> None:
    gql(
        "{ genres { id } trendingMovies { page } popularMovies { page } movie(id: 155) { title } "
        'searchMovies(query: "heat") { page } discoverMovies { page } }'
    ).ok()
    from django_redis import get_redis_connection

    keys = {key.decode() for key in get_redis_connection("default").keys("*")}

    def ttl(kind: str) -> int:
        key = next(key for key in keys if f":local:{kind}:" in key and ":stale:" not in key)
        return get_redis_connection("default").ttl(key)

    for kind, expected in cache_policy.TTL.items():
        # Not asked for above; credits and people are checked in test_people.py.
        if kind in {"similar", "recommendations", "credits", "person", "person-credits", "people-search"}:
            continue
        assert expected - 5 <= ttl(kind) <= expected, kind
    assert any(key.startswith(f"{settings_prefix()}:1:stale:") for key in keys)


def settings_prefix() -> str:
    from django.conf import settings

    return settings.CACHE_KEY_PREFIX


# --- Live-TMDb mode, against the fake TMDb server --------------------------------

TRENDING = (
    "{ trendingMovies { totalPages results { id title posterUrl(size: W185) backdropUrl genres { name } } } }"
)


def test_tmdb_lists_come_from_tmdb_with_image_urls(gql: GraphQL, tmdb_catalog: Any) -> None:
    page = gql(TRENDING).ok()["trendingMovies"]
    first = page["results"][0]
    assert first["id"] == 1098006
    assert first["title"] == "Fountain of Youth"
    assert first["posterUrl"].startswith("https://image.tmdb.org/t/p/w185/")
    assert first["backdropUrl"].startswith("https://image.tmdb.org/t/p/w780/")
    assert page["totalPages"] == 500
    # Kept locally, so users' lists survive a TMDb outage.
    assert Movie.objects.filter(id=1098006).exists()


def test_tmdb_page_of_details_is_one_batched_round_then_cached(gql: GraphQL, tmdb_catalog: Any) -> None:
    query = "{ popularMovies { results { id title runtime tagline keywords genres { name } } } }"
    results = gql(query).ok()["popularMovies"]["results"]
    assert len(results) == 20
    details_calls = [
        r for r in tmdb_catalog.requests if r.path.startswith("/3/movie/") and r.path[9:].isdigit()
    ]
    assert len(details_calls) == 20  # one per movie, fetched concurrently in one loader batch
    assert len({r.path for r in details_calls}) == 20
    assert tmdb_catalog.count("/movie/popular") == 1
    assert tmdb_catalog.count("/genre/movie/list") == 1
    before = len(tmdb_catalog.requests)
    gql(query).ok()
    assert len(tmdb_catalog.requests) == before  # everything from the cache


def test_tmdb_movie_details_and_similar(gql: GraphQL, tmdb_catalog: Any) -> None:
    movie = gql("{ movie(id: 550) { title runtime imdbId keywords similar(limit: 3) { id title } } }").ok()[
        "movie"
    ]
    assert movie["title"] == "Fight Club"
    assert movie["runtime"] == 139
    assert movie["imdbId"] == "tt0137523"
    assert movie["keywords"]
    assert 0 < len(movie["similar"]) <= 3
    assert gql("{ movie(id: 424242424) { id } }").ok() == {"movie": None}


def test_tmdb_search_and_discover(gql: GraphQL, tmdb_catalog: Any) -> None:
    found = gql('{ searchMovies(query: "Inception") { results { title } } }').ok()["searchMovies"]["results"]
    assert found[0]["title"] == "Inception"
    flt = {"genreIds": [28], "yearFrom": 2000, "language": "en"}
    assert gql(DISCOVER, {"filter": flt, "sort": "TITLE_ASC"}).ok()["discoverMovies"]["results"]
    sent = next(r for r in tmdb_catalog.requests if r.path == "/3/discover/movie")
    assert sent.query["with_genres"] == "28"
    assert sent.query["sort_by"] == "title.asc"
    assert sent.query["with_original_language"] == "en"


def test_tmdb_failure_serves_the_stale_copy(gql: GraphQL, tmdb_catalog: Any) -> None:
    fresh = gql(TRENDING).ok()
    # The fresh copy expires; TMDb is down when it is needed again.
    fresh_key = cache_policy.cache_key("tmdb", "trending", "trending_week", 1, reads.locale())
    assert cache.get(fresh_key) is not None
    cache.delete(fresh_key)
    reads.forget_local()
    tmdb_catalog.down = True
    assert gql(TRENDING).ok() == fresh


def test_tmdb_failure_without_stale_copy_is_upstream_unavailable(gql: GraphQL, tmdb_catalog: Any) -> None:
    tmdb_catalog.fail_next(10, status=503)
    response = gql(TRENDING)
    assert response.codes == ["UPSTREAM_UNAVAILABLE"]
    assert tmdb_catalog.base_url not in str(response.body)


def test_tmdb_bad_key_is_upstream_unavailable_and_never_leaks_the_key(
    gql: GraphQL, tmdb_catalog: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from movies.catalog import reads

    settings.TMDB_API_KEY = "wrong-key-should-never-leak-123"
    reads.get_source.cache_clear()
    response = gql("{ genres { id } }")
    assert response.codes == ["UPSTREAM_UNAVAILABLE"]
    assert "wrong-key" not in str(response.body)
    assert "wrong-key" not in caplog.text
    assert any("rejected" in record.getMessage() for record in caplog.records)


def test_tmdb_movie_lookup_falls_back_to_the_local_copy(gql: GraphQL, tmdb_catalog: Any) -> None:
    # The Dark Knight is in our table (bundled catalog); TMDb is down.
    tmdb_catalog.down = True
    movie = gql("{ movie(id: 155) { title runtime } }").ok()["movie"]
    assert movie == {"title": "The Dark Knight", "runtime": 152}


def test_warm_cache_fills_lists_and_details_then_requests_are_free(gql: GraphQL, tmdb_catalog: Any) -> None:
    from django.core.management import call_command

    call_command("warm_cache", pages=1, verbosity=0)
    before = len(tmdb_catalog.requests)
    gql(
        "{ trendingMovies { results { title runtime } } popularMovies { results { id } } genres { id } }"
    ).ok()
    assert len(tmdb_catalog.requests) == before


def test_warm_cache_reports_upstream_failures(
    gql: GraphQL, tmdb_catalog: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from django.core.management import call_command

    gql("{ genres { id } }").ok()
    tmdb_catalog.down = True
    call_command("warm_cache", pages=1, verbosity=0)
    captured = capsys.readouterr()
    assert "Warmed 0 list pages and 0 movies." in captured.out
    assert "trending_week page 1" in captured.err
    assert tmdb_catalog.api_key not in captured.err


def test_concurrent_misses_of_one_key_compute_once() -> None:
    import threading
    import time

    calls: list[int] = []

    def slow_compute() -> dict[str, int]:
        calls.append(1)
        time.sleep(0.2)
        return {"value": 42}

    def slow_many(ids: list[int]) -> dict[int, int]:
        calls.append(len(ids))
        time.sleep(0.2)
        return {item_id: item_id * 2 for item_id in ids}

    results: list[object] = []
    keys = {1: "test:many:1", 2: "test:many:2"}
    workers = [
        threading.Thread(
            target=lambda: results.append(cache_policy.get_or_compute("list", "test:one", slow_compute))
        )
        for _ in range(6)
    ] + [
        threading.Thread(
            target=lambda: results.append(cache_policy.get_many_or_compute("movie", keys, slow_many))
        )
        for _ in range(6)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert calls == [1, 2] or calls == [2, 1]
    assert results.count({"value": 42}) == 6
    assert results.count({1: 2, 2: 4}) == 6


def test_processes_missing_one_key_at_once_ask_the_source_once(redis_cache: None) -> None:
    """The workers of a cold start: each past its own in-process single flight, one fills the key."""
    import threading
    import time

    from movies.catalog import cache_policy

    calls: list[int] = []

    def slow_compute() -> dict[str, int]:
        calls.append(1)
        time.sleep(0.3)
        return {"value": 7}

    results: list[object] = []
    # _compute_one is what a process runs once its own KeyLocks let it: threads stand for processes.
    workers = [
        threading.Thread(
            target=lambda: results.append(cache_policy._compute_one("list", "test:cold", slow_compute))
        )
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert calls == [1]
    assert results == [{"value": 7}] * 4


def test_unknown_ids_are_remembered_so_tmdb_is_asked_once(gql: GraphQL, tmdb_catalog: Any) -> None:
    assert gql("{ movie(id: 424242424) { id } }").ok() == {"movie": None}
    reads.forget_local()
    assert gql("{ movie(id: 424242424) { id } }").ok() == {"movie": None}
    assert tmdb_catalog.count("/movie/424242424") == 1


def test_nested_similar_cannot_multiply_work(gql: GraphQL, settings: Any) -> None:
    # The request cost budget refuses this first; past it, the similar budget still holds.
    settings.GRAPHQL_MAX_COST = 10**9
    query = "{ movie(id: 155) { similar(limit: 50) { similar(limit: 50) { similar(limit: 50) { id } } } } }"
    response = gql(query)
    assert "BAD_USER_INPUT" in response.codes
    assert "at most 1000" in response.errors[0]["message"]
    page = gql("{ popularMovies { results { similar(limit: 10) { id } } } }").ok()
    assert all(len(movie["similar"]) == 10 for movie in page["popularMovies"]["results"])


def test_after_a_failure_the_source_is_left_alone_for_a_while(gql: GraphQL, tmdb_catalog: Any) -> None:
    tmdb_catalog.down = True
    assert gql(TRENDING).codes == ["UPSTREAM_UNAVAILABLE"]
    calls = tmdb_catalog.count("/trending/movie/week")
    reads.forget_local()
    assert gql(TRENDING).codes == ["UPSTREAM_UNAVAILABLE"]
    assert tmdb_catalog.count("/trending/movie/week") == calls


def test_tmdb_similar_pages_past_twenty(gql: GraphQL, tmdb_catalog: Any) -> None:
    # The fake's similar list for Fight Club is 36 films on 2 pages.
    similar = gql("{ movie(id: 550) { similar(limit: 30) { id } } }").ok()["movie"]["similar"]
    pages = sorted(r.query.get("page") for r in tmdb_catalog.requests if r.path.endswith("/similar"))
    assert len(similar) == 30
    assert pages == ["1", "2"]


def test_a_failed_id_waits_out_its_backoff_without_blocking_others() -> None:
    from backend.errors import UpstreamUnavailable

    calls: list[list[int]] = []

    def failing(ids: list[int]) -> dict[int, int]:
        calls.append(list(ids))
        raise UpstreamUnavailable("down")

    def working(ids: list[int]) -> dict[int, int]:
        calls.append(list(ids))
        return {item_id: item_id * 10 for item_id in ids}

    with pytest.raises(UpstreamUnavailable):
        cache_policy.get_many_or_compute("movie", {1: "t:1"}, failing)
    # Id 1 is in its backoff (no stale copy: still an error); id 2 is fetched all the same.
    with pytest.raises(UpstreamUnavailable):
        cache_policy.get_many_or_compute("movie", {1: "t:1", 2: "t:2"}, working)
    assert calls == [[1], [2]]
    assert cache_policy.get_many_or_compute("movie", {2: "t:2"}, working) == {2: 20}
    assert calls == [[1], [2]]


def test_discover_by_many_genres_is_one_subquery_and_ignores_duplicates(gql: GraphQL) -> None:
    # Defect 1: each genre id added a JOIN; 100 of them took 6.5 s on PostgreSQL.
    query = "query($g: [Int!]) { discoverMovies(filter: {genreIds: $g}) { totalResults results { id } } }"
    both = gql(query, {"g": [28, 878]}).ok()["discoverMovies"]
    clear_caches()
    with CaptureQueriesContext(connection) as queries:
        repeated = gql(query, {"g": [28, 878] * 50}).ok()["discoverMovies"]
    assert repeated == both
    assert both["totalResults"] == Movie.objects.filter(genres=28).filter(genres=878).count()
    counted = [q["sql"] for q in queries.captured_queries if "COUNT" in q["sql"].upper()]
    assert counted
    assert all(sql.count("movies_movie_genres") == 1 for sql in counted)


def test_search_queries_are_bounded_in_words(gql: GraphQL) -> None:
    response = gql('{ searchMovies(query: "' + " ".join(["a"] * 13) + '") { totalResults } }')
    assert response.codes == ["BAD_USER_INPUT"]
    assert "at most 12 words" in response.errors[0]["message"]
