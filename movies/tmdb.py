"""The only module that talks HTTP to TMDb (The Movie Database, API v3).

``TmdbClient`` turns TMDb JSON bodies into the plain records of
``movies.records`` and every failure into ``UpstreamUnavailable``, so callers
can fall back to cached or local data without knowing anything about HTTP.

Secrets: the API key travels in the query string (TMDb v3 has no other place
for it), so nothing here ever puts a URL, a ``requests`` exception text or an
upstream body into a message or log line without redacting the secrets first.
Prefer the v4 read access token (sent as a header) where possible.

This product uses the TMDB API but is not endorsed or certified by TMDB.
"""

from __future__ import annotations

import contextvars
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Self

import requests
from requests.adapters import HTTPAdapter

from backend.errors import UpstreamUnavailable
from movies.records import (
    MAX_CAST_CREDITS,
    MAX_CREW_CREDITS,
    MAX_PAGE,
    CastCreditRecord,
    CompanyRecord,
    CrewCreditRecord,
    DiscoverQuery,
    DiscoverSortKey,
    GenreRecord,
    ListKind,
    MovieCredits,
    MovieDetails,
    MovieRecord,
    PageRecord,
    PersonCastRecord,
    PersonCredits,
    PersonCrewRecord,
    PersonDetails,
    PersonPageRecord,
    PersonRecord,
    newest_first,
)

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.themoviedb.org/3"

RequestHook = Callable[[str, int, float], None]
"""``on_request(path_template, http_status, seconds)``; status 0 means no response."""

# (path, whether TMDb accepts ``region`` there). Trending has no region filter.
_LIST_ENDPOINTS: dict[ListKind, tuple[str, bool]] = {
    "trending_day": ("/trending/movie/day", False),
    "trending_week": ("/trending/movie/week", False),
    "popular": ("/movie/popular", True),
    "top_rated": ("/movie/top_rated", True),
    "now_playing": ("/movie/now_playing", True),
    "upcoming": ("/movie/upcoming", True),
}

# Values from TMDb's documented ``sort_by`` list for /discover/movie.
# ``title.asc`` (not ``original_title.asc``) so the order matches the localized
# title we display.
_DISCOVER_SORT: dict[DiscoverSortKey, str] = {
    "popularity_desc": "popularity.desc",
    "vote_average_desc": "vote_average.desc",
    "release_date_desc": "primary_release_date.desc",
    "revenue_desc": "revenue.desc",
    "title_asc": "title.asc",
}

_MOVIE_PATH = "/movie/{movie_id}"
_SIMILAR_PATH = "/movie/{movie_id}/similar"
_PERSON_PATH = "/person/{person_id}"

FullMovie = tuple[MovieRecord, MovieDetails, MovieCredits]
FullPerson = tuple[PersonRecord, PersonDetails, PersonCredits]


class TmdbPartialFailure(UpstreamUnavailable):
    """``movies_many`` (or ``people_many``) got some items but not all: some fetches failed.

    It is an ``UpstreamUnavailable``, so callers that only care about "TMDb is
    unhealthy, serve stale copies" need nothing special; callers that can use
    the partial answer find it in ``results`` (and the ids in ``failed_ids``).
    """

    def __init__(self, results: dict[int, Any], failed_ids: list[int]) -> None:
        super().__init__(f"TMDb failed for {len(failed_ids)} of {len(results) + len(failed_ids)} items")
        self.results = results
        self.failed_ids = failed_ids


