"""Background tasks on a real Celery worker (Celery's embedded test worker) with Redis as the broker.

The worker runs in a thread of this process, consuming from its own Redis
database (14, or CELERY_TEST_BROKER_URL), against the test database: each
test commits its rows (``transactional_db``) so the worker sees them. A task
"ran" when the worker recorded its attempt in ``TaskStat``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from celery.contrib.testing.worker import start_worker
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Favorite, Rating, User
from backend import locks
from backend.celery import app
from backend.models import TaskStat
from movies.catalog import cache_policy, reads
from movies.models import Movie, MovieActivity, RecommenderModel
from tests.conftest import GraphQL
from tests.fake_tmdb import FIXTURES_DIR

WORKER_REDIS_DB = 14


def broker_url(redis_url: str) -> str:
    """The test broker: Redis database 14 of the cache's server (or CELERY_TEST_BROKER_URL)."""
    import os

    if os.environ.get("CELERY_TEST_BROKER_URL"):
        return os.environ["CELERY_TEST_BROKER_URL"]
    parts = urlsplit(redis_url)
    return urlunsplit(parts._replace(path=f"/{WORKER_REDIS_DB}"))


@pytest.fixture
def _tasks_run_inline() -> None:
    """Overrides the suite's eager mode: here tasks go through the broker to the worker."""
    app.conf.task_always_eager = False


@pytest.fixture
def catalog(transactional_db: None) -> None:
    """transactional_db starts from flushed tables after another such test: the catalog must be there."""
    if not Movie.objects.filter(id=155).exists():
        call_command("load_catalog", verbosity=0)


def _use_broker(url: str, options: dict[str, Any] | None = None) -> None:
    from kombu import pools

    # Connections made for another broker must not be reused.
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.broker_url = url
    app.conf.broker_transport_options = options or {"visibility_timeout": 3600}


@pytest.fixture
def worker_factory(redis_cache: None, transactional_db: None, settings: Any) -> Iterator[Callable[..., Any]]:
    """Starts the embedded worker: ``worker_factory(pool="solo", concurrency=1)``; stopped after the test."""
    settings.TASK_RETRY_BACKOFF_SECONDS = 0.2
    settings.TASK_RETRY_BACKOFF_MAX_SECONDS = 1.0
    original = app.conf.broker_url, app.conf.broker_transport_options
    _use_broker(broker_url(settings.REDIS_URL))
    app.control.purge()
    started: list[Any] = []

    def start(pool: str = "solo", concurrency: int = 1) -> Any:
        context = start_worker(
            app, pool=pool, concurrency=concurrency, perform_ping_check=False, loglevel="WARNING"
        )
        started.append(context)
        return context.__enter__()

    yield start
    for context in reversed(started):
        context.__exit__(None, None, None)
    app.control.purge()
    _use_broker(*original)


@pytest.fixture
def worker(worker_factory: Callable[..., Any]) -> Any:
    """One solo worker."""
    return worker_factory()


def _stat(name: str) -> TaskStat:
    return TaskStat.objects.filter(name=name).first() or TaskStat(name=name)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the worker")
        time.sleep(0.05)


def run(name: str, *args: Any, expect: str = "successes", count: int = 1, timeout: float = 30.0) -> TaskStat:
    """Queues task ``name`` and waits until its ``expect`` counter (successes, failures, retries) grew by ``count``."""
    before = getattr(_stat(name), expect)
    app.tasks[name].apply_async(args)
    wait_for(lambda: getattr(_stat(name), expect) >= before + count, timeout)
    return _stat(name)


def _user(name: str) -> User:
    # No password: hashing one costs a few hundred milliseconds and nobody signs in here.
    return User.objects.create(username=name, email=f"{name}@example.com", password="!")


