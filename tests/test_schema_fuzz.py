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

import gc
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
# (seconds of wall time, seconds of CPU, operation) of the slowest answer, and every one over 2 s.
_slowest: list[tuple[float, float, str]] = [(0.0, 0.0, "")]
_over_2s: list[tuple[float, float, str]] = []


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    """Prints the run's figures once the module is done (make fuzz quotes them)."""
    yield
    wall, cpu, operation = _slowest[0]
    most_cpu = max((item[1] for item in _over_2s), default=cpu)
    print(
        f"\nfuzz: {_figures['cases']} cases, {_figures['5xx']} HTTP 5xx, "
        f"{_figures['INTERNAL_SERVER_ERROR']} INTERNAL_SERVER_ERROR, {_figures['uncoded']} uncoded, "
        f"{_figures['leaks']} leaking bodies, {_figures['errors']} coded errors; "
        f"{len(_over_2s)} over 2 s of wall time (at most {most_cpu * 1000:.0f} ms of CPU among them); "
        f"slowest {wall * 1000:.0f} ms ({cpu * 1000:.0f} ms CPU)"
    )
    for wall, cpu, operation in sorted(_over_2s, reverse=True)[:20]:
        print(f"fuzz: {wall * 1000:.0f} ms ({cpu * 1000:.0f} ms CPU): {' '.join(operation.split())[:160]}")


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
    # The test client serves the request in this process, one at a time: its wall time is the
    # server's, and the process's CPU time is the request's (the machine may be busy). The
    # fuzzer's own heap (hypothesis keeps what it generated) makes the interpreter's cycle
    # collections slow, up to seconds, landing in whichever request triggers one; they
    # wait until the answer is in, so the time measured is the server's work.
    gc.disable()
    try:
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.post(
            "/graphql", data=json.dumps({"query": query}), content_type="application/json", headers=headers
        )
        timing = (time.perf_counter() - started, time.process_time() - started_cpu, query)
    finally:
        gc.enable()
    _figures["cases"] += 1
    _slowest[0] = max(_slowest[0], timing)
    if timing[0] > 2:
        _over_2s.append(timing)
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
