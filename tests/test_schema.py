"""The /graphql endpoint over real HTTP semantics: GraphQL over HTTP, persisted queries, caching headers, CORS."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import time_machine
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import AsyncRequestFactory, Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from schema import persisted_queries
from tests.conftest import GraphQL, HopCounter, asgi_call, clear_caches

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent

GRAPHQL_RESPONSE = "application/graphql-response+json"
HOME = "{ trendingMovies { results { id title } } popularMovies { results { id } } }"
GENRES = "{ genres { id name } }"


@pytest.fixture(autouse=True)
def _local(local_catalog: None) -> None:
    """The catalog is the bundled one; each test starts with no persisted query in memory."""
    persisted_queries.forget_local()


def post(client: Client, body: Any, accept: str = "application/json", **headers: str) -> Any:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return client.post(
        "/graphql", data=data, content_type="application/json", headers={"Accept": accept, **headers}
    )


def get(client: Client, params: dict[str, Any], accept: str = "application/json", **headers: str) -> Any:
    encoded = {name: value if isinstance(value, str) else json.dumps(value) for name, value in params.items()}
    return client.get("/graphql", encoded, headers={"Accept": accept, **headers})


def errors_of(response: Any) -> list[tuple[str, str]]:
    body = json.loads(response.content)
    return [(error["message"], error["extensions"]["code"]) for error in body["errors"]]


def sha256(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def persisted(query: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}


# --- GraphQL over HTTP ---------------------------------------------------------------------------


def test_graphql_response_json_is_served_to_clients_that_accept_it(client: Client) -> None:
    accept = f"{GRAPHQL_RESPONSE}, application/json;q=0.9"
    ok = post(client, {"query": GENRES}, accept=accept)
    assert ok.status_code == 200
    assert ok["Content-Type"] == GRAPHQL_RESPONSE
    assert json.loads(ok.content)["data"]["genres"]
    # A document that does not parse or validate is a request error: 4xx, and no `data` entry.
    for bad in ("{ genres { id ", "{ genres { nope } }", "query($x: Int!) { movie(id: $x) { id } }"):
        response = post(client, {"query": bad}, accept=accept)
        assert response.status_code == 400, bad
        body = json.loads(response.content)
        assert "data" not in body
        assert [error["extensions"]["code"] for error in body["errors"]] == ["BAD_USER_INPUT"]
    # A field error is not: the data is there (null where the field failed).
    partial = post(
        client, {"query": "{ genres { id } movie(id: 155) { similar(limit: 0) { id } } }"}, accept=accept
    )
    assert partial.status_code == 200
    assert json.loads(partial.content)["data"]["genres"]


def test_application_json_keeps_200_for_every_well_formed_request(client: Client) -> None:
    for accept in ("application/json", "*/*", ""):
        response = post(client, {"query": "{ genres { nope } }"}, accept=accept)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        body = json.loads(response.content)
        assert "data" not in body
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'"abc"', 400),
        (b"null", 400),
        (b"42", 400),
        (b"[" * 100_000 + b"]" * 100_000, 400),
        (b"{not json", 400),
        (b"\xff\xfe", 400),
        (b'[{"query": "{ __typename }"}]', 400),
        (b"{}", 400),
        (b'{"query": 5}', 400),
        (b'{"query": "{ __typename }", "variables": "x"}', 400),
        (b'{"query": "{ __typename }", "extensions": []}', 400),
        (b'{"query": "{ __typename }", "operationName": 1}', 400),
        (b'{"query": "query A { __typename }", "operationName": "B"}', 400),
    ],
)
def test_request_errors_are_coded_json_bodies(client: Client, body: bytes, status: int) -> None:
    for accept in ("application/json", GRAPHQL_RESPONSE):
        response = post(client, body, accept=accept)
        assert response.status_code == status
        assert response["Content-Type"] == accept
        parsed = json.loads(response.content)
        assert "data" not in parsed
        [error] = parsed["errors"]
        assert error["message"]
        assert error["extensions"] == {"code": "BAD_USER_INPUT"}


def test_wrong_content_type_method_and_size_are_coded_json_too(client: Client, settings: Any) -> None:
    text = client.post("/graphql", data="{ __typename }", content_type="text/plain")
    assert text.status_code == 415
    assert errors_of(text)[0][1] == "BAD_USER_INPUT"
    for method in (client.put, client.delete, client.patch):
        response = method("/graphql")
        assert response.status_code == 405
        assert response["Allow"] == "GET, POST"
        assert errors_of(response)[0][1] == "BAD_USER_INPUT"
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    big = post(client, {"query": "{ __typename }", "variables": {"x": "y" * 2000}})
    assert big.status_code == 413
    assert errors_of(big)[0][1] == "BAD_USER_INPUT"


def test_a_mutation_over_get_is_405_with_allow_post(client: Client) -> None:
    mutation = 'mutation { revokeToken(refreshToken: "x") }'
    for accept in ("application/json", GRAPHQL_RESPONSE):
        response = get(client, {"query": mutation}, accept=accept)
        assert response.status_code == 405
        assert response["Allow"] == "POST"
        assert errors_of(response) == [("Mutations are sent with POST.", "BAD_USER_INPUT")]
    assert get(client, {"query": GENRES}).status_code == 200


def test_rate_limited_answers_carry_retry_after(client: Client, gql: GraphQL, settings: Any) -> None:
    settings.LOGIN_RATE_LIMIT = "1/m"
    login = 'mutation { tokenAuth(username: "nobody", password: "wrong-password-1") { token } }'
    with time_machine.travel(timezone.now().replace(second=5), tick=False):
        first = post(client, {"query": login})
        assert "Retry-After" not in first
        limited = post(client, {"query": login})
    [error] = json.loads(limited.content)["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert limited["Retry-After"] == str(error["extensions"]["retryAfter"])
    # A sliding window may wait up to two periods (accounts/ratelimit.py).
    assert 1 <= int(limited["Retry-After"]) <= 120


def test_unexpected_failures_in_the_view_are_coded_json(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from schema import operations

    def broken(*_: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(operations, "describe", broken)
    response = post(client, {"query": GENRES})
    assert response.status_code == 500
    assert errors_of(response) == [("Internal server error.", "INTERNAL_SERVER_ERROR")]
    assert b"a bug" not in response.content


# --- Automatic persisted queries ------------------------------------------------------------------


@pytest.mark.parametrize("send", [post, get])
def test_persisted_query_full_round(client: Client, send: Any) -> None:
    """Hash only -> PersistedQueryNotFound -> hash and query -> hash only works (Apollo's link)."""
    hash_only = {"extensions": persisted(GENRES)}
    missing = send(client, hash_only)
    assert missing.status_code == 200
    assert errors_of(missing) == [("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND")]
    assert missing["Cache-Control"] == "private, no-store"
    registered = post(client, {"query": GENRES, **hash_only})
    genres = json.loads(registered.content)["data"]["genres"]
    assert genres
    assert json.loads(send(client, hash_only).content) == {"data": {"genres": genres}}
    # The registry is the shared cache: another process (no local memory) knows the hash too.
    persisted_queries.forget_local()
    assert json.loads(send(client, hash_only).content) == {"data": {"genres": genres}}


def test_persisted_query_with_variables_over_get(client: Client) -> None:
    query = "query Movie($id: Int!) { movie(id: $id) { title } }"
    params = {"extensions": persisted(query), "variables": {"id": 155}, "operationName": "Movie"}
    assert errors_of(get(client, params))[0][1] == "PERSISTED_QUERY_NOT_FOUND"
    assert json.loads(get(client, {**params, "query": query}).content)["data"]["movie"]["title"] == (
        "The Dark Knight"
    )
    assert json.loads(get(client, params).content)["data"]["movie"]["title"] == "The Dark Knight"


def test_persisted_query_mistakes_are_bad_user_input(client: Client) -> None:
    wrong_hash = post(client, {"query": GENRES, "extensions": persisted("{ other }")})
    assert wrong_hash.status_code == 400
    assert errors_of(wrong_hash) == [("provided sha does not match query", "BAD_USER_INPUT")]
    for extension in ({"version": 2, "sha256Hash": sha256(GENRES)}, {"version": 1, "sha256Hash": "abc"}, "x"):
        response = post(client, {"extensions": {"persistedQuery": extension}})
        assert response.status_code == 400
        assert errors_of(response)[0][1] == "BAD_USER_INPUT"


def test_a_query_that_does_not_validate_is_not_registered(client: Client) -> None:
    bad = "{ genres { nope } }"
    assert errors_of(post(client, {"query": bad, "extensions": persisted(bad)}))[0][1] == "BAD_USER_INPUT"
    assert errors_of(post(client, {"extensions": persisted(bad)}))[0][1] == "PERSISTED_QUERY_NOT_FOUND"


# --- HTTP caching of anonymous GETs ----------------------------------------------------------------


def test_an_anonymous_persisted_get_is_public_for_the_shortest_ttl_read(client: Client) -> None:
    post(client, {"query": HOME, "extensions": persisted(HOME)})
    response = get(client, {"extensions": persisted(HOME)})
    assert response.status_code == 200
    # trending lives 30 min in the catalog cache, popular 1 h: the shorter wins.
    assert response["Cache-Control"] == "public, max-age=1800"
    vary = {part.strip().lower() for part in response["Vary"].split(",")}
    assert {"accept", "accept-language", "authorization"} <= vary
    etag = response["ETag"]
    again = get(client, {"extensions": persisted(HOME)}, **{"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    assert again["Cache-Control"] == "public, max-age=1800"
    assert get(client, {"query": GENRES})["Cache-Control"] == "public, max-age=86400"


def test_private_answers_are_never_publicly_cacheable(client: Client, gql: GraphQL) -> None:
    auth = gql(
        'mutation { register(input: {username: "cachy", email: "cachy@example.com", '
        'password: "a-long-enough-password"}) { token } }'
    ).ok()["register"]
    signed_in = get(client, {"query": GENRES}, Authorization=f"JWT {auth['token']}")
    assert signed_in.status_code == 200
    assert signed_in["Cache-Control"] == "private, no-store"
    assert "ETag" not in signed_in
    for params in (
        {"query": "{ me { username } }"},
        {"query": "{ __typename }"},
        {"query": "{ genres { nope } }"},
    ):
        assert get(client, params)["Cache-Control"] == "private, no-store", params
    assert post(client, {"query": GENRES})["Cache-Control"] == "private, no-store"
    mutation = post(client, {"query": 'mutation { revokeToken(refreshToken: "x") }'})
    assert mutation["Cache-Control"] == "private, no-store"


def test_persisted_and_get_forms_are_replayed_from_memory(client: Client, settings: Any) -> None:
    settings.GRAPHQL_RESPONSE_CACHE_SECONDS = 60
    clear_caches()
    post(client, {"query": HOME, "extensions": persisted(HOME)})
    first = get(client, {"extensions": persisted(HOME)})
    clear_caches_but_answers()
    with CaptureQueriesContext(connection) as queries:
        again = get(client, {"extensions": persisted(HOME)})
    assert len(queries) == 0
    assert again.content == first.content
    assert again["Cache-Control"] == "public, max-age=1800"


def clear_caches_but_answers() -> None:
    from django.core.cache import cache

    from movies.catalog import reads

    cache.clear()
    reads.forget_local()


# --- CORS ------------------------------------------------------------------------------------------


def test_cors_preflight_for_a_dev_server_origin(client: Client) -> None:
    origin = "http://localhost:5173"
    preflight = client.options(
        "/graphql",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == origin
    allowed = {name.strip() for name in preflight["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed
    assert "POST" in preflight["Access-Control-Allow-Methods"]
    assert int(preflight["Access-Control-Max-Age"]) >= 600
    assert "Access-Control-Allow-Credentials" not in preflight
    answer = post(client, {"query": GENRES}, Origin=origin)
    assert answer["Access-Control-Allow-Origin"] == origin
    assert "retry-after" in answer["Access-Control-Expose-Headers"].lower()


def test_cors_refuses_unlisted_origins_and_follows_the_setting(client: Client, settings: Any) -> None:
    stranger = "https://evil.example"
    preflight = client.options(
        "/graphql", headers={"Origin": stranger, "Access-Control-Request-Method": "POST"}
    )
    assert "Access-Control-Allow-Origin" not in preflight
    settings.CORS_ALLOWED_ORIGINS = [stranger]
    allowed = client.options(
        "/graphql", headers={"Origin": stranger, "Access-Control-Request-Method": "POST"}
    )
    assert allowed["Access-Control-Allow-Origin"] == stranger


# --- Production switches ---------------------------------------------------------------------------


def _ask(introspection: bool, suggestions: bool, query: str) -> dict[str, Any]:
    from schema.schema import make_schema
    from schema.views import GraphQLView

    clear_caches()  # answers replayed from memory do not name the schema that made them
    view = GraphQLView.as_view(
        schema=make_schema(introspection=introspection, field_suggestions=suggestions), graphql_ide=None
    )
    request = AsyncRequestFactory().post("/graphql", {"query": query}, content_type="application/json")
    return json.loads(async_to_sync(view)(request).content)


def test_introspection_and_field_suggestions_can_be_switched_off() -> None:
    introspect = "{ __schema { queryType { name } } }"
    assert _ask(True, True, introspect)["data"]["__schema"]["queryType"]["name"] == "Query"
    closed = _ask(False, False, introspect)
    assert "data" not in closed
    assert "introspection has been disabled" in closed["errors"][0]["message"]
    assert _ask(False, False, "{ __typename }") == {"data": {"__typename": "Query"}}
    typo = "{ popularMovie { page } }"
    assert "Did you mean" in _ask(True, True, typo)["errors"][0]["message"]
    assert "Did you mean" not in _ask(False, False, typo)["errors"][0]["message"]


# --- The schema as clients see it ------------------------------------------------------------------


def _own_types() -> list[Any]:
    from graphql import is_specified_scalar_type

    from schema.schema import schema

    return [
        graphql_type
        for name, graphql_type in schema._schema.type_map.items()
        if not name.startswith("__") and not is_specified_scalar_type(graphql_type)
    ]


def test_every_type_field_and_argument_has_a_description() -> None:
    """GraphiQL's docs explorer and schema.graphql are the API's documentation: nothing undescribed."""
    missing = []
    for graphql_type in _own_types():
        if not graphql_type.description:
            missing.append(graphql_type.name)
        for field_name, field in getattr(graphql_type, "fields", {}).items():
            if not field.description:
                missing.append(f"{graphql_type.name}.{field_name}")
            for argument_name, argument in getattr(field, "args", {}).items():
                if not argument.description:
                    missing.append(f"{graphql_type.name}.{field_name}({argument_name})")
    assert missing == []


# Object types a client cache keeps inside their parent rather than by id: pages,
# payloads and values that only exist as part of something else. Types of the
# shared contract not served yet are listed too.
WITHOUT_ID = {
    "Query": "root",
    "Mutation": "root",
    "MoviePage": "a page of a list: cached under the field and arguments that asked for it",
    "FavoritePage": "a window of the viewer's favorites",
    "WatchlistPage": "a window of the viewer's watchlist",
    "RatingPage": "a window of the viewer's ratings",
    "AuthPayload": "a mutation's answer; its user has an id",
    "Recommendation": "a movie (with an id) and why, in an answer that is replaced whole",
    "PersonPage": "a page of people",
    "PersonMovieCredits": "a person's credits, part of the person",
    "PersonCastCredit": "a role, part of a person's credits",
    "PersonCrewCredit": "a job, part of a person's credits",
    "CastCredit": "a role, part of a movie",
    "CrewCredit": "a job, part of a movie",
}


def test_object_types_a_client_caches_have_an_id() -> None:
    from graphql import GraphQLObjectType

    without_id = {
        graphql_type.name
        for graphql_type in _own_types()
        if isinstance(graphql_type, GraphQLObjectType) and "id" not in graphql_type.fields
    }
    assert without_id - set(WITHOUT_ID) == set()
    assert {"Movie", "Genre", "User", "Preferences", "Favorite", "WatchlistEntry", "Rating"}.isdisjoint(
        without_id
    )


# --- kept anonymous answers replayed before Django -------------------------------------------------

REPLAY_HOST = [(b"host", b"127.0.0.1")]
REPLAYED = [
    (
        "POST",
        "/graphql",
        b'{"query": "{ genres { id name } }"}',
        [*REPLAY_HOST, (b"content-type", b"application/json")],
    ),
    (
        "POST",
        "/graphql",
        b'{"query": "{ popularMovies { results { id title overview } } }"}',
        [
            *REPLAY_HOST,
            (b"content-type", b"application/json"),
            (b"accept-encoding", b"gzip"),
            (b"origin", b"http://localhost:3000"),
            (b"accept", b"application/graphql-response+json"),
            (b"x-request-id", b"client-7"),
        ],
    ),
    ("GET", "/graphql?query=%7Bgenres%7Bname%7D%7D", b"", [*REPLAY_HOST, (b"accept", b"application/json")]),
]


def _count_django_requests(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one for every request /graphql's handler builds (a replay builds none)."""
    from backend.graphql_handler import GraphQLHandler

    built: list[int] = []
    original = GraphQLHandler.create_request
    monkeypatch.setattr(
        GraphQLHandler, "create_request", lambda self, *a: built.append(1) or original(self, *a)
    )
    return built


@pytest.mark.parametrize(("method", "path", "body", "headers"), REPLAYED)
def test_a_kept_answer_is_replayed_before_django_with_identical_body_and_headers(
    method: str,
    path: str,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
    monkeypatch: pytest.MonkeyPatch,
    transactional_db: None,
    local_catalog: None,
) -> None:
    import asyncio

    from backend.asgi import application

    built = _count_django_requests(monkeypatch)
    hops = HopCounter(monkeypatch)

    def call() -> tuple[int, dict[str, str], bytes]:
        return asyncio.run(asgi_call(application, method, path, body, headers))

    first, second = call(), call()
    assert len(built) == 1  # the second request never reached Django
    assert first[0] == 200
    assert json.loads(gzip.decompress(first[2]) if first[1].get("content-encoding") else first[2])["data"]
    ids = first[1].pop("x-request-id"), second[1].pop("x-request-id")
    assert first == second
    if (b"x-request-id", b"client-7") in headers:
        assert ids == ("client-7", "client-7")
    else:
        assert ids[0] != ids[1]
    hops.names.clear()
    call()
    assert hops.names == []


@pytest.mark.parametrize(
    ("body", "extra"),
    [
        (b'{"query": "{ genres { id name } }"}', [(b"authorization", b"JWT not-a-token")]),
        (b'{"query": "{ genres { nope } }"}', []),  # an answer with errors
        (b'{"query": "mutation { revokeToken(refreshToken: \\"x\\") }"}', []),
    ],
)
def test_what_the_view_does_not_keep_is_never_replayed(
    body: bytes,
    extra: list[tuple[bytes, bytes]],
    monkeypatch: pytest.MonkeyPatch,
    transactional_db: None,
    local_catalog: None,
) -> None:
    import asyncio

    from backend.asgi import application

    built = _count_django_requests(monkeypatch)
    headers = [*REPLAY_HOST, (b"content-type", b"application/json"), *extra]
    for _ in range(2):
        asyncio.run(asgi_call(application, "POST", "/graphql", body, headers))
    assert len(built) == 2


def test_another_accept_language_or_origin_is_another_replay(
    monkeypatch: pytest.MonkeyPatch, transactional_db: None, local_catalog: None
) -> None:
    import asyncio

    from backend.asgi import application

    body = b'{"query": "{ genres { name } }"}'
    base = [*REPLAY_HOST, (b"content-type", b"application/json")]
    asyncio.run(asgi_call(application, "POST", "/graphql", body, base))
    _, named, _ = asyncio.run(
        asgi_call(application, "POST", "/graphql", body, [*base, (b"origin", b"http://localhost:3000")])
    )
    assert named["access-control-allow-origin"] == "http://localhost:3000"
    _, plain, _ = asyncio.run(asgi_call(application, "POST", "/graphql", body, base))
    assert "access-control-allow-origin" not in plain


def test_a_body_too_large_to_replay_streams_on_without_being_held_in_memory() -> None:
    """A body past ``MAX_BODY`` is never replayed: it reaches Django as it arrives (which spools it to disk)."""
    import asyncio

    from schema.replay import MAX_BODY, ReplayMiddleware

    chunk = b"x" * 16384
    total = 4 * MAX_BODY // len(chunk)
    sent = 0
    first_seen_after: list[int] = []
    received: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        sent += 1
        return {"type": "http.request", "body": chunk, "more_body": sent < total}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            first_seen_after.append(sent)
            received.append(message["body"])
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 413, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def send(message: Any) -> None:
        pass

    scope = {"type": "http", "method": "POST", "path": "/graphql", "query_string": b"", "headers": []}
    asyncio.run(ReplayMiddleware(app)(scope, receive, send))
    assert b"".join(received) == chunk * total
    assert first_seen_after[0] * len(chunk) <= MAX_BODY + len(chunk)


def test_a_replayed_answer_logs_its_access_line_with_the_request_id_it_was_sent(
    transactional_db: None, local_catalog: None
) -> None:
    import asyncio
    import logging

    from backend.asgi import application
    from backend.logging import RequestIdFilter

    lines: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.addFilter(RequestIdFilter())
    handler.emit = lines.append  # type: ignore[method-assign]
    access = logging.getLogger("backend.access")
    access.addHandler(handler)
    body = b'{"query": "{ genres { id name } }"}'
    headers = [*REPLAY_HOST, (b"content-type", b"application/json")]
    try:
        sent = [asyncio.run(asgi_call(application, "POST", "/graphql", body, headers))[1] for _ in range(2)]
    finally:
        access.removeHandler(handler)
    assert [line.request_id for line in lines] == [named["x-request-id"] for named in sent]  # type: ignore[attr-defined]


# --- signed-in catalog queries: the viewer-independent answer with the viewer's fields spliced in ---

SPLICED = [
    (
        "{ trendingMovies(page: 1) { results { id title posterUrl(size: W342) genres { name } isFavorite } } "
        "popularMovies(page: 1) { results { id title posterUrl(size: W342) genres { name } isFavorite } } }",
        None,
    ),
    (
        "query M($id: Int!) { movie(id: $id) { title mine: myRating isFavorite inWatchlist genres { id } } }",
        {"id": 155},
    ),
    ("{ movies(ids: [155, 550, 27205, 19995]) { myRating title fav: isFavorite inWatchlist } }", None),
    ("{ movie(id: 155) { id similar(limit: 5) { title isFavorite } isFavorite } genres { name } }", None),
    ("{ movie(id: 999999999) { title isFavorite } }", None),
]


@pytest.fixture
def viewer(gql: GraphQL) -> str:
    """A signed-in user with favorites, a watchlist entry and ratings; their access token."""
    from accounts import tokens
    from accounts.models import User

    token = tokens.issue(User.objects.create_user("viewer", "viewer@example.com", "a-long-passphrase")).token
    top = gql("{ popularMovies(page: 1) { results { id } } }").ok()["popularMovies"]["results"]
    for movie_id in (155, 550, top[0]["id"], top[3]["id"]):
        gql("mutation($id: Int!) { addFavorite(movieId: $id) { id } }", {"id": movie_id}, token=token).ok()
    gql("mutation { addToWatchlist(movieId: 27205) { id } }", token=token).ok()
    for movie_id, score in ((155, 4.5), (19995, 3), (top[1]["id"], 2)):
        gql(
            "mutation($id: Int!, $s: Float!) { rateMovie(movieId: $id, score: $s) { score } }",
            {"id": movie_id, "s": score},
            token=token,
        ).ok()
    return token


@pytest.mark.parametrize(("query", "variables"), SPLICED)
def test_a_signed_in_catalog_query_is_spliced_into_the_same_bytes_as_executing_it(
    query: str,
    variables: dict[str, Any] | None,
    client: Client,
    viewer: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from schema import viewer_fields
    from schema.views import GraphQLView

    def post() -> Any:
        return client.post(
            "/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}),
            content_type="application/json",
            headers={"Authorization": f"JWT {viewer}"},
        )

    executed: list[str] = []
    original_execute = GraphQLView._execute
    monkeypatch.setattr(
        GraphQLView,
        "_execute",
        lambda self, request, media_type, text, *a: (
            executed.append(text) or original_execute(self, request, media_type, text, *a)
        ),
    )
    spliced, again = post(), post()
    # Only the viewer-independent query executed: the viewer's fields were spliced in.
    assert len(executed) == 1
    assert not any(name in executed[0] for name in viewer_fields.VIEWER_FIELDS)
    with monkeypatch.context() as off:
        off.setattr(viewer_fields, "split", lambda *a: None)
        executed = post()
    assert spliced.status_code == executed.status_code == 200
    assert spliced.content == again.content == executed.content
    assert spliced["Cache-Control"] == executed["Cache-Control"] == "private, no-store"
    assert b"true" in executed.content or "999999999" in query


def test_a_change_of_the_viewers_lists_shows_at_once_in_a_spliced_answer(gql: GraphQL, viewer: str) -> None:
    query = "{ movie(id: 27205) { title isFavorite myRating } }"
    assert gql(query, token=viewer).ok()["movie"]["isFavorite"] is False
    gql(
        "mutation { addFavorite(movieId: 27205) { id } rateMovie(movieId: 27205, score: 5) { score } }",
        token=viewer,
    ).ok()
    assert gql(query, token=viewer).ok()["movie"] == {
        "title": "Inception",
        "isFavorite": True,
        "myRating": 5.0,
    }


def test_a_burst_of_one_anonymous_query_executes_it_once(
    monkeypatch: pytest.MonkeyPatch, transactional_db: None, local_catalog: None
) -> None:
    """As after a cold start or the kept answer's expiry: the requests that arrive meanwhile share it."""
    import asyncio

    from backend.asgi import application
    from schema.views import GraphQLView

    executed: list[str] = []
    original_execute = GraphQLView._execute

    async def slow_execute(self: Any, request: Any, media_type: str, text: str, *a: Any) -> Any:
        executed.append(text)
        await asyncio.sleep(0.2)  # an upstream call's worth: the others arrive meanwhile
        return await original_execute(self, request, media_type, text, *a)

    monkeypatch.setattr(GraphQLView, "_execute", slow_execute)
    body = b'{"query": "{ genres { id name } }"}'
    headers = [*REPLAY_HOST, (b"content-type", b"application/json")]

    async def burst() -> list[tuple[int, dict[str, str], bytes]]:
        return await asyncio.gather(
            *(asgi_call(application, "POST", "/graphql", body, headers) for _ in range(5))
        )

    answers = asyncio.run(burst())
    assert executed == ["{ genres { id name } }"]
    assert {answer[0] for answer in answers} == {200}
    assert len({answer[2] for answer in answers}) == 1


def test_one_viewers_concurrent_requests_read_their_sign_in_and_lists_once(
    gql: GraphQL, monkeypatch: pytest.MonkeyPatch, catalog_rows: None
) -> None:
    """A page's queries sent at once by one viewer whose sign-in and lists are not in the shared cache."""
    import asyncio
    import time

    from django.core.cache import cache

    from accounts import auth, user_cache, viewer_state
    from accounts.models import User

    token = _account(gql, "alice", (155,))
    user = User.objects.get(username="alice")
    cache.delete_many([user_cache.key(user.pk), viewer_state.key(user.pk)])
    calls: list[str] = []

    def slowly(name: str, original: Any) -> Any:
        def run(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            time.sleep(0.2)  # a slow database: the other requests arrive meanwhile
            return original(*args, **kwargs)

        return run

    monkeypatch.setattr(auth, "_user_for", slowly("sign-in", auth._user_for))
    monkeypatch.setattr(viewer_state, "load", slowly("lists", viewer_state.load))
    query, variables = MOVIE
    body = json.dumps({"query": query, "variables": variables}).encode()

    async def page() -> list[tuple[int, dict[str, str], bytes]]:
        from backend.asgi import application

        return await asyncio.gather(
            *(asgi_call(application, "POST", "/graphql", body, _signed_in(token)) for _ in range(4))
        )

    answers = asyncio.run(page())
    assert sorted(calls) == ["lists", "sign-in"]
    assert {json.loads(answer[2])["data"]["movie"]["isFavorite"] for answer in answers} == {True}


# --- signed-in answers replayed before Django: templates filled per viewer, one viewer's own answers ---

HOME = SPLICED[0][0]
MOVIE = SPLICED[1]
# A movie page long enough to be gzipped (Django's GZip middleware leaves bodies under 200 bytes).
MOVIE_PAGE = (
    "query M($id: Int!) { movie(id: $id) { id title overview isFavorite myRating inWatchlist genres { id } } }",
    {"id": 155},
)


def _signed_in(token: str, *extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    return [
        *REPLAY_HOST,
        (b"content-type", b"application/json"),
        (b"authorization", f"JWT {token}".encode()),
        *extra,
    ]


def _account(
    gql: GraphQL, name: str, favorites: tuple[int, ...], rating: tuple[int, float] | None = None
) -> str:
    """A user with these favorites (and a rating), whose shared-cache entry is settled; their token."""
    from django.core.cache import cache

    from accounts import tokens, user_cache, viewer_state
    from accounts.models import User

    user = User.objects.create_user(name, f"{name}@example.com", "a-long-passphrase")
    token = tokens.issue(user).token
    for movie_id in favorites:
        gql("mutation($id: Int!) { addFavorite(movieId: $id) { id } }", {"id": movie_id}, token=token).ok()
    if rating is not None:
        gql(
            "mutation($id: Int!, $s: Float!) { rateMovie(movieId: $id, score: $s) { score } }",
            {"id": rating[0], "s": rating[1]},
            token=token,
        ).ok()
    cache.delete(user_cache.key(user.pk))  # as SETTLE seconds after the account's creation
    # As their first signed-in requests do: the user's entry and lists in the shared cache.
    gql("{ me { id } }", token=token).ok()
    viewer_state.load(user.pk)
    return token


def _post(
    query: str, variables: dict[str, Any] | None, headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[str, str], bytes]:
    import asyncio

    from backend.asgi import application

    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    return asyncio.run(asgi_call(application, "POST", "/graphql", body, headers))


def _executed(
    query: str, variables: dict[str, Any] | None, token: str, monkeypatch: pytest.MonkeyPatch
) -> bytes:
    """The answer as executing the whole query gives it (no split, nothing replayed)."""
    from schema import replay, viewer_fields

    with monkeypatch.context() as off:
        off.setattr(viewer_fields, "split", lambda *a: None)
        off.setattr(replay, "replay_key", lambda *a: None)
        status, _, body = _post(query, variables, _signed_in(token))
    assert status == 200
    return body


@pytest.mark.parametrize(
    ("query", "variables", "encoding"), [(HOME, None, None), (*MOVIE_PAGE, b"gzip"), (*MOVIE, b"gzip")]
)
def test_a_signed_in_catalog_answer_is_filled_before_django_for_every_viewer(
    query: str,
    variables: dict[str, Any] | None,
    encoding: bytes | None,
    gql: GraphQL,
    monkeypatch: pytest.MonkeyPatch,
    catalog_rows: None,
    redis_cache: None,
) -> None:
    top = gql("{ popularMovies(page: 1) { results { id } } }").ok()["popularMovies"]["results"]
    alice = _account(gql, "alice", (155, top[0]["id"]), (155, 4.5))
    bob = _account(gql, "bob", (550, top[2]["id"]))
    extra = [(b"accept-encoding", encoding)] if encoding else []
    built = _count_django_requests(monkeypatch)

    def plain(answer: tuple[int, dict[str, str], bytes]) -> bytes:
        assert answer[0] == 200
        assert int(answer[1]["content-length"]) == len(answer[2])
        compressed = answer[1].get("content-encoding") == "gzip"
        body = gzip.decompress(answer[2]) if compressed else answer[2]
        assert compressed == (bool(encoding) and len(body) >= 200)
        return body

    first = _post(query, variables, _signed_in(alice, *extra))
    assert len(built) == 1
    hops = HopCounter(monkeypatch)
    for_bob, for_alice = (
        _post(query, variables, _signed_in(bob, *extra)),
        _post(query, variables, _signed_in(alice, *extra)),
    )
    assert len(built) == 1  # neither reached Django
    assert hops.names == []  # nor a thread: no database
    assert plain(for_alice) == plain(first) == _executed(query, variables, alice, monkeypatch)
    assert plain(for_bob) == _executed(query, variables, bob, monkeypatch)
    assert plain(for_bob) != plain(for_alice)
    headers = [dict(answer[1]) for answer in (first, for_bob)]
    # The same names in the same places as Django sends them (asgi_call keeps their order).
    assert list(headers[0]) == list(headers[1])
    for named in headers:
        del named["x-request-id"], named["content-length"]
    assert headers[0] == headers[1]
    assert headers[0]["cache-control"] == "private, no-store"


def test_a_change_of_the_viewers_lists_shows_at_once_in_an_answer_filled_before_django(
    gql: GraphQL,
    monkeypatch: pytest.MonkeyPatch,
    catalog_rows: None,
    redis_cache: None,
) -> None:
    alice = _account(gql, "alice", (155,))
    query, variables = "query M($id: Int!) { movie(id: $id) { id title isFavorite myRating } }", {"id": 27205}
    _post(query, variables, _signed_in(alice))
    assert json.loads(_post(query, variables, _signed_in(alice))[2])["data"]["movie"]["isFavorite"] is False
    gql(
        "mutation { addFavorite(movieId: 27205) { id } rateMovie(movieId: 27205, score: 5) { score } }",
        token=alice,
    ).ok()
    assert json.loads(_post(query, variables, _signed_in(alice))[2])["data"]["movie"] == {
        "id": 27205,
        "title": "Inception",
        "isFavorite": True,
        "myRating": 5.0,
    }


def test_a_token_the_shared_cache_cannot_vouch_for_is_never_answered_before_django(
    gql: GraphQL, monkeypatch: pytest.MonkeyPatch, catalog_rows: None, redis_cache: None
) -> None:
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts import tokens
    from accounts.models import User

    alice, bob = _account(gql, "alice", (155,)), _account(gql, "bob", (155,))
    carol = _account(gql, "carol", (155,))
    with time_machine.travel(timezone.now() - timezone.timedelta(days=1)):
        expired = tokens.issue(User.objects.get(username="carol")).token
    query, variables = MOVIE
    for token in (alice, bob, carol):
        _post(query, variables, _signed_in(token))
    built = _count_django_requests(monkeypatch)
    assert json.loads(_post(query, variables, _signed_in(alice))[2])["data"]["movie"]["isFavorite"] is True
    assert len(built) == 0  # answered before Django, as long as the cache vouches for the token
    forged = alice[:-4] + ("AAAA" if not alice.endswith("AAAA") else "BBBB")
    nobody = AccessToken.for_user(User(pk=999_999))
    nobody[tokens.VERSION_CLAIM] = 0
    tokens.revoke_all(User.objects.get(username="alice").pk)
    deactivated = User.objects.get(username="bob")
    deactivated.is_active = False
    deactivated.save()
    User.objects.get(username="carol").delete()
    for token in (forged, alice, bob, carol, expired, str(nobody)):
        status, _, body = _post(query, variables, _signed_in(token))
        # Django's answer to a token it does not accept: the viewer's fields as for anyone (no sign-in).
        assert (status, json.loads(body)["data"]["movie"]["isFavorite"]) == (200, False)
    assert len(built) == 6


def test_recommendations_are_replayed_to_their_viewer_until_their_data_changes(
    gql: GraphQL,
    monkeypatch: pytest.MonkeyPatch,
    catalog_rows: None,
    redis_cache: None,
) -> None:
    alice = _account(gql, "alice", (155, 27205))
    bob = _account(gql, "bob", (19995,))
    query = "{ recommendations(limit: 5) { score reasons movie { id title } } }"
    built = _count_django_requests(monkeypatch)
    first = _post(query, None, _signed_in(alice))
    again = _post(query, None, _signed_in(alice))
    assert len(built) == 1
    assert again[2] == first[2]
    for_bob = _post(query, None, _signed_in(bob))
    assert len(built) == 2  # another viewer: their own answer
    assert for_bob[2] != first[2]
    gql("mutation { addFavorite(movieId: 550) { id } }", token=alice).ok()
    changed = _post(query, None, _signed_in(alice))
    assert len(built) == 3  # a new generation of alice's data: executed again
    assert 550 not in [item["movie"]["id"] for item in json.loads(changed[2])["data"]["recommendations"]]


@pytest.mark.parametrize(
    "query",
    [
        "{ me { username } movie(id: 155) { isFavorite } }",
        "query { movie(id: 155) { ...F } } fragment F on Movie { isFavorite }",
        "{ movie(id: 155) { isFavorite @include(if: true) } }",
        "{ movie(id: 155) { title } }",  # nothing per viewer: executed as usual
        "{ movie(id: 155) { nope isFavorite } }",
    ],
)
def test_what_cannot_be_split_executes_as_usual(query: str) -> None:
    from schema import viewer_fields
    from schema.schema import schema

    assert viewer_fields.split(schema._schema, query, None) is None


def test_a_query_over_budget_is_refused_even_when_it_could_be_split(
    gql: GraphQL, viewer: str, settings: Any
) -> None:
    settings.GRAPHQL_MAX_COST = 50
    response = gql(
        "{ trendingMovies(page: 1) { results { id title isFavorite } } popularMovies(page: 1) { results { id isFavorite } } }",
        token=viewer,
    )
    assert response.codes == ["BAD_USER_INPUT"]


def test_aliases_of_viewer_fields_count_against_the_alias_limit_as_when_executed(
    gql: GraphQL, viewer: str
) -> None:
    from django.conf import settings

    many = " ".join(f"f{n}: isFavorite" for n in range(settings.GRAPHQL_MAX_ALIASES + 1))
    query = f"{{ movie(id: 155) {{ id {many} }} }}"
    anonymous = gql(query)
    assert anonymous.codes == ["BAD_USER_INPUT"]
    signed_in = gql(query, token=viewer)
    assert (signed_in.codes, signed_in.errors[0]["message"]) == (
        anonymous.codes,
        anonymous.errors[0]["message"],
    )


def test_repeated_headers_in_another_order_are_another_replay(
    transactional_db: None, local_catalog: None
) -> None:
    """Django joins a repeated header in the order sent, and the first of equal preferences wins."""
    import asyncio

    from backend.asgi import application

    body = b'{"query": "{ genres { name } }"}'
    accepts = [(b"accept", b"application/graphql-response+json"), (b"accept", b"application/json")]
    base = [*REPLAY_HOST, (b"content-type", b"application/json")]
    first = asyncio.run(asgi_call(application, "POST", "/graphql", body, [*base, *accepts]))
    second = asyncio.run(asgi_call(application, "POST", "/graphql", body, [*base, *reversed(accepts)]))
    assert (first[1]["content-type"], second[1]["content-type"]) == (
        "application/graphql-response+json",
        "application/json",
    )


def test_a_request_over_another_scheme_is_another_replay(
    settings: Any, transactional_db: None, local_catalog: None
) -> None:
    """HTTPS-only settings redirect plain HTTP and send HSTS over HTTPS: an answer kept for one is not the other's."""
    import asyncio

    from backend.graphql_handler import GraphQLHandler
    from schema.replay import ReplayMiddleware

    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    application = ReplayMiddleware(GraphQLHandler())  # its middleware read the settings above
    body = b'{"query": "{ genres { name } }"}'
    headers = [*REPLAY_HOST, (b"content-type", b"application/json")]
    status, named, _ = asyncio.run(asgi_call(application, "POST", "/graphql", body, headers, scheme="https"))
    assert (status, named["strict-transport-security"]) == (200, "max-age=3600")
    status, named, _ = asyncio.run(asgi_call(application, "POST", "/graphql", body, headers))
    assert (status, named["location"]) == (301, "https://127.0.0.1/graphql")


def test_a_burst_of_signed_in_home_pages_executes_the_shared_part_once(
    viewer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from django.test import AsyncClient

    from schema.views import GraphQLView

    executions = []
    original = GraphQLView._execute

    async def counting(self: Any, *args: Any) -> Any:
        executions.append(args[2])
        await asyncio.sleep(0.05)  # still running when the other requests arrive
        return await original(self, *args)

    monkeypatch.setattr(GraphQLView, "_execute", counting)
    client = AsyncClient()
    query = SPLICED[0][0]

    async def burst() -> list[Any]:
        return await asyncio.gather(
            *(
                client.post(
                    "/graphql",
                    data=json.dumps({"query": query}),
                    content_type="application/json",
                    headers={"Authorization": f"JWT {viewer}"},
                )
                for _ in range(5)
            )
        )

    responses = async_to_sync(burst)()
    assert [r.status_code for r in responses] == [200] * 5
    assert len({r.content for r in responses}) == 1
    assert len(executions) == 1
    assert "isFavorite" not in executions[0]


def test_a_template_is_kept_no_longer_than_the_answer_it_was_made_from(
    gql: GraphQL, monkeypatch: pytest.MonkeyPatch, catalog_rows: None, redis_cache: None
) -> None:
    import gc

    from schema import response_cache, viewer_fields
    from schema.viewer_fields import Template

    alice = _account(gql, "alice", (155,))
    # Answers the response cache does not keep (too large): nothing made from them may stay in memory.
    monkeypatch.setattr(response_cache, "MAX_ANSWER", 64)
    query = "query M($id: Int!) { movie(id: $id) { id title overview isFavorite } }"
    for movie_id in (155, 550, 27205):
        assert _post(query, {"id": movie_id}, _signed_in(alice))[0] == 200
    gc.collect()
    assert [held for held in gc.get_objects() if type(held) is Template] == []
    # A kept answer's template is made once, whoever asks next.
    monkeypatch.undo()
    made: list[Template | None] = []
    original = viewer_fields.template
    monkeypatch.setattr(viewer_fields, "template", lambda *a: made.append(original(*a)) or made[-1])
    bob = _account(gql, "bob", (550,))
    for token in (alice, bob, alice):
        gql(query, {"id": 550}, token=token).ok()
    assert len(made) == 1


def test_a_history_too_long_to_keep_is_not_read_whole_again_for_each_request(
    gql: GraphQL, monkeypatch: pytest.MonkeyPatch, catalog_rows: None, redis_cache: None
) -> None:
    from accounts import viewer_state
    from accounts.models import Favorite

    monkeypatch.setattr(viewer_state, "MAX_ITEMS", 2)
    whole_reads: list[dict[str, Any]] = []
    original = Favorite.objects.filter
    monkeypatch.setattr(
        Favorite.objects,
        "filter",
        lambda *a, **named: (
            (named.keys() == {"user_id"} and whole_reads.append(named)) or original(*a, **named)
        ),
    )
    alice = _account(gql, "alice", (155, 550, 27205))
    query = "query M($id: Int!) { movie(id: $id) { id title isFavorite } }"
    answers = [_post(query, {"id": movie_id}, _signed_in(alice)) for movie_id in (155, 19995, 550)]
    assert [json.loads(body)["data"]["movie"]["isFavorite"] for _, _, body in answers] == [True, False, True]
    # Found too long to keep once (as the account's first request); since, read among the movies only.
    assert len(whole_reads) == 1
    gql("mutation { addFavorite(movieId: 19995) { id } }", token=alice).ok()
    assert (
        json.loads(_post(query, {"id": 19995}, _signed_in(alice))[2])["data"]["movie"]["isFavorite"] is True
    )
    assert len(whole_reads) == 2  # a new generation: measured again


def test_redis_not_answering_the_check_before_django_is_not_waited_for_again(
    gql: GraphQL, monkeypatch: pytest.MonkeyPatch, catalog_rows: None, redis_cache: None
) -> None:
    from accounts import user_cache, viewer_state

    alice = _account(gql, "alice", (155,))
    asked: list[list[str]] = []

    class Unanswering:
        async def mget(self, keys: list[str]) -> None:
            asked.append(keys)
            raise TimeoutError("Redis did not answer in time")

    monkeypatch.setattr(user_cache, "_client", Unanswering)
    loads: list[int] = []
    original_load = viewer_state.load
    monkeypatch.setattr(viewer_state, "load", lambda user_id: loads.append(user_id) or original_load(user_id))
    query, variables = MOVIE
    for _ in range(2):
        status, _, body = _post(query, variables, _signed_in(alice))
        assert (status, json.loads(body)["data"]["movie"]["isFavorite"]) == (200, True)
    # Each request waited for Redis once (the check before Django), then asked the database.
    assert len(asked) == 2
    assert loads == []


def test_the_viewers_lists_are_decoded_only_for_an_answer_that_needs_them(
    gql: GraphQL, monkeypatch: pytest.MonkeyPatch, catalog_rows: None, redis_cache: None
) -> None:
    from accounts import viewer_state

    alice = _account(gql, "alice", (155, 550), (155, 4.5))
    decoded: list[int | None] = []
    original = viewer_state.parse
    monkeypatch.setattr(
        viewer_state, "parse", lambda raw, generation: decoded.append(generation) or original(raw, generation)
    )
    # On the event loop, for each signed-in request: a mutation or `me` has no use for them.
    for query in ("{ me { id } }", "mutation { addToWatchlist(movieId: 27205) { id } }"):
        assert _post(query, None, _signed_in(alice))[0] == 200
    assert decoded == []
    status, _, body = _post(*MOVIE, _signed_in(alice))
    assert (status, json.loads(body)["data"]["movie"]["inWatchlist"]) == (200, False)
    assert decoded


@pytest.mark.parametrize("junk", [b"junk", b'{"g": 1}', b"\x80\x04K\x01."])
def test_junk_in_redis_where_the_viewers_generation_or_lists_go_is_answered_from_the_database(
    junk: bytes, gql: GraphQL, monkeypatch: pytest.MonkeyPatch, catalog_rows: None, redis_cache: None
) -> None:
    from django.core.cache import cache
    from django_redis import get_redis_connection

    from accounts import viewer_state
    from accounts.models import User

    alice = _account(gql, "alice", (155,))
    user_id = User.objects.get(username="alice").pk
    query, variables = MOVIE
    built = _count_django_requests(monkeypatch)
    for name in (viewer_state.generation_key(user_id), viewer_state.key(user_id)):
        get_redis_connection("default").set(cache.make_key(name), junk)
        for _ in range(2):
            status, _, body = _post(query, variables, _signed_in(alice))
            assert (status, json.loads(body)["data"]["movie"]["isFavorite"]) == (200, True)
    # Django's answer after each, which replaced it; then the answer before Django again.
    assert len(built) == 2
