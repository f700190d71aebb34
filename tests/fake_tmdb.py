"""A fake TMDb v3 HTTP server for tests, serving recorded TMDb bodies.

It is a real HTTP server on 127.0.0.1 (ephemeral port, daemon threads), so the
code under test goes through ``requests``, sockets, timeouts and retries
exactly as in production. Bodies come from ``tests/fixtures/tmdb/`` (copies of
real TMDb responses; see the README there for provenance). Movies, credits and
people that no recording holds are built in the recorded bodies' exact shape
(key order, TMDb's "unknown" values) from the bundled catalog, so any catalog
film (The Dark Knight, 155) and its people can be asked for; no person body
was recorded, so ``/person/{id}`` and ``/search/person`` follow TMDb's
documented shape with the recorded credit items' person fields.

Typical use::

    with FakeTmdb() as server:
        client = TmdbClient(base_url=server.base_url, api_key=server.api_key)
        server.fail_next(2)          # next two requests answer HTTP 500
        server.latency = 0.2         # every response waits 0.2 s
        assert server.count("/movie/550") == 1

or the ``fake_tmdb`` pytest fixture below.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple, Self
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from movies.catalog.importer import Catalog, read_catalog
from movies.records import MovieRecord

FIXTURES_DIR = Path(__file__).parent / "fixtures" / "tmdb"

DEFAULT_API_KEY = "fake-tmdb-api-key-0123456789abcdef"
DEFAULT_READ_ACCESS_TOKEN = "fake-tmdb-read-access-token-eyJhbGciOiJIUzI1NiJ9"

MAX_PAGE = 500
PAGE_SIZE = 20


def _error(code: int, message: str) -> dict[str, Any]:
    return {"status_code": code, "status_message": message, "success": False}


# The fixtures hold no recorded 5xx body; these follow TMDb's official error
# table (https://developer.themoviedb.org/docs/errors).
_SERVER_ERROR_BODIES: dict[int, dict[str, Any]] = {
    500: _error(11, "Internal error: Something went wrong, contact TMDb."),
    502: _error(43, "Couldn't connect to the backend server."),
    503: _error(9, "Service offline: This service is temporarily offline, try again later."),
    504: _error(24, "Your request to the backend server timed out. Try again."),
}

_LIST_FILES: dict[str, str] = {
    "/3/trending/movie/day": "trending_movie_week.json",  # no day recording exists; see fixtures README
    "/3/trending/movie/week": "trending_movie_week.json",
    "/3/movie/popular": "movie_popular.json",
    "/3/movie/top_rated": "movie_top_rated.json",
    "/3/movie/now_playing": "movie_now_playing.json",
    "/3/movie/upcoming": "movie_upcoming.json",
    "/3/discover/movie": "discover_movie.json",
}

_MOVIE_RE = re.compile(r"^/3/movie/(-?\d+)$")
_SIMILAR_RE = re.compile(r"^/3/movie/(-?\d+)/similar$")
_PERSON_RE = re.compile(r"^/3/person/(-?\d+)$")
# Person fields of a recorded credit item, in TMDb's order.
_PERSON_KEYS = (
    "adult",
    "gender",
    "id",
    "known_for_department",
    "name",
    "original_name",
    "popularity",
    "profile_path",
)


@functools.cache
def _bundled() -> Catalog:
    """The bundled catalog, read once per test run (about a second)."""
    return read_catalog()


def _credit_id(*parts: object) -> str:
    """A stable 24-hex-digit id, the shape of TMDb's credit ids."""
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()[:24]


