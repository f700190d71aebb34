"""Property-based fuzzing of /graphql: operations generated from the served schema (hypothesis-graphql).

Valid operations (every argument and input field drawn at random, NUL bytes
and lone surrogates included, limits and pages at the edges of Int) and
invalid ones (one schema violation each), anonymous and signed in. Every
answer must be a JSON GraphQL response below HTTP 500 whose errors all carry a
contract code, none of them INTERNAL_SERVER_ERROR, with no stack trace or SQL
in the body.

``make test`` runs FUZZ_EXAMPLES (default 25) deterministic examples per
test; ``make fuzz`` runs 2,500 random ones per test (10,000 in all) and prints
the figures the README quotes.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema

from accounts import tokens
from accounts.models import User
from schema.schema import schema

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
# make test: the same examples every run; make fuzz: new ones each run.
DETERMINISTIC = "FUZZ_EXAMPLES" not in os.environ
CODES = {
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "RATE_LIMITED",
    "UPSTREAM_UNAVAILABLE",
    "INTERNAL_SERVER_ERROR",
}
LEAKS = re.compile(
    r"Traceback|File \"|\bSELECT\b.+\bFROM\b|psycopg|django\.db|IntegrityError|\.py\b", re.DOTALL
)
SERVED = schema._schema

_figures: Counter[str] = Counter()
_slowest: list[tuple[float, str]] = [(0.0, "")]


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    """Prints the run's figures once the module is done (make fuzz quotes them)."""
    yield
    slowest = _slowest[0]
    print(
        f"\nfuzz: {_figures['cases']} cases, {_figures['5xx']} HTTP 5xx, "
        f"{_figures['INTERNAL_SERVER_ERROR']} INTERNAL_SERVER_ERROR, {_figures['uncoded']} uncoded, "
        f"{_figures['leaks']} leaking bodies, {_figures['errors']} coded errors, "
        f"{_figures['over_2s']} over 2 s; slowest {slowest[0] * 1000:.0f} ms"
    )
    if slowest[1]:
        print(f"fuzz: slowest operation: {slowest[1][:300]}")


@pytest.fixture(autouse=True)
def _local(local_catalog: None) -> None:
    """The bundled catalog: generated operations never reach TMDb."""


@pytest.fixture
def token(db: None) -> str:
    user, _ = User.objects.get_or_create(username="fuzzer", defaults={"email": "fuzzer@example.com"})
    user.set_password("a-long-passphrase-1")
    user.save()
    return tokens.issue(user).token


def _post(client: Client, query: str, token: str | None) -> None:
    headers = {"Authorization": f"JWT {token}"} if token else {}
    started = time.perf_counter()
    response = client.post(
        "/graphql", data=json.dumps({"query": query}), content_type="application/json", headers=headers
    )
    elapsed = time.perf_counter() - started
    _figures["cases"] += 1
    _figures["over_2s"] += elapsed > 2
    _slowest[0] = max(_slowest[0], (elapsed, query))
    body = response.content.decode("utf-8", "replace")
    _figures["5xx"] += response.status_code >= 500
    assert response.status_code < 500, (response.status_code, query, body[:500])
    assert response["Content-Type"].startswith("application/json"), (query, body[:500])
    _figures["leaks"] += bool(LEAKS.search(body))
    assert not LEAKS.search(body), (query, body[:1000])
    errors = json.loads(body).get("errors") or []
    codes = [(error.get("extensions") or {}).get("code") for error in errors]
    _figures["errors"] += len(codes)
    _figures["uncoded"] += sum(code not in CODES for code in codes)
    _figures["INTERNAL_SERVER_ERROR"] += codes.count("INTERNAL_SERVER_ERROR")
    assert all(code in CODES for code in codes), (query, errors)
    assert "INTERNAL_SERVER_ERROR" not in codes, (query, errors)


# codec=None: any code point, lone surrogates included; NUL bytes allowed too.
OPERATIONS = {mode: from_schema(SERVED, mode=mode, codec=None, allow_x00=True) for mode in Mode}


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
@pytest.mark.parametrize("mode", [Mode.POSITIVE, Mode.NEGATIVE], ids=["valid", "invalid"])
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=DETERMINISTIC,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_generated_operations_get_coded_answers(
    client: Client, token: str, mode: Mode, signed_in: bool, data: st.DataObject
) -> None:
    _post(client, data.draw(OPERATIONS[mode], label="operation"), token if signed_in else None)