def _fans(count: int, movies: tuple[int, ...] = (19995, 27205), prefix: str = "fan") -> None:
    """``count`` users who each favorite ``movies`` (one by one, so the day counts follow)."""
    for index in range(count):
        user = _user(f"{prefix}{index}")
        for movie_id in movies:
            Favorite.objects.create(user=user, movie_id=movie_id)


# --- retraining ----------------------------------------------------------------------------------


def test_retraining_publishes_once_and_is_idempotent(worker: Any) -> None:
    _fans(10)
    run("movies.retrain_recommender")
    assert RecommenderModel.objects.count() == 1
    run("movies.retrain_recommender")  # nothing new since: nothing published
    stat = _stat("movies.retrain_recommender")
    assert RecommenderModel.objects.count() == 1
    assert (stat.successes, stat.failures) == (2, 0)
    assert stat.last_success_at is not None


def test_retraining_waits_for_enough_new_interactions(worker: Any, settings: Any) -> None:
    settings.RECOMMENDER_RETRAIN_MIN_INTERACTIONS = 6
    _fans(5)
    run("movies.retrain_recommender")
    first = RecommenderModel.objects.get()
    assert first.meta["interactions"] == 10
    _fans(2, prefix="late")  # 4 new interactions: under the threshold
    run("movies.retrain_recommender")
    assert RecommenderModel.objects.count() == 1
    _fans(1, prefix="later")  # 6 now
    run("movies.retrain_recommender")
    newest = RecommenderModel.objects.order_by("-id").first()
    assert newest is not None
    assert newest.pk != first.pk
    assert newest.meta["interactions"] == 16


def test_an_old_model_is_retrained_on_schedule(worker: Any, settings: Any) -> None:
    _fans(3)
    run("movies.retrain_recommender")
    Favorite.objects.create(user=User.objects.get(username="fan0"), movie_id=155)
    run("movies.retrain_recommender")  # one new interaction, model fresh: not due
    assert RecommenderModel.objects.count() == 1
    RecommenderModel.objects.update(created_at=timezone.now() - timedelta(hours=25))
    run("movies.retrain_recommender")
    assert RecommenderModel.objects.count() == 2


def test_only_one_worker_trains_at_a_time(worker_factory: Callable[..., Any]) -> None:
    _fans(10)
    worker_factory(pool="threads", concurrency=2)
    with locks.exclusive("retrain-recommender", timeout=60) as held:
        assert held
        run("movies.retrain_recommender")  # someone else holds the lock: it skips
        assert not RecommenderModel.objects.exists()
    # Two at once on two worker threads: one trains, the other finds the new model and skips.
    before = _stat("movies.retrain_recommender").successes
    app.tasks["movies.retrain_recommender"].apply_async()
    app.tasks["movies.retrain_recommender"].apply_async()
    wait_for(lambda: _stat("movies.retrain_recommender").successes >= before + 2)
    assert RecommenderModel.objects.count() == 1


# --- the catalog cache, refreshed ahead of expiry ---------------------------------------------------


def test_refresh_ahead_renews_lists_and_details_before_they_expire(
    catalog: None, worker: Any, local_catalog: None
) -> None:
    page = reads.movie_list("trending_week", 1)
    assert page is not None
    trending = cache_policy.cache_key("local", "trending", "trending_week", 1, reads.locale())
    movie = cache_policy.cache_key("local", "movie", page.results[0].id, reads.locale())
    reads.lookup([page.results[0].id])
    cache.expire(trending, 30)
    cache.expire(movie, 30)
    run("movies.refresh_catalog_cache")
    assert cache.ttl(trending) > cache_policy.TTL["trending"] - 60
    assert cache.ttl(movie) > cache_policy.TTL["movie"] - 60
    popular = cache_policy.cache_key("local", "list", "popular", 3, reads.locale())
    assert cache.get(popular) is not None  # a page nobody asked for yet is warm too
    before = cache.get(trending)
    run("movies.refresh_catalog_cache")  # idempotent: the same entries, still fresh
    assert cache.get(trending) == before


