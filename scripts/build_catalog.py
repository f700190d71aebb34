"""Build the bundled offline movie catalog from the TMDB 5000 CSV export.

Reads ``tmdb_movies_3000.csv``, and beside it ``tmdb_credits_3000.csv`` (top-billed
cast and key crew) and ``tmdb_images_3000.csv`` (poster paths and IMDb ids), see
``../shared/data/README.md``, and writes ``movies/catalog/data/catalog.json.gz``,
which the product ships so that it runs without ``../shared`` and without a TMDb
API key. Output is deterministic: JSON with sorted keys, movies sorted by id,
genres, companies and people sorted by id, gzip header with ``mtime=0`` and no
file name, so rebuilding from the same CSVs gives a byte-identical file.

Each movie is built through ``movies.records.MovieRecord`` / ``MovieDetails`` and
serialised with their ``to_dict()``, so the field names always match what the
catalog sources and caches read back with ``from_dict()``. To keep the file small,
names are stored once: a movie's companies are company ids, its cast
``[person id, character, order]`` and its crew ``[person id, job]``, with the
companies, the people (``[id, name, known for department]``) and each job's
department in tables of their own (``movies.catalog.importer`` joins them back).

Usage (from the repository root)::

    .venv/bin/python scripts/build_catalog.py [CSV] [--output movies/catalog/data/catalog.json.gz]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from movies.records import CompanyRecord, GenreRecord, MovieDetails, MovieRecord  # noqa: E402

DEFAULT_CSV = REPO_ROOT / ".." / "shared" / "data" / "tmdb" / "tmdb_movies_3000.csv"
CREDITS_NAME = "tmdb_credits_3000.csv"
IMAGES_NAME = "tmdb_images_3000.csv"
DEFAULT_OUTPUT = REPO_ROOT / "movies" / "catalog" / "data" / "catalog.json.gz"

FORMAT_VERSION = 2
ATTRIBUTION = "This product uses the TMDB API but is not endorsed or certified by TMDB."
SOURCE = "TMDB 5000 Movie Dataset (first 3,000 rows by budget)"

REQUIRED_COLUMNS = frozenset(
    {
        "id",
        "title",
        "original_title",
        "original_language",
        "overview",
        "release_date",
        "vote_average",
        "vote_count",
        "popularity",
        "genres",
        "keywords",
        "tagline",
        "runtime",
        "status",
        "homepage",
        "budget",
        "revenue",
        "production_companies",
        "production_countries",
        "spoken_languages",
    }
)
CREDIT_COLUMNS = frozenset({"movie_id", "cast", "crew"})
IMAGE_COLUMNS = frozenset({"id", "imdb_id", "poster_path"})
# What a cast credit counts as when a person's main department is worked out.
ACTING = "Acting"
# Producers are credited on many films others direct, write or act in: a person
# is "known for" Production only when they have no credit in another department.
PRODUCTION = "Production"


class CatalogError(ValueError):
    """The CSV does not have the expected layout or holds an unusable value."""


def text_or_none(value: str | None) -> str | None:
    """Return the stripped string, or ``None`` for a missing or blank value."""
    if value is None:
        return None
    value = value.strip()
    return value or None


def positive_int_or_none(value: str | None) -> int | None:
    """Parse an integer where 0, blank or missing mean "unknown" (runtime, budget, revenue)."""
    text = text_or_none(value)
    if text is None:
        return None
    number = int(float(text))
    return number if number > 0 else None


def float_or_none(value: str | None) -> float | None:
    """Parse a float; blank or missing give ``None``."""
    text = text_or_none(value)
    return None if text is None else float(text)


def int_or_none(value: str | None) -> int | None:
    """Parse an integer (``"12"`` or ``"12.0"``); blank or missing give ``None``."""
    text = text_or_none(value)
    return None if text is None else int(float(text))


def date_or_none(value: str | None) -> date | None:
    """Parse a ``YYYY-MM-DD`` date; blank or missing give ``None``."""
    text = text_or_none(value)
    return None if text is None else date.fromisoformat(text)


def json_items(value: str | None, key: str) -> list[dict[str, Any]]:
    """Parse a JSON array of objects that all have ``key`` (the CSV's JSON columns)."""
    text = text_or_none(value)
    if text is None:
        return []
    items = json.loads(text)
    if not isinstance(items, list) or not all(isinstance(i, dict) and key in i for i in items):
        raise CatalogError(f"expected a JSON array of objects with {key!r}, got {text[:80]!r}")
    return items


def named_items(value: str | None) -> list[dict[str, Any]]:
    """Parse a JSON array of ``{"id", "name"}`` objects (the CSV's genres/keywords columns)."""
    return json_items(value, "name")


def read_rows(csv_path: Path, required: frozenset[str] = REQUIRED_COLUMNS) -> Iterator[dict[str, str]]:
    """Yield the CSV's rows as dicts, after checking that every needed column is there."""
    csv.field_size_limit(1 << 24)  # a credits cell holds a film's whole cast and crew
    with csv_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = required - set(reader.fieldnames or ())
        if missing:
            raise CatalogError(f"{csv_path}: missing columns {sorted(missing)}")
        yield from reader


def read_images(csv_path: Path) -> dict[int, tuple[str | None, str | None]]:
    """Poster path and IMDb id by movie id (cells may be empty)."""
    return {
        int(row["id"]): (text_or_none(row["poster_path"]), text_or_none(row["imdb_id"]))
        for row in read_rows(csv_path, IMAGE_COLUMNS)
    }


def read_credits(csv_path: Path) -> dict[int, dict[str, str]]:
    """The credits CSV's rows (JSON ``cast`` and ``crew`` cells) by movie id."""
    return {int(row["movie_id"]): row for row in read_rows(csv_path, CREDIT_COLUMNS)}


class People:
    """Collects the people of every film's credits, and the department each is known for."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        # Films per department for each person (two writing jobs on one film count once).
        self.departments: dict[int, dict[str, set[int]]] = {}
        self.job_departments: dict[str, str] = {}

    def add(self, person_id: int, name: str, department: str, movie_id: int) -> None:
        known = self.names.setdefault(person_id, name)
        if known != name:
            raise CatalogError(f"person {person_id} is named both {known!r} and {name!r}")
        self.departments.setdefault(person_id, {}).setdefault(department, set()).add(movie_id)

    def credits_of(self, row: dict[str, str] | None) -> dict[str, list[list[Any]]]:
        """A film's compact cast ``[id, character, order]`` and crew ``[id, job]`` lists."""
        if row is None:
            return {"cast": [], "crew": []}
        movie_id = int(row["movie_id"])
        cast = []
        for item in json_items(row["cast"], "id"):
            self.add(int(item["id"]), str(item["name"]), ACTING, movie_id)
            cast.append([int(item["id"]), text_or_none(item.get("character")), int(item["order"])])
        crew = []
        for item in json_items(row["crew"], "id"):
            job, department = str(item["job"]), str(item["department"])
            known = self.job_departments.setdefault(job, department)
            if known != department:
                raise CatalogError(f"job {job!r} is in both {known!r} and {department!r}")
            self.add(int(item["id"]), str(item["name"]), department, movie_id)
            crew.append([int(item["id"]), job])
        return {"cast": cast, "crew": crew}

    def table(self) -> list[list[Any]]:
        """``[id, name, known for department]`` rows: the department of most of their films.

        Production counts only for people with no other credit (see PRODUCTION).
        """
        rows = []
        for person_id in sorted(self.names):
            counts = Counter({name: len(films) for name, films in self.departments[person_id].items()})
            if len(counts) > 1:
                del counts[PRODUCTION]
            # Ties go to the alphabetically first department, so the output is deterministic.
            department = min(counts, key=lambda name: (-counts[name], name))
            rows.append([person_id, self.names[person_id], department])
        return rows


def build_movie(
    row: dict[str, str], images: tuple[str | None, str | None] = (None, None)
) -> tuple[dict[str, Any], list[GenreRecord], list[CompanyRecord]]:
    """Turn one CSV row into a catalog movie dict, and the genres and companies it names."""
    genres = [GenreRecord(id=int(g["id"]), name=str(g["name"])) for g in named_items(row["genres"])]
    companies = [
        CompanyRecord(id=int(c["id"]), name=str(c["name"])) for c in named_items(row["production_companies"])
    ]
    poster_path, imdb_id = images
    title = text_or_none(row["title"])
    if title is None:
        raise CatalogError(f"movie {row['id']} has no title")
    record = MovieRecord(
        id=int(row["id"]),
        title=title,
        original_title=text_or_none(row["original_title"]),
        original_language=text_or_none(row["original_language"]),
        overview=text_or_none(row["overview"]),
        release_date=date_or_none(row["release_date"]),
        vote_average=float_or_none(row["vote_average"]),
        vote_count=int_or_none(row["vote_count"]),
        popularity=float_or_none(row["popularity"]),
        adult=False,
        poster_path=poster_path,
        backdrop_path=None,
        genre_ids=tuple(g.id for g in genres),
    )
    details = MovieDetails(
        tagline=text_or_none(row["tagline"]),
        runtime=positive_int_or_none(row["runtime"]),
        status=text_or_none(row["status"]),
        imdb_id=imdb_id,
        homepage=text_or_none(row["homepage"]),
        budget=positive_int_or_none(row["budget"]),
        revenue=positive_int_or_none(row["revenue"]),
        keywords=tuple(str(k["name"]) for k in named_items(row["keywords"])),
        production_countries=tuple(
            str(c["iso_3166_1"]) for c in json_items(row["production_countries"], "iso_3166_1")
        ),
        spoken_languages=tuple(str(c["iso_639_1"]) for c in json_items(row["spoken_languages"], "iso_639_1")),
    )
    details_dict = {**details.to_dict(), "production_companies": [company.id for company in companies]}
    return {**record.to_dict(), "details": details_dict}, genres, companies


def _same_name(table: dict[int, str], item_id: int, name: str, what: str) -> None:
    known = table.setdefault(item_id, name)
    if known != name:
        raise CatalogError(f"{what} {item_id} is named both {known!r} and {name!r}")


def build_catalog(
    rows: Iterable[dict[str, str]],
    credits: dict[int, dict[str, str]] | None = None,
    images: dict[int, tuple[str | None, str | None]] | None = None,
) -> dict[str, Any]:
    """Build the whole catalog document: metadata, genres, companies, people and the movies."""
    movies: dict[int, dict[str, Any]] = {}
    genre_names: dict[int, str] = {}
    company_names: dict[int, str] = {}
    people = People()
    for row in rows:
        movie_id = int(row["id"])
        movie, genres, companies = build_movie(row, (images or {}).get(movie_id, (None, None)))
        if movie_id in movies:
            raise CatalogError(f"duplicate movie id {movie_id}")
        movies[movie_id] = {**movie, **people.credits_of((credits or {}).get(movie_id))}
        for genre in genres:
            _same_name(genre_names, genre.id, genre.name, "genre")
        for company in companies:
            _same_name(company_names, company.id, company.name, "company")
    if not movies:
        raise CatalogError("the CSV has no movies")
    return {
        "format": FORMAT_VERSION,
        "attribution": ATTRIBUTION,
        "source": SOURCE,
        "genres": [GenreRecord(id=i, name=genre_names[i]).to_dict() for i in sorted(genre_names)],
        "companies": [[i, company_names[i]] for i in sorted(company_names)],
        "people": people.table(),
        "departments": dict(sorted(people.job_departments.items())),
        "movies": [movies[i] for i in sorted(movies)],
    }


def encode_catalog(catalog: dict[str, Any]) -> bytes:
    """Serialise the catalog to deterministic gzip'd JSON (sorted keys, mtime 0, no file name)."""
    payload = json.dumps(catalog, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return gzip.compress(payload.encode("utf-8"), compresslevel=9, mtime=0)


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "csv",
        nargs="?",
        type=Path,
        default=DEFAULT_CSV,
        help="TMDB CSV export (default: ../shared/data/tmdb/tmdb_movies_3000.csv from the repository root); "
        f"{CREDITS_NAME} and {IMAGES_NAME} are read from the same folder",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="where to write the catalog (default: movies/catalog/data/catalog.json.gz)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Build the catalog and report what was written."""
    args = parse_args(argv)
    csv_path: Path = args.csv
    if not csv_path.is_absolute() and not csv_path.exists():
        csv_path = REPO_ROOT / csv_path
    try:
        catalog = build_catalog(
            read_rows(csv_path),
            read_credits(csv_path.with_name(CREDITS_NAME)),
            read_images(csv_path.with_name(IMAGES_NAME)),
        )
    except (OSError, CatalogError, ValueError, KeyError) as exc:
        print(f"build_catalog: {exc}", file=sys.stderr)
        return 1
    data = encode_catalog(catalog)
    write_atomically(args.output, data)
    print(
        f"wrote {args.output}: {len(catalog['movies'])} movies, {len(catalog['genres'])} genres, "
        f"{len(catalog['people'])} people, {len(catalog['companies'])} companies, {len(data):,} bytes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
