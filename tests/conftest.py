"""Shared fixtures: a GraphQL client over HTTP, service guards, a clean cache per test."""

from __future__ import annotations

import itertools
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client, override_settings

from tests.fake_tmdb import fake_tmdb  # noqa: F401

# CI sets this so a test skipped for want of PostgreSQL or Redis fails instead:
# a green run must have exercised the real services.
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def _unavailable(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture
def postgres(db: None) -> None:
    """Skips (fails in CI) unless the tests run on PostgreSQL."""
    if connection.vendor != "postgresql":
        _unavailable("needs PostgreSQL: set DATABASE_URL")


@pytest.fixture
def redis_cache() -> None:
    """Skips (fails in CI) unless the cache is Redis."""
    from django.conf import settings

    if not settings.REDIS_URL:
        _unavailable("needs Redis: set REDIS_URL")


FILE_CACHE = "django.core.cache.backends.filebased.FileBasedCache"


@pytest.fixture(scope="session", autouse=True)
def _private_file_cache() -> Iterator[None]:
    """The embedded file cache lives in a folder of this run's own, never the checkout's var/cache.

    Every process started in a checkout without CACHE_DIR shares var/cache: `make run`, and any
    other test run there. Another run's per-test ``cache.clear()`` wiped this one's rate-limit
    counts mid-test, and its attempts (same address, same names) added to them, so limits came
    late or early; on a loaded machine, where tests last long enough to overlap, they did. Each
    run's own folder leaves nobody else to share it with, and the processes the suite starts
    inherit it through CACHE_DIR.
    """
    from django.conf import settings

    with tempfile.TemporaryDirectory(prefix="moviegraph-test-cache-") as folder:
        default = settings.CACHES["default"]
        private = {**default, "LOCATION": folder} if default["BACKEND"] == FILE_CACHE else default
        with (
            pytest.MonkeyPatch.context() as patch,
            override_settings(CACHES={**settings.CACHES, "default": private}),
        ):
            patch.setenv("CACHE_DIR", folder)
            yield


@pytest.fixture
def dead_redis(settings: Any) -> str:
    """Settings pointing the cache at a Redis nothing answers on (an outage); its URL."""
    dead = "redis://127.0.0.1:9/0"  # discard port: nothing listens
    settings.REDIS_URL = dead
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": dead,
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }
    return dead


def clear_caches() -> None:
    """Empties every cache tier: the shared cache and this process's memories."""
    from movies.catalog import reads
    from schema import response_cache

    cache.clear()
    reads.forget_local()
    response_cache.clear()


@pytest.fixture(autouse=True)
def _clean_cache() -> Iterator[None]:
    clear_caches()
    yield
    clear_caches()


class GraphQLResponse:
    """A GraphQL HTTP response: status, data and errors."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        self.status = status
        self.body = body
        self.headers = headers
        self.data: dict[str, Any] | None = body.get("data")
        self.errors: list[dict[str, Any]] = body.get("errors") or []

    @property
    def codes(self) -> list[str]:
        return [error.get("extensions", {}).get("code") for error in self.errors]

    def ok(self) -> dict[str, Any]:
        """The data, asserting there were no errors."""
        assert self.status == 200, self.body
        assert not self.errors, self.errors
        assert self.data is not None
        return self.data


GraphQL = Callable[..., GraphQLResponse]


@pytest.fixture
def gql(client: Client) -> GraphQL:
    """POSTs a query to /graphql: ``gql(query, variables=None, token=None)``."""

    def run(
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        remote_addr: str = "127.0.0.1",
    ) -> GraphQLResponse:
        extra = dict(headers or {})
        if token:
            extra["Authorization"] = f"JWT {token}"
        response = client.post(
            "/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}),
            content_type="application/json",
            headers=extra,
            REMOTE_ADDR=remote_addr,
        )
        return GraphQLResponse(response.status_code, json.loads(response.content), dict(response.headers))

    return run


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    """The test database starts with the bundled catalog, loaded once per run."""
    from django.core.management import call_command

    with django_db_blocker.unblock():
        call_command("load_catalog", verbosity=0)


@pytest.fixture
def local_catalog(settings: Any) -> Iterator[None]:
    """The embedded default source (the bundled catalog in the test database)."""
    from movies.catalog import reads

    settings.CATALOG_SOURCE = "local"
    reads.get_source.cache_clear()
    yield
    reads.get_source.cache_clear()


@pytest.fixture
def catalog_rows(transactional_db: None, local_catalog: None) -> None:
    """For a transactional test that reads the catalog: the bundled catalog in the database, loaded again
    when an earlier transactional test's flush emptied the tables."""
    from django.core.management import call_command

    from movies.models import Movie

    if not Movie.objects.exists():
        call_command("load_catalog", verbosity=0)


