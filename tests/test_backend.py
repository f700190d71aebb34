"""The foundation: probes, settings safety, GraphiQL offline, query limits, error codes, logging."""

from __future__ import annotations

import gzip
import json
import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db.utils import ConnectionHandler
from django.test import Client

from backend.settings import INSECURE_DEFAULT_SECRET_KEY, check_production_settings
from tests.conftest import GraphQL, HopCounter, asgi_call, http_scope

ROOT = Path(__file__).resolve().parents[1]
GOOD_KEY = "k" * 50


def test_healthz_answers_without_touching_dependencies(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


@pytest.mark.django_db
def test_readyz_names_each_check(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "catalog"}
    assert all(check["status"] == "ok" for check in body["checks"].values())


@pytest.mark.django_db
def test_readyz_is_503_when_the_database_is_gone(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = ConnectionHandler(
        {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/nonexistent/dir/db.sqlite3"}}
    )["default"]
    broken.inc_thread_sharing()  # the probe's checks run in threads of their own
    monkeypatch.setattr("backend.health.connection", broken)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["database"] == {
        "status": "fail",
        "error": "OperationalError",
        "ms": body["checks"]["database"]["ms"],
    }
    assert "nonexistent" not in response.content.decode()


def test_client_request_id_is_echoed_only_when_safe(client: Client) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"})["X-Request-ID"] == "abc-123"
    forged = client.get("/healthz", headers={"X-Request-ID": "bad id\nINFO fake"})["X-Request-ID"]
    assert forged != "bad id\nINFO fake"


@pytest.mark.parametrize(
    ("debug", "key", "hosts", "problem"),
    [
        (True, GOOD_KEY, ["api.example.com"], "DEBUG"),
        (False, INSECURE_DEFAULT_SECRET_KEY, ["api.example.com"], "SECRET_KEY"),
        (False, "short", ["api.example.com"], "SECRET_KEY"),
        (False, GOOD_KEY, ["*"], "ALLOWED_HOSTS"),
        (False, GOOD_KEY, [], "ALLOWED_HOSTS"),
    ],
)
def test_production_refuses_unsafe_settings(debug: bool, key: str, hosts: list[str], problem: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=problem):
        check_production_settings("production", debug, key, hosts)


def test_production_accepts_safe_settings_and_development_anything() -> None:
    check_production_settings("production", False, GOOD_KEY, ["api.example.com"])
    check_production_settings("development", True, INSECURE_DEFAULT_SECRET_KEY, ["*"])


def run_production(script: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """Runs ``script`` after ``django.setup()`` in a fresh process with production settings."""
    env = {
        "PATH": "/usr/bin:/bin",
        "ENVIRONMENT": "production",
        "SECRET_KEY": GOOD_KEY,
        "ALLOWED_HOSTS": "api.example.com",
        "DJANGO_SETTINGS_MODULE": "backend.settings",
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {script}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_process_will_not_start_with_debug_on() -> None:
    result = run_production("", DEBUG="1")
    assert result.returncode != 0
    assert "DEBUG must be off" in result.stderr


def test_production_defaults_close_introspection_suggestions_graphiql_and_cors() -> None:
    result = run_production(
        "from django.conf import settings as s; import json; print(json.dumps([s.GRAPHQL_INTROSPECTION, "
        "s.GRAPHQL_FIELD_SUGGESTIONS, s.GRAPHIQL_ENABLED, s.CORS_ALLOWED_ORIGINS]))"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [False, False, False, []]
    opened = run_production(
        "from django.conf import settings as s; print(s.GRAPHQL_INTROSPECTION, s.GRAPHIQL_ENABLED)",
        GRAPHQL_INTROSPECTION="true",
    )
    assert opened.stdout.split() == ["True", "True"]


def test_graphiql_page_is_served_with_local_assets_only(client: Client) -> None:
    response = client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "graphiql" in page.lower()
    external = list(re.findall(r"""(?:src|href)=["'](https?://[^"']+)""", page))
    assert external == []
    assets = re.findall(r"""(?:src|href)=["'](/static/[^"']+)""", page)
    assert len(assets) >= 5
    for asset in assets:
        served = client.get(asset)
        assert served.status_code == 200, asset
        assert b"".join(served.streaming_content if served.streaming else [served.content])


def test_graphiql_first_load_is_compressed_under_1_5_mb(settings: Any, tmp_path: Path) -> None:
    """What `make run` and the image serve: collected files, gzipped by whitenoise's storage."""
    from django.core.management import call_command

    settings.STATIC_ROOT = tmp_path / "static"
    settings.WHITENOISE_USE_FINDERS = False
    call_command("collectstatic", "--no-input", verbosity=0)
    client = Client()  # a new handler: whitenoise indexes the collected files
    wire = {"Accept-Encoding": "gzip, deflate, br"}
    page = client.get("/graphql", headers={"Accept": "text/html", **wire})
    assert page.status_code == 200
    total = len(page.content)
    for asset in re.findall(r"""(?:src|href)=["'](/static/[^"']+)""", gzip.decompress(page.content).decode()):
        served = client.get(asset, headers=wire)
        assert served.status_code == 200, asset
        assert served["Content-Encoding"] in {"gzip", "br"}, asset
        total += int(served["Content-Length"])
    print(f"GraphiQL first load: {total:,} bytes on the wire")
    assert total < 1_500_000


@pytest.mark.django_db
def test_too_deep_query_is_rejected_with_a_code(gql: GraphQL) -> None:
    nested = "id"
    for _ in range(12):
        nested = f"similar(limit: 1) {{ {nested} }}"
    response = gql(f"{{ movie(id: 19995) {{ {nested} }} }}")
    assert response.status == 200
    assert response.codes == ["BAD_USER_INPUT"]
    assert "exceeds maximum operation depth" in response.errors[0]["message"]


@pytest.mark.django_db
def test_too_many_aliases_are_rejected_with_a_code(gql: GraphQL) -> None:
    aliases = " ".join(f"g{i}: genres {{ id }}" for i in range(40))
    assert gql(f"{{ {aliases} }}").codes == ["BAD_USER_INPUT"]


def test_syntax_and_validation_errors_carry_a_code(gql: GraphQL) -> None:
    assert gql("{ genres { id ").codes == ["BAD_USER_INPUT"]
    assert gql("{ noSuchField }").codes == ["BAD_USER_INPUT"]


@pytest.mark.django_db
def test_unexpected_errors_are_masked_and_logged_with_the_request_id(
    gql: GraphQL, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("SELECT password FROM secret_table")

    monkeypatch.setattr("movies.catalog.reads.genres", broken)
    with caplog.at_level(logging.ERROR):
        response = gql("{ genres { id } }", headers={"X-Request-ID": "req-42"})
    assert response.codes == ["INTERNAL_SERVER_ERROR"]
    assert response.errors[0]["message"] == "Internal server error."
    assert "secret_table" not in json.dumps(response.body)
    logged = [record for record in caplog.records if record.name == "schema.errors"]
    assert logged
    assert logged[0].request_id == "req-42"
    assert logged[0].exc_info is not None


def test_large_responses_are_gzipped(client: Client, db: None) -> None:
    from django.core.management import call_command

    call_command("load_catalog", verbosity=0)
    query = "{ popularMovies { results { id title overview genres { name } } } }"
    response = client.post(
        "/graphql",
        data=json.dumps({"query": query}),
        content_type="application/json",
        headers={"Accept-Encoding": "gzip"},
    )
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"


def test_committed_schema_matches_the_served_schema() -> None:
    from strawberry.printer import print_schema

    from schema.schema import schema

    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed.strip() == print_schema(schema).strip(), "schema.graphql is stale: run `make schema`"


def test_served_schema_keeps_the_public_contract() -> None:
    """Every type, field, argument and default of contract.graphql is served unchanged."""
    from graphql import build_schema, find_breaking_changes, find_dangerous_changes

    from schema.schema import schema

    contract = build_schema((ROOT / "schema" / "contract.graphql").read_text(encoding="utf-8"))
    served = schema._schema
    assert find_breaking_changes(contract, served) == []
    dangerous = [
        change
        for change in find_dangerous_changes(contract, served)
        # Adding enum values or optional arguments is allowed by the contract.
        if change.type.name not in {"VALUE_ADDED_TO_ENUM", "OPTIONAL_ARG_ADDED"}
    ]
    assert dangerous == []


def test_metrics_expose_cache_counters(gql: GraphQL, client: Client, db: None) -> None:
    gql("{ genres { id } }").ok()
    gql("{ genres { name } }").ok()  # another query text: executed, not replayed
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'moviegraph_cache_requests_total{kind="genres",result="hit"}' in text
    assert 'moviegraph_cache_requests_total{kind="genres",result="miss"}' in text


def test_metrics_sum_workers_in_multiprocess_mode(
    client: Client, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, db: None
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    response = client.get("/metrics")
    assert response.status_code == 200


def test_another_process_in_the_checkout_shares_no_cache_entry_with_the_suite() -> None:
    """A process started here outside the suite (`make run`, another test run) gets the
    checkout's default cache: it must neither see this run's entries nor write into them,
    or its per-test clears and rate-limit counts reach this run's tests."""
    import os
    import uuid

    from django.core.cache import cache

    ours, theirs = f"suite:{uuid.uuid4().hex}", f"elsewhere:{uuid.uuid4().hex}"
    cache.set(ours, "suite", 60)
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CACHE_DIR"}}
    script = (
        "import sys, django; django.setup(); from django.core.cache import cache; "
        f"print(cache.get({ours!r})); cache.set({theirs!r}, 'elsewhere', 60); print('set', flush=True); "
        f"sys.stdin.readline(); cache.delete({theirs!r})"
    )
    other = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "backend.settings"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert other.stdout is not None
    try:
        seen, written = other.stdout.readline().strip(), other.stdout.readline().strip()
        assert (seen, written, cache.get(theirs)) == ("None", "set", None)
    finally:
        other.communicate("\n", timeout=60)  # it deletes its entry from the checkout's cache
    assert other.returncode == 0


def test_redis_outage_degrades_readiness_but_the_api_still_answers(
    gql: GraphQL, client: Client, dead_redis: str, db: None
) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["cache"]["status"] == "degraded"
    assert gql("{ popularMovies { results { id } } movie(id: 155) { title runtime } }").ok()["movie"] == {
        "title": "The Dark Knight",
        "runtime": 152,
    }


def test_admin_lists_the_project_models(client: Client, db: None) -> None:
    from accounts.models import User

    admin = User.objects.create_superuser("root", "root@example.com", "admin-pass-12345")
    client.force_login(admin)
    for path in (
        "accounts/user",
        "accounts/favorite",
        "accounts/rating",
        "accounts/watchlistentry",
        "accounts/preferences",
        "movies/movie",
        "movies/genre",
        "movies/person",
        "movies/company",
        "movies/movie/155/change",
        "movies/person/525/change",
    ):
        assert client.get(f"/admin/{path}/").status_code == 200, path


async def _asgi_get(application: Any, path: str, client_port: int = 5000) -> tuple[int, bytes]:
    status, _, body = await _asgi_request(application, path, client_port)
    return status, body


async def _asgi_request(
    application: Any, path: str, client_port: int
) -> tuple[int, dict[bytes, bytes], bytes]:
    """One GET through a raw ASGI application, as uvicorn would call it: status, headers, body."""
    from asgiref.testing import ApplicationCommunicator

    scope = http_scope("GET", path, client_port=client_port)
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await communicator.receive_output(timeout=10)
    body = await communicator.receive_output(timeout=10)
    return start["status"], dict(start["headers"]), body["body"]


def test_the_asgi_entry_point_serves_requests() -> None:
    import asyncio

    from backend.asgi import application

    status, body = asyncio.run(_asgi_get(application, "/healthz"))
    assert status == 200
    assert json.loads(body) == {"status": "ok"}


def test_a_keep_alive_connection_is_closed_after_its_request_cap() -> None:
    """Defect 10: keep-alive clients stayed on the surviving worker; capped connections reconnect."""
    import asyncio

    from django.core.asgi import get_asgi_application

    from backend.keepalive import RequestsPerConnectionLimit

    application = RequestsPerConnectionLimit(get_asgi_application(), max_requests=3)

    def closes(port: int) -> bool:
        status, headers, _ = asyncio.run(_asgi_request(application, "/healthz", port))
        assert status == 200
        return headers.get(b"connection") == b"close"

    assert [closes(6000) for _ in range(3)] == [False, False, True]
    assert not closes(6001)  # another connection has its own count
    assert not closes(6000)  # the client reconnected: a new count


def test_the_wsgi_entry_point_loads() -> None:
    from backend.wsgi import application

    assert callable(application)


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($id: Int!) { movie(id: $id) { id } }", {"id": "abc"}),
        ("query($id: Int!) { movie(id: $id) { id } }", {"id": 2**40}),
        ("query($id: Int!) { movie(id: $id) { id } }", {}),
        ("query($w: TimeWindow!) { trendingMovies(timeWindow: $w) { page } }", {"w": "MONTH"}),
    ],
)
def test_bad_variables_are_bad_user_input_not_internal_errors(
    gql: GraphQL, query: str, variables: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    response = gql(query, variables)
    assert response.codes == ["BAD_USER_INPUT"]
    assert not [record for record in caplog.records if record.name == "schema.errors"]


@pytest.mark.django_db
def test_anonymous_queries_are_answered_from_memory_for_a_moment(gql: GraphQL, settings: Any) -> None:
    from django.core.cache import cache

    from schema import response_cache

    settings.GRAPHQL_RESPONSE_CACHE_SECONDS = 60  # a slow CI run must not outlive the entry
    response_cache.clear()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from movies.catalog import reads

    query = "{ popularMovies { results { id title } } }"
    first = gql(query).ok()
    cache.clear()
    reads.forget_local()
    with CaptureQueriesContext(connection) as queries:
        assert gql(query).ok() == first
    assert len(queries) == 0


@pytest.mark.django_db
def test_mutations_errors_and_signed_in_requests_are_never_kept(gql: GraphQL) -> None:
    register = (
        'mutation { register(input: {username: "kept", email: "kept@example.com", '
        'password: "a-long-enough-password"}) { token } }'
    )
    token = gql(register).ok()["register"]["token"]
    assert gql(register).codes == ["BAD_USER_INPUT"]  # executed again, not replayed
    me = "{ me { username } }"
    assert gql(me, token=token).ok() == {"me": {"username": "kept"}}
    assert gql(me).ok() == {"me": None}
    assert gql("{ movie(id: 155) { similar(limit: 0) { id } } }").codes == ["BAD_USER_INPUT"]
    from schema import response_cache

    assert response_cache._cache() is not None
    assert all(b'"errors"' not in answer.body for answer in response_cache._cache().values())


# --- the database pool through outages (PostgreSQL) ------------------------------------------------

MOVIE = "{ movie(id: 155) { title } }"


def _catalog_in_flushed_tables() -> None:
    """transactional_db starts from flushed tables: the catalog must be there for movie reads."""
    from django.core.management import call_command

    from movies.models import Movie

    if not Movie.objects.filter(id=155).exists():
        call_command("load_catalog", verbosity=0)


def _fresh_read(gql: GraphQL) -> Any:
    """A catalog read that reaches the database (no cache tier answers it), as a new request:
    the test client keeps the thread's connection between requests, a server returns it."""
    from django.db import connections

    from tests.conftest import clear_caches

    clear_caches()
    connections.close_all()
    return gql(MOVIE)


@pytest.fixture
def via_proxy(transactional_db: None, postgres: None, local_catalog: None) -> Any:
    """The app's database connections go through a proxy the test can stop and start."""
    from django.db import connections

    from tests.pg_proxy import PostgresProxy

    _catalog_in_flushed_tables()
    database = connections["default"]
    saved = dict(database.settings_dict)
    proxy = PostgresProxy(saved["HOST"] or "127.0.0.1", int(saved["PORT"] or 5432))
    proxy.start()
    database.close()
    database.close_pool()
    database.settings_dict.update(HOST="127.0.0.1", PORT=str(proxy.port))
    yield proxy
    proxy.stop()
    database.close()
    database.close_pool()
    database.settings_dict.update(saved)


def test_after_the_pools_connections_are_terminated_the_next_request_succeeds(
    gql: GraphQL, transactional_db: None, postgres: None, local_catalog: None
) -> None:
    import psycopg
    from django.db import connection

    _catalog_in_flushed_tables()
    assert _fresh_read(gql).ok()["movie"] == {"title": "The Dark Knight"}
    params = connection.get_connection_params()
    killer = {key: params[key] for key in ("dbname", "user", "host", "port", "password") if key in params}
    with psycopg.connect(**killer, autocommit=True) as admin:
        # Only this test database's sessions: other runs share the server.
        killed = admin.execute(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()) AS terminated"
        ).fetchone()
    assert killed is not None
    assert killed[0] >= 1
    assert _fresh_read(gql).ok()["movie"] == {"title": "The Dark Knight"}
    assert _fresh_read(gql).ok()["movie"] == {"title": "The Dark Knight"}
    connection.close()


def test_a_dead_database_fails_fast_with_a_code_and_the_first_request_after_it_is_back_succeeds(
    gql: GraphQL, client: Client, via_proxy: Any, settings: Any
) -> None:
    import time

    assert _fresh_read(gql).ok()["movie"] == {"title": "The Dark Knight"}
    via_proxy.stop()  # PostgreSQL goes away: connections cut, its port refuses
    for _ in range(3):
        started = time.perf_counter()
        response = _fresh_read(gql)
        elapsed = time.perf_counter() - started
        assert response.status == 200
        assert response.codes == ["INTERNAL_SERVER_ERROR"]
        assert "briefly unavailable" in response.errors[0]["message"]
        # Not the pool's timeout: the server itself was asked, and refused.
        assert elapsed < settings.DATABASES["default"]["OPTIONS"]["pool"]["timeout"] / 2
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["status"] == "fail"
    via_proxy.start()  # back, on the same port
    assert _fresh_read(gql).ok()["movie"] == {"title": "The Dark Knight"}
    assert client.get("/readyz").status_code == 200


def test_a_signed_in_catalog_read_with_the_database_down_is_a_coded_field_error_not_a_500(
    gql: GraphQL, via_proxy: Any, redis_cache: None
) -> None:
    """Its user from Redis and its catalog answer from memory: only the viewer's lists need the database."""
    from django.core.cache import cache
    from django.db import connections

    from accounts import tokens, user_cache, viewer_state
    from accounts.models import User

    user = User.objects.create_user("outage", "outage@example.com", "a-long-passphrase")
    cache.delete(user_cache.key(user.pk))  # as SETTLE seconds after the user's creation
    token = tokens.issue(user).token
    query = "{ movie(id: 155) { title isFavorite } }"
    assert gql(query, token=token).ok()["movie"] == {"title": "The Dark Knight", "isFavorite": False}
    connections.close_all()
    via_proxy.stop()
    # The lists the shared cache holds for the current generation need no database either.
    assert gql(query, token=token).ok()["movie"] == {"title": "The Dark Knight", "isFavorite": False}
    cache.delete(viewer_state.key(user.pk))  # evicted
    response = gql(query, token=token)
    assert response.status == 200
    assert response.codes == ["INTERNAL_SERVER_ERROR"]
    assert "briefly unavailable" in response.errors[0]["message"]


def test_every_connection_bounds_its_statements_and_lock_waits(postgres: None) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone() == ("5s",)
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone() == ("2s",)


@pytest.mark.parametrize("redis", [False, True], ids=["file lock", "redis lock"])
def test_an_exclusive_lock_admits_one_holder(
    redis: bool, settings: Any, request: pytest.FixtureRequest
) -> None:
    from backend import locks

    if redis:
        request.getfixturevalue("redis_cache")
    else:
        settings.REDIS_URL = ""
    with locks.exclusive("test-lock", timeout=10) as first:
        with locks.exclusive("test-lock", timeout=10) as second:
            assert (first, second) == (True, False)
        with locks.exclusive("another-lock", timeout=10) as other:
            assert other
    with locks.exclusive("test-lock", timeout=10) as again:
        assert again


def test_readyz_reports_each_periodic_task(client: Client, db: None) -> None:
    body = client.get("/readyz").json()
    assert body["status"] == "ok"
    assert set(body["tasks"]) == {
        "movies.retrain_recommender",
        "movies.refresh_catalog_cache",
        "movies.rebuild_interaction_counts",
        "accounts.flush_expired_tokens",
    }
    assert all(task["status"] == "never" for task in body["tasks"].values())


def test_a_periodic_task_without_a_recent_success_is_late(client: Client, db: None) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from backend import task_stats

    task_stats.record("movies.retrain_recommender", "SUCCESS", 1.5)
    assert client.get("/readyz").json()["tasks"]["movies.retrain_recommender"]["status"] == "ok"
    from backend.models import TaskStat

    TaskStat.objects.filter(name="movies.retrain_recommender").update(
        last_success_at=timezone.now() - timedelta(days=1)
    )
    task_stats.record("movies.retrain_recommender", "FAILURE", 0.5, "MemoryError")
    status = client.get("/readyz").json()["tasks"]["movies.retrain_recommender"]
    assert status["status"] == "late"
    assert status["lastError"] == "MemoryError"
    stat = TaskStat.objects.get(name="movies.retrain_recommender")
    assert (stat.runs, stat.successes, stat.failures, stat.seconds) == (2, 1, 1, 2.0)


# --- /graphql on its lean ASGI stack -----------------------------------------------------------------


JSON_POST = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
LEAN_CASES: list[tuple[str, str, bytes, list[tuple[bytes, bytes]]]] = [
    ("POST", "/graphql", b'{"query": "{ __typename }"}', JSON_POST),
    (
        "POST",
        "/graphql",
        b'{"query": "{ __schema { types { name description } } }"}',
        [*JSON_POST, (b"accept-encoding", b"gzip"), (b"origin", b"http://localhost:3000")],
    ),
    ("POST", "/graphql", b'{"query": "{ __typename }"}', [*JSON_POST, (b"x-request-id", b"abc-123")]),
    ("POST", "/graphql", b"not json", JSON_POST),
    ("POST", "/graphql", b'{"query": "{ __typename }"}', [(b"host", b"evil.example"), JSON_POST[1]]),
    (
        "OPTIONS",
        "/graphql",
        b"",
        [
            (b"host", b"127.0.0.1"),
            (b"origin", b"http://localhost:3000"),
            (b"access-control-request-method", b"POST"),
            (b"access-control-request-headers", b"authorization, content-type"),
        ],
    ),
    (
        "GET",
        "/graphql?query=%7B__typename%7D",
        b"",
        [(b"host", b"127.0.0.1"), (b"accept", b"application/json")],
    ),
    ("PUT", "/graphql", b"{}", JSON_POST),
    ("GET", "/graphql", b"", [(b"host", b"127.0.0.1"), (b"accept", b"text/html")]),
]


@pytest.mark.parametrize(("method", "path", "body", "headers"), LEAN_CASES)
def test_graphql_on_the_lean_stack_answers_like_the_full_django_stack(
    method: str, path: str, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    """Same status, headers (security, CORS, Vary, gzip, Host check) and body as Django's full stack."""
    import asyncio

    from django.core.asgi import get_asgi_application

    from backend.asgi import application
    from schema import response_cache

    def call(app: Any) -> tuple[int, dict[str, str], bytes]:
        response_cache.clear()
        status, named, content = asyncio.run(asgi_call(app, method, path, body, headers))
        if (b"x-request-id", b"abc-123") not in headers:
            named.pop("x-request-id", None)
        if named.get("content-encoding") == "gzip":
            # Django pads gzip with random bytes against BREACH: compare what was compressed.
            named.pop("content-length")
            content = gzip.decompress(content)
        return status, named, content

    lean, full = call(application), call(get_asgi_application())
    assert lean == full
    _, named, _ = lean
    # A preflight is answered by CORS before the security headers, in both stacks.
    if method != "OPTIONS" and (b"host", b"evil.example") not in headers:
        assert named["x-content-type-options"] == "nosniff"
        assert named["x-frame-options"] == "DENY"
        assert named["referrer-policy"] == "same-origin"


def test_the_gzip_and_cors_case_is_covered() -> None:
    """The comparison above would prove little if the cases did not exercise gzip, CORS and the Host check."""
    import asyncio

    from backend.asgi import application

    _, big, _ = asyncio.run(asgi_call(application, *LEAN_CASES[1][:3], LEAN_CASES[1][3]))
    assert big["content-encoding"] == "gzip"
    assert big["access-control-allow-origin"] == "http://localhost:3000"
    status, _, _ = asyncio.run(asgi_call(application, *LEAN_CASES[4][:3], LEAN_CASES[4][3]))
    assert status == 400
    _, named, _ = asyncio.run(asgi_call(application, *LEAN_CASES[2][:3], LEAN_CASES[2][3]))
    assert named["x-request-id"] == "abc-123"


def test_a_graphql_request_makes_no_thread_hop_of_the_request_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Django's full stack hops to a thread for each sync middleware hook and its request signals."""
    from django.core.asgi import get_asgi_application

    from backend.asgi import application
    from schema import response_cache

    hops = HopCounter(monkeypatch)
    typename = ("POST", "/graphql", b'{"query": "{ __typename }"}', JSON_POST)
    response_cache.clear()
    assert hops.count(application, *typename) == 0, hops.names
    response_cache.clear()
    assert hops.count(get_asgi_application(), *typename) >= 14, hops.names


def test_a_signed_in_request_makes_no_thread_hop_once_its_user_is_cached(
    monkeypatch: pytest.MonkeyPatch, transactional_db: None, redis_cache: None
) -> None:
    """The first request reads the token's user from the database (one hop); the next ones from Redis."""
    from django.core.cache import cache

    from accounts import tokens, user_cache
    from accounts.models import User
    from backend.asgi import application

    user = User.objects.create_user("hops", "hops@example.com", "a-long-passphrase")
    cache.delete(user_cache.key(user.pk))  # as SETTLE seconds after the user's creation
    headers = [*JSON_POST, (b"authorization", f"JWT {tokens.issue(user).token}".encode())]
    me = ("POST", "/graphql", b'{"query": "{ me { username } }"}', headers)
    hops = HopCounter(monkeypatch)
    assert hops.count(application, *me) == 2, hops.names  # the user's row, then handing back the connection
    assert hops.count(application, *me) == 0, hops.names


def test_a_client_that_disconnects_cancels_its_request_on_the_lean_stack(
    monkeypatch: pytest.MonkeyPatch, transactional_db: None
) -> None:
    """No worker keeps computing an answer nobody will read (Django's handler cancels it too)."""
    import asyncio
    import contextlib

    from asgiref.testing import ApplicationCommunicator

    from backend.asgi import application
    from schema.views import GraphQLView

    outcome: list[str] = []

    async def endless(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        outcome.append("finished")

    monkeypatch.setattr(GraphQLView, "_respond", endless)
    scope = http_scope("POST", "/graphql", [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")])

    async def gone() -> None:
        communicator = ApplicationCommunicator(application, scope)
        await communicator.send_input({"type": "http.request", "body": b'{"query": "{ genres { id } }"}'})
        await asyncio.sleep(0.3)
        await communicator.send_input({"type": "http.disconnect"})
        with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
            await communicator.wait(timeout=5)
        # The application ended by itself (the communicator cancels it only when it outlives the wait).
        assert not communicator.future.cancelled()
        assert outcome == ["cancelled"]

    asyncio.run(gone())


def test_a_worker_builds_the_url_map_and_the_schema_when_it_loads_the_application() -> None:
    """Not during its first request, on the event loop, with every request arriving meanwhile waiting."""
    check = (
        "import sys, backend.asgi; print('schema.schema' in sys.modules and 'backend.urls' in sys.modules)"
    )
    ran = subprocess.run(
        [sys.executable, "-c", check],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[1],
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.strip() == "True"