class _RedactApiKeyFilter(logging.Filter):
    """Blank ``api_key=...`` in urllib3's DEBUG lines, which log the full request URL."""

    _pattern = re.compile(r"(api_key=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "api_key=" in message:
            record.msg = self._pattern.sub(r"\1***", message)
            record.args = ()
        return True


_urllib3_logger = logging.getLogger("urllib3.connectionpool")
if not any(isinstance(f, _RedactApiKeyFilter) for f in _urllib3_logger.filters):
    _urllib3_logger.addFilter(_RedactApiKeyFilter())


class TmdbClient:
    """A thread-safe TMDb v3 client returning ``movies.records`` records.

    One pooled ``requests.Session`` is shared by all threads; ``movies_many``
    fans out over one bounded thread pool per client, so ``max_workers`` also
    bounds how many requests this client sends to TMDb at once from there.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        read_access_token: str | None = None,
        language: str = "en-US",
        region: str | None = None,
        connect_timeout: float = 3.05,
        read_timeout: float = 10,
        max_retries: int = 3,
        backoff: float = 0.25,
        max_workers: int = 8,
        *,
        max_retry_wait: float = 5.0,
        on_request: RequestHook | None = None,
        language_of: Callable[[], str | None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # Empty strings come from unset environment variables: treat as absent.
        self._api_key = api_key or None
        self._read_access_token = read_access_token or None
        self.language = language
        self.region = region or None
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self.max_retries = max(0, int(max_retries))
        self.backoff = max(0.0, float(backoff))
        self.max_workers = max(1, int(max_workers))
        self.max_retry_wait = max(0.0, float(max_retry_wait))
        self.on_request = on_request
        # The current request's language, when callers serve several (else ``language``).
        self.language_of = language_of
        self._sleep: Callable[[float], None] = time.sleep
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

        self._session = requests.Session()
        # Retries are done by hand (see _get), so the adapter must not retry:
        # we want Retry-After capping, logging and the on_request hook per attempt.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(10, self.max_workers), max_retries=0)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers.update({"Accept": "application/json", "User-Agent": "movie-graph/0.1"})
        if self._read_access_token:
            self._session.headers["Authorization"] = f"Bearer {self._read_access_token}"

    @classmethod
    def from_settings(cls, **overrides: Any) -> Self:
        """Build a client from ``django.conf.settings.TMDB_*``; missing settings use the defaults.

        ``TMDB_TIMEOUT`` is either the read timeout in seconds or a
        ``(connect, read)`` pair. Keyword ``overrides`` win over settings
        (e.g. ``on_request=...``).
        """
        from django.conf import settings

        timeout = getattr(settings, "TMDB_TIMEOUT", None)
        connect_timeout, read_timeout = 3.05, 10.0
        if isinstance(timeout, (tuple, list)) and len(timeout) == 2:
            connect_timeout, read_timeout = float(timeout[0]), float(timeout[1])
        elif isinstance(timeout, (int, float)) and timeout > 0:
            read_timeout = float(timeout)
        kwargs: dict[str, Any] = {
            "base_url": getattr(settings, "TMDB_BASE_URL", None) or DEFAULT_BASE_URL,
            "api_key": getattr(settings, "TMDB_API_KEY", None),
            "read_access_token": getattr(settings, "TMDB_READ_ACCESS_TOKEN", None),
            "language": getattr(settings, "TMDB_LANGUAGE", None) or "en-US",
            "region": getattr(settings, "TMDB_REGION", None),
            "connect_timeout": connect_timeout,
            "read_timeout": read_timeout,
            "max_retries": getattr(settings, "TMDB_MAX_RETRIES", 3),
            "max_workers": getattr(settings, "TMDB_MAX_WORKERS", 8),
        }
        kwargs.update(overrides)
        return cls(**kwargs)

    def current_language(self) -> str:
        """The language sent upstream now: the caller's (``language_of``), else the client's."""
        return (self.language_of() if self.language_of else None) or self.language

    @property
    def configured(self) -> bool:
        """True when an API key or a read access token is set."""
        return bool(self._api_key or self._read_access_token)

    def close(self) -> None:
        """Release the connection pool and the worker threads."""
        with self._executor_lock:
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        # Never show credentials, only whether they are set.
        return f"TmdbClient(base_url={self.base_url!r}, configured={self.configured})"

    # ------------------------------------------------------------------ endpoints

    def genres(self) -> list[GenreRecord]:
        """All movie genres (``/genre/movie/list``) in the client's language."""
        body = self._get("/genre/movie/list", {"language": self.current_language()})
        raw = body.get("genres")
        if not isinstance(raw, list):
            raise UpstreamUnavailable("TMDb /genre/movie/list returned an unexpected shape")
        genres: list[GenreRecord] = []
        for item in raw:
            if not isinstance(item, dict):
                continue
            genre_id, name = _int(item.get("id")), _str(item.get("name"))
            if genre_id is not None and name is not None:
                genres.append(GenreRecord(id=genre_id, name=name))
        return genres

    def movie_list(self, kind: ListKind, page: int = 1) -> PageRecord:
        """One page of a curated list: trending (day/week), popular, top rated, now playing, upcoming.

        ``page`` must be within 1..MAX_PAGE (TMDb rejects anything else), else ValueError.
        """
        try:
            path, has_region = _LIST_ENDPOINTS[kind]
        except KeyError:
            raise ValueError(f"unknown movie list kind: {kind!r}") from None
        params = {"language": self.current_language(), "page": _check_page(page)}
        if has_region and self.region:
            params["region"] = self.region
        return _page(self._get(path, params), page, path)

    def movie(self, movie_id: int) -> FullMovie | None:
        """One movie with its details, keywords and credits (one call), or None if TMDb does not know it."""
        movie_id = int(movie_id)
        if movie_id <= 0:
            # TMDb answers 404 for these anyway; skip the round trip.
            return None
        body = self._request(
            _MOVIE_PATH,
            {"language": self.current_language(), "append_to_response": "credits,keywords"},
            path_args={"movie_id": movie_id},
            allow_404=True,
        )
        if body is None:
            return None
        record, details = _movie_with_details(body)
        return record, details, _movie_credits(body.get("credits"))

    def movies_many(self, ids: Iterable[int]) -> dict[int, FullMovie]:
        """Fetch several movies concurrently (bounded by ``max_workers``); unknown ids are absent.

        Waits for every fetch. If any failed for a reason other than 404 it
        raises ``TmdbPartialFailure`` (an ``UpstreamUnavailable``) carrying
        the movies that did arrive, so callers can serve stale copies for the
        rest, or for all of them.
        """
        return self._fetch_many(self.movie, ids)

    def person(self, person_id: int) -> FullPerson | None:
        """One person with details and movie credits (one call), or None if TMDb does not know them."""
        person_id = int(person_id)
        if person_id <= 0:
            return None
        body = self._request(
            _PERSON_PATH,
            {"language": self.current_language(), "append_to_response": "movie_credits"},
            path_args={"person_id": person_id},
            allow_404=True,
        )
        if body is None:
            return None
        record = _person_record(body)
        if record is None:
            raise UpstreamUnavailable("TMDb /person/{person_id} returned a body without an id")
        details = PersonDetails(
            biography=_str(body.get("biography")),
            birthday=_date(body.get("birthday")),
            place_of_birth=_str(body.get("place_of_birth")),
        )
        return record, details, _person_credits(body.get("movie_credits"))

    def people_many(self, ids: Iterable[int]) -> dict[int, FullPerson]:
        """Fetch several people concurrently, as ``movies_many`` does movies."""
        return self._fetch_many(self.person, ids)

    def search_people(self, query: str, page: int = 1) -> PersonPageRecord:
        """Search people by name (``/search/person``, adult profiles excluded)."""
        _check_page(page)
        query = query.strip()
        if not query:
            return PersonPageRecord(page=page, total_pages=0, total_results=0)
        params = {"query": query, "include_adult": "false", "language": self.current_language(), "page": page}
        body = self._get("/search/person", params)
        raw = body.get("results")
        if not isinstance(raw, list):
            raise UpstreamUnavailable("TMDb /search/person returned an unexpected shape")
        results = tuple(p for p in (_person_record(i) for i in raw if isinstance(i, dict)) if p is not None)
        total_pages = _int(body.get("total_pages"))
        return PersonPageRecord(
            page=_int(body.get("page")) or page,
            total_pages=max(0, min(total_pages if total_pages is not None else 0, MAX_PAGE)),
            total_results=max(0, _int(body.get("total_results")) or len(results)),
            results=results,
        )

    def _fetch_many(self, fetch_one: Callable[[int], Any], ids: Iterable[int]) -> dict[int, Any]:
        unique = list(dict.fromkeys(int(item_id) for item_id in ids))
        if not unique:
            return {}
        pool = self._pool()
        # Each fetch runs in a copy of the caller's context, so it sends the caller's language.
        futures = {
            pool.submit(contextvars.copy_context().run, fetch_one, item_id): item_id for item_id in unique
        }
        found: dict[int, Any] = {}
        failed: list[int] = []
        for future in as_completed(futures):
            item_id = futures[future]
            try:
                result = future.result()
            except UpstreamUnavailable:
                failed.append(item_id)
                continue
            if result is not None:
                found[item_id] = result
        if failed:
            raise TmdbPartialFailure(found, sorted(failed))
        return found

    def search(self, query: str, year: int | None = None, page: int = 1) -> PageRecord:
        """Search movies by title (``/search/movie``, adult titles excluded).

        ``year`` filters on the primary release year, the year ``MovieRecord.year``
        shows. A blank query returns an empty page without calling TMDb
        (TMDb would answer 422).
        """
        _check_page(page)
        query = query.strip()
        if not query:
            return PageRecord(page=page, total_pages=0, total_results=0)
        params: dict[str, Any] = {
            "query": query,
            "include_adult": "false",
            "language": self.current_language(),
            "page": page,
        }
        if year is not None:
            params["primary_release_year"] = int(year)
        if self.region:
            params["region"] = self.region
        return _page(self._get("/search/movie", params), page, "/search/movie")

    def discover(self, q: DiscoverQuery, page: int = 1) -> PageRecord:
        """Filter and sort the whole catalog (``/discover/movie``); genre ids are ANDed."""
        params: dict[str, Any] = {
            "language": self.current_language(),
            "page": _check_page(page),
            "sort_by": _DISCOVER_SORT[q.sort],
            "include_adult": "true" if q.include_adult else "false",
            "include_video": "false",
        }
        if q.genre_ids:
            params["with_genres"] = ",".join(str(g) for g in q.genre_ids)  # comma means AND
        if q.exclude_genre_ids:
            params["without_genres"] = ",".join(str(g) for g in q.exclude_genre_ids)
        if q.year_from is not None:
            params["primary_release_date.gte"] = f"{int(q.year_from):04d}-01-01"
        if q.year_to is not None:
            params["primary_release_date.lte"] = f"{int(q.year_to):04d}-12-31"
        if q.min_vote_average is not None:
            params["vote_average.gte"] = q.min_vote_average
        if q.min_vote_count is not None:
            params["vote_count.gte"] = q.min_vote_count
        if q.language:
            params["with_original_language"] = q.language
        if q.people_ids:
            params["with_people"] = ",".join(str(p) for p in q.people_ids)  # comma means AND
        if self.region:
            params["region"] = self.region
        return _page(self._get("/discover/movie", params), page, "/discover/movie")

    def similar(self, movie_id: int, page: int = 1) -> PageRecord:
        """Movies TMDb considers similar to ``movie_id``; an empty page if the id is unknown."""
        movie_id = int(movie_id)
        _check_page(page)
        if movie_id <= 0:
            return PageRecord(page=page, total_pages=0, total_results=0)
        body = self._request(
            _SIMILAR_PATH,
            {"language": self.current_language(), "page": page},
            path_args={"movie_id": movie_id},
            allow_404=True,
        )
        if body is None:
            return PageRecord(page=page, total_pages=0, total_results=0)
        return _page(body, page, _SIMILAR_PATH)

    # ------------------------------------------------------------------ transport

    def _pool(self) -> ThreadPoolExecutor:
        # Created lazily so a client built before a (gunicorn) fork has no threads to lose.
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="tmdb")
            return self._executor

    def _get(self, template: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """GET a path that must exist; any 404 is a failure."""
        body = self._request(template, params)
        if body is None:  # pragma: no cover - _request only returns None with allow_404
            raise UpstreamUnavailable(f"TMDb {template} answered HTTP 404")
        return body

    def _request(
        self,
        template: str,
        params: Mapping[str, Any],
        *,
        path_args: Mapping[str, Any] | None = None,
        allow_404: bool = False,
    ) -> dict[str, Any] | None:
        """GET ``template`` with retries; the decoded JSON object, or None for an allowed 404.

        Only ``template`` (e.g. ``/movie/{movie_id}``) ever appears in messages,
        never the URL, whose query string may carry the API key.
        """
        if not self.configured:
            raise UpstreamUnavailable("TMDb credentials are not configured")
        url = self.base_url + (template.format(**path_args) if path_args else template)
        query = dict(params)
        if not self._read_access_token and self._api_key:
            query["api_key"] = self._api_key
        attempts = self.max_retries + 1

        for attempt in range(1, attempts + 1):
            started = time.monotonic()
            try:
                response = self._session.get(
                    url, params=query, timeout=(self.connect_timeout, self.read_timeout)
                )
            except requests.exceptions.ReadTimeout:
                # Not retried: a slow TMDb rarely gets faster within seconds, and
                # retrying would multiply the time the caller hangs.
                self._notify(template, 0, time.monotonic() - started)
                logger.warning("TMDb %s timed out after %.1fs", template, self.read_timeout)
                raise UpstreamUnavailable(f"TMDb {template} timed out after {self.read_timeout:g}s") from None
            except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                # ConnectTimeout is a ConnectionError too. The exception text holds
                # the URL, so only its class name is reported.
                self._notify(template, 0, time.monotonic() - started)
                reason = type(exc).__name__
                if attempt < attempts:
                    self._wait(template, reason, attempt, self._backoff_delay(attempt))
                    continue
                logger.warning("TMDb %s failed: %s after %d attempts", template, reason, attempts)
                raise UpstreamUnavailable(
                    f"TMDb {template} unreachable ({reason}) after {attempts} attempts"
                ) from None
            except requests.exceptions.RequestException as exc:
                self._notify(template, 0, time.monotonic() - started)
                raise UpstreamUnavailable(f"TMDb {template} request failed ({type(exc).__name__})") from None

            status = response.status_code
            self._notify(template, status, time.monotonic() - started)
            if 200 <= status < 300:
                return self._decode(template, response)
            if status == 404 and allow_404:
                return None
            if status == 401:
                logger.error("TMDb rejected the API key (HTTP 401 on %s)", template)
                raise UpstreamUnavailable("TMDb rejected the API key (HTTP 401)")
            if status == 429 or status >= 500:
                if attempt < attempts:
                    self._wait(template, f"HTTP {status}", attempt, self._retry_delay(attempt, response))
                    continue
                logger.warning("TMDb %s answered HTTP %d after %d attempts", template, status, attempts)
                raise UpstreamUnavailable(f"TMDb {template} answered HTTP {status} after {attempts} attempts")
            # Other 4xx: our request is wrong; repeating it cannot help.
            detail = self._error_detail(response)
            logger.warning("TMDb %s answered HTTP %d%s", template, status, detail)
            raise UpstreamUnavailable(f"TMDb {template} answered HTTP {status}{detail}")
        raise AssertionError("unreachable")  # pragma: no cover

    def _decode(self, template: str, response: requests.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            logger.warning("TMDb %s returned malformed JSON", template)
            raise UpstreamUnavailable(f"TMDb {template} returned malformed JSON") from None
        if not isinstance(body, dict):
            raise UpstreamUnavailable(f"TMDb {template} returned an unexpected shape")
        return body

    def _error_detail(self, response: requests.Response) -> str:
        """TMDb's own ``status_message`` (or validation ``errors``), redacted and shortened."""
        try:
            body = response.json()
        except ValueError:
            return ""
        if not isinstance(body, dict):
            return ""
        message = body.get("status_message")
        if not isinstance(message, str):
            errors = body.get("errors")
            message = "; ".join(str(e) for e in errors) if isinstance(errors, list) else None
        return f": {self._redact(message)[:200]}" if message else ""

    def _redact(self, text: str) -> str:
        for secret in (self._api_key, self._read_access_token):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _backoff_delay(self, attempt: int) -> float:
        return min(self.backoff * 2 ** (attempt - 1), self.max_retry_wait)

    def _retry_delay(self, attempt: int, response: requests.Response) -> float:
        retry_after = _parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is None:
            return self._backoff_delay(attempt)
        # Capped so one request never hangs a worker for as long as TMDb asks.
        return min(retry_after, self.max_retry_wait)

    def _wait(self, template: str, reason: str, attempt: int, delay: float) -> None:
        logger.warning(
            "TMDb %s: %s, retry %d/%d in %.2fs", template, reason, attempt, self.max_retries, delay
        )
        if delay > 0:
            self._sleep(delay)

    def _notify(self, template: str, status: int, seconds: float) -> None:
        if self.on_request is None:
            return
        try:
            self.on_request(template, status, seconds)
        except Exception:
            # Metrics must never break a request.
            logger.exception("TMDb on_request hook failed")


# ---------------------------------------------------------------------- parsing


def _check_page(page: int) -> int:
    if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= MAX_PAGE:
        raise ValueError(f"page must be an integer from 1 to {MAX_PAGE}, got {page!r}")
    return page


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date), None if absent/bad."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(0.0, seconds)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value)
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def _str(value: Any) -> str | None:
    """A non-empty string or None: TMDb uses "" and null interchangeably for "unknown"."""
    return value if isinstance(value, str) and value != "" else None


def _positive_int(value: Any) -> int | None:
    """TMDb reports unknown runtime/budget/revenue as 0; treat that as unknown."""
    number = _int(value)
    return number if number is not None and number > 0 else None


def _date(value: Any) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _movie_record(item: Mapping[str, Any], genre_ids: tuple[int, ...] | None = None) -> MovieRecord | None:
    """A MovieRecord from a list item or a details body; None if it has no usable id."""
    movie_id = _int(item.get("id"))
    if movie_id is None:
        return None
    if genre_ids is None:
        raw_ids = item.get("genre_ids")
        genre_ids = tuple(g for g in map(_int, raw_ids) if g is not None) if isinstance(raw_ids, list) else ()
    return MovieRecord(
        id=movie_id,
        title=_str(item.get("title")) or _str(item.get("original_title")) or "",
        original_title=_str(item.get("original_title")),
        original_language=_str(item.get("original_language")),
        overview=_str(item.get("overview")),
        release_date=_date(item.get("release_date")),
        vote_average=_float(item.get("vote_average")),
        vote_count=_int(item.get("vote_count")),
        popularity=_float(item.get("popularity")),
        adult=item.get("adult") is True,
        poster_path=_str(item.get("poster_path")),
        backdrop_path=_str(item.get("backdrop_path")),
        genre_ids=genre_ids,
    )


def _movie_with_details(body: Mapping[str, Any]) -> tuple[MovieRecord, MovieDetails]:
    # Details carry genres as [{id, name}] rather than list endpoints' genre_ids.
    raw_genres = body.get("genres")
    genre_ids = (
        tuple(
            g
            for g in (_int(item.get("id")) for item in raw_genres if isinstance(item, dict))
            if g is not None
        )
        if isinstance(raw_genres, list)
        else ()
    )
    record = _movie_record(body, genre_ids)
    if record is None:
        raise UpstreamUnavailable("TMDb /movie/{movie_id} returned a body without an id")
    # append_to_response=keywords nests them: {"keywords": {"keywords": [{id, name}]}}.
    keywords_block = body.get("keywords")
    raw_keywords = keywords_block.get("keywords") if isinstance(keywords_block, dict) else None
    keywords = (
        tuple(name for name in (_str(k.get("name")) for k in raw_keywords if isinstance(k, dict)) if name)
        if isinstance(raw_keywords, list)
        else ()
    )
    details = MovieDetails(
        tagline=_str(body.get("tagline")),
        runtime=_positive_int(body.get("runtime")),
        status=_str(body.get("status")),
        imdb_id=_str(body.get("imdb_id")),
        homepage=_str(body.get("homepage")),
        budget=_positive_int(body.get("budget")),
        revenue=_positive_int(body.get("revenue")),
        keywords=keywords,
        production_companies=tuple(
            CompanyRecord(id=company_id, name=name, logo_path=_str(item.get("logo_path")))
            for item in _objects(body.get("production_companies"))
            if (company_id := _int(item.get("id"))) is not None and (name := _str(item.get("name")))
        ),
        production_countries=_codes(body.get("production_countries"), "iso_3166_1"),
        spoken_languages=_codes(body.get("spoken_languages"), "iso_639_1"),
    )
    return record, details


def _objects(value: Any) -> list[Mapping[str, Any]]:
    """The dict items of a JSON array (anything else: none)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _codes(value: Any, key: str) -> tuple[str, ...]:
    return tuple(code for code in (_str(item.get(key)) for item in _objects(value)) if code)


def _person_record(item: Mapping[str, Any]) -> PersonRecord | None:
    """A PersonRecord from a credit, a search result or a person body; None without id or name."""
    person_id, name = _int(item.get("id")), _str(item.get("name"))
    if person_id is None or name is None:
        return None
    return PersonRecord(
        id=person_id,
        name=name,
        known_for_department=_str(item.get("known_for_department")),
        profile_path=_str(item.get("profile_path")),
        popularity=_float(item.get("popularity")),
    )


def _movie_credits(block: Any) -> MovieCredits:
    """``credits: {cast: [...], crew: [...]}`` of a details body; cast in billing order."""
    if not isinstance(block, dict):
        return MovieCredits()
    cast = [
        CastCreditRecord(person, _str(item.get("character")), _int(item.get("order")) or 0)
        for item in _objects(block.get("cast"))
        if (person := _person_record(item)) is not None
    ]
    cast.sort(key=lambda credit: credit.order)
    crew = [
        CrewCreditRecord(person, job, _str(item.get("department")) or "")
        for item in _objects(block.get("crew"))
        if (person := _person_record(item)) is not None and (job := _str(item.get("job")))
    ]
    return MovieCredits(cast=tuple(cast[:MAX_CAST_CREDITS]), crew=tuple(crew[:MAX_CREW_CREDITS]))


def _person_credits(block: Any) -> PersonCredits:
    """``movie_credits: {cast: [...], crew: [...]}`` of a person body, newest film first."""
    if not isinstance(block, dict):
        return PersonCredits()
    cast = [
        PersonCastRecord(movie, _str(item.get("character")))
        for item in _objects(block.get("cast"))
        if (movie := _movie_record(item)) is not None
    ]
    crew = [
        PersonCrewRecord(movie, job, _str(item.get("department")) or "")
        for item in _objects(block.get("crew"))
        if (movie := _movie_record(item)) is not None and (job := _str(item.get("job")))
    ]
    return PersonCredits(
        cast=tuple(sorted(cast, key=lambda c: newest_first(c.movie))),
        crew=tuple(sorted(crew, key=lambda c: newest_first(c.movie))),
    )


def _page(body: Mapping[str, Any], requested_page: int, template: str) -> PageRecord:
    raw_results = body.get("results")
    if not isinstance(raw_results, list):
        raise UpstreamUnavailable(f"TMDb {template} returned an unexpected shape")
    results = []
    for item in raw_results:
        record = _movie_record(item) if isinstance(item, dict) else None
        if record is None:
            logger.warning("TMDb %s: skipped a result without an id", template)
            continue
        results.append(record)
    page = _int(body.get("page")) or requested_page
    total_results = _int(body.get("total_results"))
    total_pages = _int(body.get("total_pages"))
    if total_pages is None:
        total_pages = page if results else 0
    return PageRecord(
        page=page,
        # TMDb serves at most MAX_PAGE pages whatever total_pages says (popular says 42471).
        total_pages=max(0, min(total_pages, MAX_PAGE)),
        total_results=max(0, total_results if total_results is not None else len(results)),
        results=tuple(results),
    )
