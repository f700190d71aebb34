"""Build the bundled offline movie catalog from the TMDB 5000 CSV export.

Reads ``tmdb_movies_3000.csv`` (see ``../shared/data/README.md``) and writes
``movies/catalog/data/catalog.json.gz``, which the product ships so that it runs without
``../shared`` and without a TMDb API key. Output is deterministic: JSON with sorted
keys, movies sorted by id, genres sorted by id, gzip header with ``mtime=0`` and no
file name, so rebuilding from the same CSV gives a byte-identical file.

Each movie is built through ``movies.records.MovieRecord`` / ``MovieDetails`` and
serialised with their ``to_dict()``, so the field names always match what the
catalog sources and caches read back with ``from_dict()``.

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
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from movies.records import GenreRecord, MovieDetails, MovieRecord  # noqa: E402

DEFAULT_CSV = REPO_ROOT / ".." / "shared" / "data" / "tmdb" / "tmdb_movies_3000.csv"
DEFAULT_OUTPUT = REPO_ROOT / "movies" / "catalog" / "data" / "catalog.json.gz"

FORMAT_VERSION = 1
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
    }
)


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


def named_items(value: str | None) -> list[dict[str, Any]]:
    """Parse a JSON array of ``{"id", "name"}`` objects (the CSV's genres/keywords columns)."""
    text = text_or_none(value)
    if text is None:
        return []
    items = json.loads(text)
    if not isinstance(items, list) or not all(isinstance(i, dict) and "name" in i for i in items):
        raise CatalogError(f"expected a JSON array of {{id, name}} objects, got {text[:80]!r}")
    return items


def read_rows(csv_path: Path) -> Iterator[dict[str, str]]:
    """Yield the CSV's rows as dicts, after checking that every needed column is there."""
    with csv_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = REQUIRED_COLUMNS - set(reader.fieldnames or ())
        if missing:
            raise CatalogError(f"{csv_path}: missing columns {sorted(missing)}")
        yield from reader


def build_movie(row: dict[str, str]) -> tuple[dict[str, Any], list[GenreRecord]]:
    """Turn one CSV row into a catalog movie dict and the genres it names."""
    genres = [GenreRecord(id=int(g["id"]), name=str(g["name"])) for g in named_items(row["genres"])]
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
        poster_path=None,
        backdrop_path=None,
        genre_ids=tuple(g.id for g in genres),
    )
    details = MovieDetails(
        tagline=text_or_none(row["tagline"]),
        runtime=positive_int_or_none(row["runtime"]),
        status=text_or_none(row["status"]),
        imdb_id=None,
        homepage=text_or_none(row["homepage"]),
        budget=positive_int_or_none(row["budget"]),
        revenue=positive_int_or_none(row["revenue"]),
        keywords=tuple(str(k["name"]) for k in named_items(row["keywords"])),
    )
    return {**record.to_dict(), "details": details.to_dict()}, genres


def build_catalog(rows: Iterable[dict[str, str]]) -> dict[str, Any]:
    """Build the whole catalog document: metadata, the union of genres, and the movies."""
    movies: dict[int, dict[str, Any]] = {}
    genre_names: dict[int, str] = {}
    for row in rows:
        movie, genres = build_movie(row)
        if movie["id"] in movies:
            raise CatalogError(f"duplicate movie id {movie['id']}")
        movies[movie["id"]] = movie
        for genre in genres:
            known = genre_names.setdefault(genre.id, genre.name)
            if known != genre.name:
                raise CatalogError(f"genre {genre.id} is named both {known!r} and {genre.name!r}")
    if not movies:
        raise CatalogError("the CSV has no movies")
    return {
        "format": FORMAT_VERSION,
        "attribution": ATTRIBUTION,
        "source": SOURCE,
        "genres": [GenreRecord(id=i, name=genre_names[i]).to_dict() for i in sorted(genre_names)],
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
        help="TMDB CSV export (default: ../shared/data/tmdb/tmdb_movies_3000.csv from the repository root)",
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
        catalog = build_catalog(read_rows(csv_path))
    except (OSError, CatalogError, ValueError, KeyError) as exc:
        print(f"build_catalog: {exc}", file=sys.stderr)
        return 1
    data = encode_catalog(catalog)
    write_atomically(args.output, data)
    print(
        f"wrote {args.output}: {len(catalog['movies'])} movies, {len(catalog['genres'])} genres, "
        f"{len(data):,} bytes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
