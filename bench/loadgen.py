"""A small asyncio HTTP/1.1 load generator: keep-alive connections, bounded runs, latency percentiles.

Pure standard library (``asyncio.open_connection``), so the benchmark adds no
dependency. It speaks just enough HTTP/1.1 for a JSON API: requests with a
body, responses framed by ``Content-Length`` or ``Transfer-Encoding: chunked``,
``Connection: close`` honoured by reconnecting.

A run opens ``concurrency`` connections; each loops "claim the next request
number, send, read the whole response" until ``max_requests`` have been issued
or ``max_seconds`` have passed, whichever comes first (requests already in
flight at the deadline are completed and counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import resource
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

DETAIL_BYTES = 300

# A request is (path, JSON body); the generator builds the bytes.
RequestFactory = Callable[[int], tuple[str, bytes]]


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """The nearest-rank percentile of an ascending sequence (``nan`` when empty).

    The smallest value with at least ``pct`` percent of the values at or below it:
    for 1..100, p50 is 50, p95 is 95, p99 is 99 and p100 is 100.
    """
    if not sorted_values:
        return math.nan
    if not 0 < pct <= 100:
        raise ValueError("pct must be in (0, 100]")
    rank = math.ceil(pct / 100 * len(sorted_values))
    return sorted_values[max(rank, 1) - 1]


def has_graphql_errors(body: bytes) -> bool:
    """Whether a GraphQL JSON response carries a non-empty top-level ``errors`` list."""
    if b'"errors"' not in body:  # cheap pre-check: most bodies are parsed no further
        return False
    try:
        payload = json.loads(body)
    except ValueError:
        return True  # a 200 that is not JSON is an error for a GraphQL client
    return isinstance(payload, dict) and bool(payload.get("errors"))


@dataclass
class Sample:
    """One completed (or failed) request."""

    index: int  # issue order, 0-based
    started: float  # seconds since the run started
    latency: float  # seconds
    status: int  # HTTP status; 0 for a transport error
    graphql_error: bool = False
    detail: str = ""  # for a failure: the start of the body, or the exception


@dataclass
class LoadResult:
    """Every sample of one run, and the figures derived from them."""

    samples: list[Sample] = field(default_factory=list)
    duration: float = 0.0  # seconds from the first request to the last response
    concurrency: int = 0
    client_cpu: float = 0.0  # CPU seconds this process spent during the run (the load generator's cost)

    @property
    def requests(self) -> int:
        return len(self.samples)

    @property
    def statuses(self) -> Counter[int]:
        """Responses by HTTP status (0 counts transport errors)."""
        return Counter(sample.status for sample in self.samples)

    @property
    def http_errors(self) -> int:
        """Responses other than 200, transport errors included."""
        return sum(1 for sample in self.samples if sample.status != 200)

    @property
    def graphql_errors(self) -> int:
        """HTTP 200 responses whose body holds GraphQL errors."""
        return sum(1 for sample in self.samples if sample.status == 200 and sample.graphql_error)

    @property
    def errors(self) -> int:
        """Every failed request: non-200, transport error, or a GraphQL error in a 200."""
        return self.http_errors + self.graphql_errors

    @property
    def throughput(self) -> float:
        """Completed requests per second over the run."""
        return self.requests / self.duration if self.duration > 0 else 0.0

    def latency_ms(self, pct: float) -> float:
        """The ``pct`` percentile latency in milliseconds, over every request (failed ones too)."""
        return percentile(sorted(sample.latency for sample in self.samples), pct) * 1000

    def failures(self, limit: int = 3) -> Counter[str]:
        """The most frequent failure details (status and start of the body), most common first."""
        details = Counter(
            f"{s.status}: {s.detail}" for s in self.samples if s.status != 200 or s.graphql_error
        )
        return Counter(dict(details.most_common(limit)))

    def merged(self, other: LoadResult) -> LoadResult:
        """This run followed by ``other`` (indices and start times shifted to follow on)."""
        offset = len(self.samples)
        shifted = [
            Sample(
                s.index + offset, s.started + self.duration, s.latency, s.status, s.graphql_error, s.detail
            )
            for s in other.samples
        ]
        return LoadResult(
            self.samples + shifted,
            self.duration + other.duration,
            self.concurrency,
            self.client_cpu + other.client_cpu,
        )

    def first(self, n: int) -> LoadResult:
        """The first ``n`` requests by issue order, as a result of their own.

        Its duration runs from the run's start to the last of them finishing.
        """
        chosen = sorted(self.samples, key=lambda sample: sample.index)[:n]
        end = max((sample.started + sample.latency for sample in chosen), default=0.0)
        return LoadResult(samples=chosen, duration=end, concurrency=self.concurrency)


class HttpConnection:
    """One keep-alive HTTP/1.1 connection (reconnects lazily after a close)."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        """Open the socket now (a run opens every connection before the first request)."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        """Close the socket, ignoring errors from a peer that already went away."""
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def build(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> bytes:
        """The request's bytes."""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nUser-Agent: moviegraph-bench\r\n"
        )
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        if body or method in ("POST", "PUT", "PATCH"):
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        return head.encode("latin-1") + b"\r\n" + body

    async def send(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send prepared request bytes; (status, lower-cased headers, body)."""
        await self.connect()
        try:
            async with asyncio.timeout(self.timeout):
                return await self._exchange(raw)
        except BaseException:
            await self.close()
            raise

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """Send one request; (status, lower-cased headers, body)."""
        return await self.send(self.build(method, path, body, headers=headers))

    async def _exchange(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        reader, writer = self._reader, self._writer
        assert reader is not None
        assert writer is not None
        writer.write(raw)
        await writer.drain()
        status_line = await reader.readuntil(b"\r\n")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ConnectionError(f"bad status line {status_line!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        while True:
            line = await reader.readuntil(b"\r\n")
            if line == b"\r\n":
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunked(reader)
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:  # framed by the close
            body = await reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close" or parts[0] == b"HTTP/1.0":
            await self.close()
        return status, headers, body

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        chunks: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                # Trailers, then the blank line.
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_load(
    host: str,
    port: int,
    factory: RequestFactory,
    *,
    concurrency: int = 100,
    max_requests: int = 5000,
    max_seconds: float = 20.0,
    timeout: float = 30.0,
    headers: Mapping[str, str] | None = None,
) -> LoadResult:
    """Drive ``factory``'s POST requests over ``concurrency`` keep-alive connections.

    ``factory(i)`` gives the i-th request's (path, body); it is called in issue order.
    Stops issuing at ``max_requests`` or after ``max_seconds``. Every request is a
    sample: transport errors (status 0) and timeouts count as failures, and their
    connection is reopened for the next request.
    """
    connections = [HttpConnection(host, port, timeout) for _ in range(concurrency)]
    # Open every connection first, so a fast worker cannot serve them all one by one.
    await asyncio.gather(*(connection.connect() for connection in connections))
    result = LoadResult(concurrency=concurrency)
    issued = 0
    cpu_before = _cpu_seconds()
    start = time.perf_counter()
    deadline = start + max_seconds

    async def worker(connection: HttpConnection) -> None:
        nonlocal issued
        while issued < max_requests and time.perf_counter() < deadline:
            index = issued
            issued += 1
            path, body = factory(index)
            raw = connection.build("POST", path, body, headers=headers)
            sent = time.perf_counter()
            detail = ""
            try:
                status, _, payload = await connection.send(raw)
                graphql_error = status == 200 and has_graphql_errors(payload)
                if status != 200 or graphql_error:
                    detail = payload[:DETAIL_BYTES].decode("utf-8", errors="replace")
            except (
                OSError,
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                TimeoutError,
                ValueError,
            ) as error:
                status, graphql_error, detail = 0, False, repr(error)
            done = time.perf_counter()
            result.samples.append(Sample(index, sent - start, done - sent, status, graphql_error, detail))

    try:
        await asyncio.gather(*(worker(connection) for connection in connections))
    finally:
        result.duration = time.perf_counter() - start
        result.client_cpu = _cpu_seconds() - cpu_before
        await asyncio.gather(*(connection.close() for connection in connections))
    return result


async def fetch(
    host: str,
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    timeout: float = 10.0,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, bytes]:
    """One request on a fresh connection (health checks, /metrics, set-up); (status, body)."""
    connection = HttpConnection(host, port, timeout)
    try:
        status, _, payload = await connection.request(method, path, body, headers)
    finally:
        await connection.close()
    return status, payload