def test_refresh_retries_with_backoff_while_tmdb_is_down(
    worker: Any, tmdb_catalog: Any, client: Client, settings: Any
) -> None:
    settings.CATALOG_REFRESH_PAGES = 1
    tmdb_catalog.down = True
    stat = run("movies.refresh_catalog_cache", expect="retries")
    assert stat.successes == 0
    tmdb_catalog.down = False  # the retry already scheduled then succeeds
    wait_for(lambda: _stat("movies.refresh_catalog_cache").successes >= 1)
    popular = cache_policy.cache_key("tmdb", "list", "popular", 1, reads.locale())
    assert cache.get(popular) is not None
    body = client.get("/readyz").json()
    assert body["tasks"]["movies.refresh_catalog_cache"]["status"] == "ok"


def test_a_task_that_keeps_failing_shows_on_readyz_and_metrics(
    worker: Any, tmdb_catalog: Any, client: Client, settings: Any
) -> None:
    settings.TASK_MAX_RETRIES = 1
    settings.CATALOG_REFRESH_PAGES = 1
    tmdb_catalog.down = True
    run("movies.refresh_catalog_cache", expect="failures")
    stat = _stat("movies.refresh_catalog_cache")
    assert (stat.retries, stat.failures, stat.successes) == (1, 1, 0)
    status = client.get("/readyz").json()["tasks"]["movies.refresh_catalog_cache"]
    assert status["status"] == "never"
    assert status["lastFailure"] is not None
    assert status["lastError"] == "UpstreamUnavailable"
    text = client.get("/metrics").content.decode()
    assert 'moviegraph_task_runs_total{outcome="failure",task="movies.refresh_catalog_cache"} 1.0' in text
    assert 'moviegraph_task_runs_total{outcome="retry",task="movies.refresh_catalog_cache"} 1.0' in text
    assert 'moviegraph_task_duration_seconds_count{task="movies.refresh_catalog_cache"} 2.0' in text


# --- TMDb writes leave the request path -----------------------------------------------------------


def test_tmdb_pages_are_stored_by_the_worker_not_the_request(
    worker: Any, tmdb_catalog: Any, gql: GraphQL
) -> None:
    ids = [movie["id"] for movie in json.loads((FIXTURES_DIR / "movie_popular.json").read_text())["results"]]
    Movie.objects.filter(id__in=ids).delete()
    before = _stat("movies.store_movies").successes
    with CaptureQueriesContext(connection) as queries:
        results = gql("{ popularMovies { results { id title } } }").ok()["popularMovies"]["results"]
    assert [movie["id"] for movie in results] == ids
    assert not any("movies_movie" in q["sql"] and "INSERT" in q["sql"] for q in queries.captured_queries)
    wait_for(lambda: _stat("movies.store_movies").successes > before)
    assert set(Movie.objects.filter(id__in=ids).values_list("id", flat=True)) == set(ids)
    # Storing the same page again changes nothing.
    app.tasks["movies.store_movies"].apply_async(([[{"id": ids[0], "title": "Again"}, None]],))
    wait_for(lambda: _stat("movies.store_movies").successes > before + 1)
    assert Movie.objects.filter(id__in=ids).count() == len(ids)


# --- interaction counts and tokens ------------------------------------------------------------------


def test_counts_are_rebuilt_from_rows_imported_with_their_own_dates(worker: Any) -> None:
    user = _user("importer")
    # Bulk writes skip signals, as an import would; their own timestamps say when they happened.
    Favorite.objects.bulk_create([Favorite(user=user, movie_id=movie_id) for movie_id in (155, 550)])
    Rating.objects.bulk_create([Rating(user=user, movie_id=155, score=4)])
    long_ago = timezone.now() - timedelta(days=400)
    Favorite.objects.filter(movie_id=550).update(created_at=long_ago)
    Rating.objects.update(updated_at=long_ago)
    assert not MovieActivity.objects.exists()
    run("movies.rebuild_interaction_counts")
    rows = set(MovieActivity.objects.values_list("movie_id", "day", "favorites", "ratings", "watchlist"))
    today, then = timezone.now().date(), long_ago.date()
    assert rows == {(155, today, 1, 0, 0), (155, then, 0, 1, 0), (550, then, 1, 0, 0)}
    run("movies.rebuild_interaction_counts")
    assert (
        set(MovieActivity.objects.values_list("movie_id", "day", "favorites", "ratings", "watchlist")) == rows
    )