@pytest.fixture
def tmdb_catalog(settings: Any, fake_tmdb: Any) -> Iterator[Any]:  # noqa: F811
    """Live-TMDb mode pointed at the fake TMDb server; yields the server."""
    from movies.catalog import reads

    settings.CATALOG_SOURCE = "tmdb"
    settings.TMDB_BASE_URL = fake_tmdb.base_url
    settings.TMDB_API_KEY = fake_tmdb.api_key
    settings.TMDB_MAX_RETRIES = 1
    reads.get_source.cache_clear()
    yield fake_tmdb
    reads.get_source.cache_clear()


@pytest.fixture(autouse=True)
def _static_from_sources(settings: Any) -> None:
    """Static files come from the source folders, never from a stale collectstatic in the checkout."""
    settings.WHITENOISE_USE_FINDERS = True


@pytest.fixture(autouse=True)
def _fresh_recommender() -> None:
    """Each test's recommender loads the catalog and the published model afresh (rolled back ones vanish)."""
    from movies.recommender import serving

    serving.forget()


@pytest.fixture(autouse=True)
def _tasks_run_inline() -> Iterator[None]:
    """Queued tasks run at once in the caller (tests/test_tasks.py runs a real worker instead)."""
    from backend.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


_client_ports = itertools.count(20000)


def http_scope(
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]] | None = None,
    scheme: str = "http",
    client_port: int = 40000,
) -> dict[str, Any]:
    """The ASGI scope of one HTTP request, as uvicorn builds it."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": scheme,
        "path": path.partition("?")[0],
        "raw_path": path.encode(),
        "query_string": path.partition("?")[2].encode(),
        "root_path": "",
        "headers": headers if headers is not None else [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", client_port),
        "server": ("127.0.0.1", 8000),
    }


async def asgi_call(
    application: Any,
    method: str,
    path: str,
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    scheme: str = "http",
) -> tuple[int, dict[str, str], bytes]:
    """One request through a raw ASGI application: status, headers (names lower-cased), body."""
    from asgiref.testing import ApplicationCommunicator

    # A connection of its own each time, so the keep-alive cap never closes one here.
    scope = http_scope(method, path, headers, scheme, next(_client_ports))
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await communicator.receive_output(timeout=10)
    parts = []
    while True:
        message = await communicator.receive_output(timeout=10)
        parts.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    await communicator.wait(timeout=10)  # the application's clean-up after the response, too
    named = {name.decode().lower(): value.decode() for name, value in start["headers"]}
    return start["status"], named, b"".join(parts)


class HopCounter:
    """Counts asgiref thread hops (SyncToAsync calls), by the name of the function each runs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from asgiref.sync import SyncToAsync

        self.names: list[str] = []
        original = SyncToAsync.__call__
        counter = self

        async def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
            counter.names.append(getattr(self.func, "__qualname__", repr(self.func)))
            return await original(self, *args, **kwargs)

        monkeypatch.setattr(SyncToAsync, "__call__", counting)

    def count(self, application: Any, *call: Any) -> int:
        import asyncio

        self.names.clear()
        status, _, _ = asyncio.run(asgi_call(application, *call))
        assert status == 200
        return len(self.names)