@functools.cache
def _catalog_bundle(fixtures_dir: Path) -> dict[str, Any]:
    """Catalog movies by id, their credits (recorded ones for 550), and every person's credits.

    Built once per test run and shared by every FakeTmdb (it takes a few seconds).
    """
    catalog = read_catalog()
    recorded = json.loads(
        (fixtures_dir / "movie_details_550_append_credits_keywords_release_dates.json").read_text("utf-8")
    )
    movies = {record.id: (record, details) for record, details in catalog.movies}
    credits: dict[int, dict[str, list[dict[str, Any]]]] = {}
    for movie_id, found in catalog.credits.items():
        credits[movie_id] = {
            "cast": [
                {
                    **_person_fields(c.person.id, c.person.name, c.person.known_for_department),
                    "cast_id": c.order,
                    "character": c.character or "",
                    "credit_id": _credit_id(movie_id, c.person.id, "cast", c.order),
                    "order": c.order,
                }
                for c in found.cast
            ],
            "crew": [
                {
                    **_person_fields(c.person.id, c.person.name, c.person.known_for_department),
                    "credit_id": _credit_id(movie_id, c.person.id, c.job),
                    "department": c.department,
                    "job": c.job,
                }
                for c in found.crew
            ],
        }
    credits[550] = recorded["credits"]
    people: dict[int, dict[str, Any]] = {}
    filmography: dict[int, list[tuple[int, dict[str, Any]]]] = {}
    for movie_id, block in credits.items():
        for item in (*block["cast"], *block["crew"]):
            people.setdefault(item["id"], {key: item[key] for key in _PERSON_KEYS})
            filmography.setdefault(item["id"], []).append((movie_id, item))
    return {"movies": movies, "credits": credits, "people": people, "filmography": filmography}


def _person_fields(person_id: int, name: str, department: str | None) -> dict[str, Any]:
    """A credit item's person fields, with TMDb's "unknown" values where the catalog has none."""
    return {
        "adult": False,
        "gender": 0,
        "id": person_id,
        "known_for_department": department or "",
        "name": name,
        "original_name": name,
        "popularity": 0.0,
        "profile_path": None,
    }


_MALFORMED_BODY = b'{"page": 1, "results": [{"id": 550, "title": "Fight'