def test_expired_refresh_tokens_are_flushed(worker: Any) -> None:
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    user = _user("sleeper")
    OutstandingToken.objects.create(
        user=user,
        jti="old",
        token="x",
        created_at=timezone.now(),
        expires_at=timezone.now() - timedelta(days=1),
    )
    OutstandingToken.objects.create(
        user=user,
        jti="new",
        token="y",
        created_at=timezone.now(),
        expires_at=timezone.now() + timedelta(days=1),
    )
    run("accounts.flush_expired_tokens")
    run("accounts.flush_expired_tokens")
    assert list(OutstandingToken.objects.values_list("jti", flat=True)) == ["new"]


def test_successful_runs_show_on_readyz_and_metrics(worker: Any, client: Client) -> None:
    run("movies.rebuild_interaction_counts")
    status = client.get("/readyz").json()["tasks"]
    assert status["movies.rebuild_interaction_counts"]["status"] == "ok"
    assert status["movies.retrain_recommender"]["status"] == "never"
    assert set(status) == {
        "movies.retrain_recommender",
        "movies.refresh_catalog_cache",
        "movies.rebuild_interaction_counts",
        "accounts.flush_expired_tokens",
    }
    text = client.get("/metrics").content.decode()
    assert (
        'moviegraph_task_runs_total{outcome="success",task="movies.rebuild_interaction_counts"} 1.0' in text
    )
    assert 'moviegraph_task_last_success_timestamp_seconds{task="movies.rebuild_interaction_counts"}' in text


# --- the broker ---------------------------------------------------------------------------------


def test_the_embedded_default_broker_needs_no_server(transactional_db: None, tmp_path: Any) -> None:
    """`make run` without REDIS_URL: a folder of message files between the app and the worker."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL"}}
    printed = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.CELERY_BROKER_URL)"],
        env={**env, "DJANGO_SETTINGS_MODULE": "backend.settings"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert printed.stdout.strip() == "filesystem://localhost//"
    folder = tmp_path / "broker"
    options = {
        "data_folder_in": str(folder / "messages"),
        "data_folder_out": str(folder / "messages"),
        "control_folder": str(folder / "control"),
    }
    for path in options.values():
        (tmp_path / path).mkdir(parents=True, exist_ok=True)
    original = app.conf.broker_url, app.conf.broker_transport_options
    _use_broker("filesystem://localhost//", options)
    try:
        with start_worker(app, perform_ping_check=False, loglevel="WARNING"):
            run("movies.rebuild_interaction_counts")
    finally:
        _use_broker(*original)


def test_a_broker_that_is_down_costs_the_request_its_write_not_its_answer(
    transactional_db: None, tmdb_catalog: Any, gql: GraphQL
) -> None:
    ids = [movie["id"] for movie in json.loads((FIXTURES_DIR / "movie_popular.json").read_text())["results"]]
    Movie.objects.filter(id__in=ids).delete()
    original = app.conf.broker_url, app.conf.broker_transport_options
    _use_broker("redis://127.0.0.1:9/0", {"socket_connect_timeout": 0.2})  # nothing listens there
    try:
        results = gql("{ popularMovies { results { id } } }").ok()["popularMovies"]["results"]
    finally:
        _use_broker(*original)
    assert [movie["id"] for movie in results] == ids
    # The request stored the page itself rather than lose it.
    assert Movie.objects.filter(id__in=ids).count() == len(ids)