class RecordedRequest(NamedTuple):
    """One request the server received: path (with ``/3``), query (last value per key), headers."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]


def request_key(request: RecordedRequest) -> str:
    """``path?query`` of ``request``, parameters sorted, without ``api_key``."""
    query = urlencode(sorted((k, v) for k, v in request.query.items() if k != "api_key"))
    return f"{request.path}?{query}" if query else request.path


class _Fault(NamedTuple):
    kind: str  # "status" | "rate_limit" | "malformed"
    status: int = 500
    retry_after: float = 1


class FakeTmdb:
    """A thread-safe fake TMDb v3 server; start with ``start()`` or ``with FakeTmdb() as server``.

    Controls (safe to change at any time, from any thread):

    - ``latency``: seconds added before every response;
    - ``fail_next(n, status=500)``: the next ``n`` requests answer ``status``;
    - ``rate_limit_next(n, retry_after=1)``: the next ``n`` answer 429 + ``Retry-After``;
    - ``malformed_next(n)``: the next ``n`` answer 200 with invalid JSON;
    - ``down``: while True, every connection is closed without a response.

    Faults queue up in call order and apply to any path. Every request is
    recorded first (faulted ones too) in ``requests``; ``count(prefix)`` counts them,
    ``calls_by_key()`` counts them by distinct key.
    """

    def __init__(
        self,
        api_key: str = DEFAULT_API_KEY,
        read_access_token: str = DEFAULT_READ_ACCESS_TOKEN,
        fixtures_dir: Path = FIXTURES_DIR,
    ) -> None:
        self.api_key = api_key
        self.read_access_token = read_access_token
        self._lock = threading.Lock()
        self._latency = 0.0
        self._down = False
        self._faults: deque[_Fault] = deque()
        self._requests: list[RecordedRequest] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._fixtures_dir = fixtures_dir
        self._load_fixtures(fixtures_dir)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        """Bind an ephemeral port on 127.0.0.1 and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        self._bundle  # noqa: B018 - built before serving, so no request waits for it
        handler = type("FakeTmdbHandler", (_Handler,), {"fake": self})
        httpd = _Server(("127.0.0.1", 0), handler)
        self._httpd = httpd
        # A short poll interval keeps stop() (and so each test's teardown) fast.
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-tmdb", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeTmdb is not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/3``, to use as the client's base URL."""
        return f"http://127.0.0.1:{self.port}/3"

    # ------------------------------------------------------------------ controls

    @property
    def latency(self) -> float:
        with self._lock:
            return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        with self._lock:
            self._latency = max(0.0, float(seconds))

    @property
    def down(self) -> bool:
        with self._lock:
            return self._down

    @down.setter
    def down(self, value: bool) -> None:
        with self._lock:
            self._down = bool(value)

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        """The next ``n`` requests answer HTTP ``status`` with a TMDb-style error body."""
        with self._lock:
            self._faults.extend(_Fault("status", status=status) for _ in range(n))

    def rate_limit_next(self, n: int = 1, retry_after: float = 1) -> None:
        """The next ``n`` requests answer 429 with ``error_429.json`` and ``Retry-After``."""
        with self._lock:
            self._faults.extend(_Fault("rate_limit", status=429, retry_after=retry_after) for _ in range(n))

    def malformed_next(self, n: int = 1) -> None:
        """The next ``n`` requests answer 200 with a truncated (invalid) JSON body."""
        with self._lock:
            self._faults.extend(_Fault("malformed", status=200) for _ in range(n))

    def set_movie(self, movie_id: int, body: dict[str, Any] | None) -> None:
        """Serve ``body`` for ``/3/movie/{movie_id}``; None makes the id unknown (404)."""
        with self._lock:
            if body is None:
                self._details.pop(movie_id, None)
                self._unknown.add(movie_id)
            else:
                self._details[movie_id] = copy.deepcopy(body)
                self._unknown.discard(movie_id)

    def reset(self) -> None:
        """Clear faults, latency, ``down`` and the request log."""
        with self._lock:
            self._faults.clear()
            self._latency = 0.0
            self._down = False
            self._requests.clear()
            self._max_in_flight = self._in_flight

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def count(self, path_prefix: str = "/") -> int:
        """Requests whose path starts with ``path_prefix`` (``/movie/550`` and ``/3/movie/550`` both work)."""
        prefix = (
            path_prefix if path_prefix.startswith("/3/") or path_prefix in ("/", "/3") else "/3" + path_prefix
        )
        with self._lock:
            return sum(1 for r in self._requests if r.path.startswith(prefix))

    def calls_by_key(self, since: int = 0) -> Counter[str]:
        """Requests by upstream key (path + sorted query, credentials left out), from the ``since``-th on.

        One key is one thing a cache would store: ``/3/movie/550?language=en-US`` however the
        client ordered its parameters or authenticated.
        """
        with self._lock:
            recorded = self._requests[since:]
        return Counter(request_key(request) for request in recorded)

    @property
    def max_in_flight(self) -> int:
        """The most requests the server has been handling at the same moment."""
        with self._lock:
            return self._max_in_flight

    # ------------------------------------------------------------------ data

    def _load_fixtures(self, fixtures_dir: Path) -> None:
        def load(name: str) -> Any:
            return json.loads((fixtures_dir / name).read_text(encoding="utf-8"))

        self._lists = {path: load(name) for path, name in _LIST_FILES.items()}
        self._search = load("search_movie.json")
        self._genres = load("genre_movie_list.json")
        self._configuration = load("configuration.json")
        self._errors = {
            400: load("error_400_invalid_page.json"),
            401: load("error_401.json"),
            404: load("error_404.json"),
            422: load("error_422_search_without_query.json"),
            429: load("error_429.json"),
        }
        append_550 = load("movie_details_550_append_credits_keywords_release_dates.json")
        self._appended: dict[int, dict[str, Any]] = {
            550: {key: append_550[key] for key in ("keywords", "credits", "release_dates")}
        }
        self._details: dict[int, dict[str, Any]] = {
            550: load("movie_details_550.json"),
            348: load("movie_details_348.json"),
        }
        self._unknown: set[int] = set()
        # Every movie any list fixture mentions, first occurrence wins, for
        # synthesized details and /similar pages.
        self._catalog: dict[int, dict[str, Any]] = {}
        for body in [*self._lists.values(), self._search]:
            for item in body["results"]:
                self._catalog.setdefault(item["id"], item)
        genre_names = {g["id"]: g["name"] for g in self._genres["genres"]}
        self._genre_names = genre_names
        self._person_overrides: dict[int, dict[str, Any]] = {}

    # ------------------------------------------------------------------ bundled catalog

    @property
    def _bundle(self) -> dict[str, Any]:
        return _catalog_bundle(self._fixtures_dir)

    def set_person(self, person_id: int, **fields: Any) -> None:
        """Fields of ``/3/person/{person_id}`` to serve instead of the built ones (biography=...)."""
        with self._lock:
            self._person_overrides[person_id] = dict(fields)

    def _list_item(self, record: MovieRecord) -> dict[str, Any]:
        """A list-endpoint item (movie/popular's keys) for a catalog movie."""
        return {
            "adult": record.adult,
            "backdrop_path": record.backdrop_path,
            "genre_ids": list(record.genre_ids),
            "id": record.id,
            "original_language": record.original_language,
            "original_title": record.original_title,
            "overview": record.overview or "",
            "popularity": record.popularity or 0.0,
            "poster_path": record.poster_path,
            "release_date": record.release_date.isoformat() if record.release_date else "",
            "title": record.title,
            "video": False,
            "vote_average": record.vote_average or 0.0,
            "vote_count": record.vote_count or 0,
        }

    def _catalog_details(self, movie_id: int) -> dict[str, Any] | None:
        found = self._bundle["movies"].get(movie_id)
        if found is None:
            return None
        record, details = found
        body = self._details_from_list_item(self._list_item(record))
        body.update(
            budget=details.budget or 0,
            homepage=details.homepage or "",
            imdb_id=details.imdb_id,
            production_companies=[
                {"id": c.id, "logo_path": c.logo_path, "name": c.name, "origin_country": ""}
                for c in details.production_companies
            ],
            production_countries=[
                {"iso_3166_1": code, "name": code} for code in details.production_countries
            ],
            revenue=details.revenue or 0,
            runtime=details.runtime or 0,
            spoken_languages=[
                {"english_name": code, "iso_639_1": code, "name": code} for code in details.spoken_languages
            ],
            status=details.status or "",
            tagline=details.tagline or "",
        )
        return body

    def _person(self, person_id: int, appended: set[str]) -> dict[str, Any] | None:
        """A /person/{id} body in TMDb's documented key order."""
        person = self._bundle["people"].get(person_id)
        if person is None:
            return None
        body: dict[str, Any] = {
            "adult": person["adult"],
            "also_known_as": [],
            "biography": "",
            "birthday": None,
            "deathday": None,
            "gender": person["gender"],
            "homepage": None,
            "id": person_id,
            "imdb_id": None,
            "known_for_department": person["known_for_department"],
            "name": person["name"],
            "place_of_birth": None,
            "popularity": person["popularity"],
            "profile_path": person["profile_path"],
        }
        with self._lock:
            body.update(copy.deepcopy(self._person_overrides.get(person_id, {})))
        if "movie_credits" in appended:
            cast, crew = [], []
            for movie_id, item in self._bundle["filmography"][person_id]:
                movie = self._catalog.get(movie_id) or self._list_item(self._bundle["movies"][movie_id][0])
                if "order" in item:
                    cast.append(
                        {
                            **movie,
                            "character": item["character"],
                            "credit_id": item["credit_id"],
                            "order": item["order"],
                        }
                    )
                else:
                    crew.append(
                        {
                            **movie,
                            "credit_id": item["credit_id"],
                            "department": item["department"],
                            "job": item["job"],
                        }
                    )
            body["movie_credits"] = {"cast": cast, "crew": crew, "id": person_id}
        return body

    def _search_people(self, text: str, page: int) -> dict[str, Any]:
        """People whose name holds every word of the query (case ignored), by credit count."""
        words = text.lower().split()
        found = [
            person
            for person in self._bundle["people"].values()
            if all(word in person["name"].lower() for word in words)
        ]
        found.sort(key=lambda p: (-len(self._bundle["filmography"][p["id"]]), p["id"]))
        start = (page - 1) * PAGE_SIZE
        return {
            "page": page,
            "results": [{**person, "known_for": []} for person in found[start : start + PAGE_SIZE]],
            "total_pages": math.ceil(len(found) / PAGE_SIZE),
            "total_results": len(found),
        }

    def _discover_with_people(self, people: list[int], page: int) -> dict[str, Any]:
        """/discover/movie with ``with_people``: catalog films with all of them, most popular first."""
        films = [
            {movie_id for movie_id, _ in self._bundle["filmography"].get(person_id, [])}
            for person_id in people
        ]
        ids = set.intersection(*films) if films else set()
        records = sorted(
            (self._bundle["movies"][i][0] for i in ids if i in self._bundle["movies"]),
            key=lambda r: (-(r.popularity or 0.0), r.id),
        )
        start = (page - 1) * PAGE_SIZE
        return {
            "page": page,
            "results": [self._list_item(r) for r in records[start : start + PAGE_SIZE]],
            "total_pages": math.ceil(len(records) / PAGE_SIZE),
            "total_results": len(records),
        }

    def _movie_details(self, movie_id: int) -> dict[str, Any] | None:
        with self._lock:
            if movie_id in self._unknown:
                return None
            if movie_id in self._details:
                return copy.deepcopy(self._details[movie_id])
        # The bundled catalog knows more about its films (budget, credits) than a list entry.
        bundled = self._catalog_details(movie_id)
        if bundled is not None:
            return bundled
        item = self._catalog.get(movie_id)
        return None if item is None else self._details_from_list_item(item)

    def _details_from_list_item(self, item: dict[str, Any]) -> dict[str, Any]:
        """A /movie/{id} body in TMDb's exact key order, built from a list entry.

        Fields a list entry lacks get TMDb's own "unknown" values (0, "", null, []).
        """
        return {
            "adult": item.get("adult", False),
            "backdrop_path": item.get("backdrop_path"),
            "belongs_to_collection": None,
            "budget": 0,
            "genres": [
                {"id": gid, "name": self._genre_names[gid]}
                for gid in item.get("genre_ids", [])
                if gid in self._genre_names
            ],
            "homepage": "",
            "id": item["id"],
            "imdb_id": None,
            "origin_country": [],
            "original_language": item.get("original_language"),
            "original_title": item.get("original_title"),
            "overview": item.get("overview", ""),
            "popularity": item.get("popularity", 0.0),
            "poster_path": item.get("poster_path"),
            "production_companies": [],
            "production_countries": [],
            "release_date": item.get("release_date", ""),
            "revenue": 0,
            "runtime": 0,
            "spoken_languages": [],
            "status": "Released",
            "tagline": "",
            "title": item.get("title"),
            "video": item.get("video", False),
            "vote_average": item.get("vote_average", 0.0),
            "vote_count": item.get("vote_count", 0),
        }

    # ------------------------------------------------------------------ routing

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def _done(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _next_fault(self) -> _Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _authorized(self, query: dict[str, str], headers: dict[str, str]) -> bool:
        if query.get("api_key") == self.api_key:
            return True
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        return auth == f"Bearer {self.read_access_token}"

    def route(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        """(status, JSON body) for an authorized request without faults."""
        page_text = query.get("page", "1")
        try:
            page = int(page_text)
        except ValueError:
            page = 0

        if path == "/3/genre/movie/list":
            return 200, self._genres
        if path == "/3/configuration":
            return 200, self._configuration
        if path in self._lists:
            if not 1 <= page <= MAX_PAGE:
                return 400, self._errors[400]
            if path == "/3/discover/movie" and query.get("with_people"):
                return 200, self._discover_with_people(
                    [int(p) for p in query["with_people"].split(",")], page
                )
            return 200, _with_page(self._lists[path], page)
        if path == "/3/search/person":
            if not query.get("query", "").strip():
                return 422, self._errors[422]
            if not 1 <= page <= MAX_PAGE:
                return 400, self._errors[400]
            return 200, self._search_people(query["query"], page)
        if match := _PERSON_RE.match(path):
            appended = {a.strip() for a in query.get("append_to_response", "").split(",") if a.strip()}
            person = self._person(int(match.group(1)), appended)
            return (200, person) if person is not None else (404, self._errors[404])
        if path == "/3/search/movie":
            if not query.get("query", "").strip():
                return 422, self._errors[422]
            if not 1 <= page <= MAX_PAGE:
                return 400, self._errors[400]
            return 200, _with_page(self._search, page)
        if match := _SIMILAR_RE.match(path):
            movie_id = int(match.group(1))
            details = self._movie_details(movie_id)
            if details is None:
                return 404, self._errors[404]
            if not 1 <= page <= MAX_PAGE:
                return 400, self._errors[400]
            return 200, self._similar_page(details, page)
        if match := _MOVIE_RE.match(path):
            movie_id = int(match.group(1))
            details = self._movie_details(movie_id)
            if details is None:
                return 404, self._errors[404]
            appended = {a.strip() for a in query.get("append_to_response", "").split(",") if a.strip()}
            extra = self._appended.get(movie_id, {})
            for name in sorted(appended):
                if name == "keywords":
                    details["keywords"] = copy.deepcopy(extra.get("keywords", {"keywords": []}))
                elif name == "credits":
                    # Recorded for 550, built from the bundled catalog for the rest.
                    found = self._bundle["credits"].get(movie_id, {"cast": [], "crew": []})
                    details["credits"] = copy.deepcopy(found)
                elif name in extra:
                    details[name] = copy.deepcopy(extra[name])
            return 200, details
        return 404, self._errors[404]

    def _similar_page(self, details: dict[str, Any], page: int) -> dict[str, Any]:
        """Catalog movies sharing a genre with ``details``, 20 per page, best-known first."""
        genres = {g["id"] for g in details.get("genres", [])}
        similar = [
            item
            for movie_id, item in self._catalog.items()
            if movie_id != details["id"] and genres.intersection(item.get("genre_ids", []))
        ]
        start = (page - 1) * PAGE_SIZE
        return {
            "page": page,
            "results": copy.deepcopy(similar[start : start + PAGE_SIZE]),
            "total_pages": math.ceil(len(similar) / PAGE_SIZE),
            "total_results": len(similar),
        }


def _with_page(body: dict[str, Any], page: int) -> dict[str, Any]:
    """Page 1 is the recording; later pages reuse its results (empty past ``total_pages``)."""
    if page == 1:
        return body
    result = dict(body)
    result["page"] = page
    result["results"] = body["results"] if page <= body.get("total_pages", 1) else []
    return result


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # do not wait for a handler sleeping on ``latency`` at shutdown

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out close their socket while a handler sleeps; the
        # resulting broken pipes are expected, not worth a traceback on stderr.
        pass


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTmdb
    protocol_version = "HTTP/1.1"  # keep-alive, as TMDb's CDN does, so client pooling is exercised
    server_version = "openresty"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep pytest output clean

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(split.query, keep_blank_values=True).items()}
        headers = dict(self.headers.items())
        fake = self.fake
        fake._record(RecordedRequest(split.path, query, headers))
        try:
            if fake.down:
                self.close_connection = True
                return
            if (latency := fake.latency) > 0:
                time.sleep(latency)
            fault = fake._next_fault()
            if fault is not None:
                self._send_fault(fault)
                return
            if not fake._authorized(query, headers):
                self._send_json(401, fake._errors[401])
                return
            status, body = fake.route(split.path, query)
            self._send_json(status, body)
        finally:
            fake._done()

    def _send_fault(self, fault: _Fault) -> None:
        if fault.kind == "malformed":
            self._send_bytes(200, _MALFORMED_BODY)
        elif fault.kind == "rate_limit":
            self._send_json(429, self.fake._errors[429], {"Retry-After": f"{fault.retry_after:g}"})
        else:
            body = _SERVER_ERROR_BODIES.get(fault.status) or self.fake._errors.get(fault.status)
            self._send_json(fault.status, body or _SERVER_ERROR_BODIES[500])

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(body, ensure_ascii=False).encode("utf-8"), headers)

    def _send_bytes(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def fake_tmdb() -> Iterator[FakeTmdb]:
    """A started ``FakeTmdb``, stopped after the test."""
    with FakeTmdb() as server:
        yield server
