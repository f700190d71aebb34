"""Reads the bundled catalog file (built by scripts/build_catalog.py) into records."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from movies.records import GenreRecord, MovieDetails, MovieRecord

BUNDLED_CATALOG = Path(__file__).resolve().parent / "data" / "catalog.json.gz"


def read_catalog(
    path: Path = BUNDLED_CATALOG,
) -> tuple[list[GenreRecord], list[tuple[MovieRecord, MovieDetails]]]:
    """Genres and movies (with details) from a catalog file."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    if data.get("format") != 1:
        raise ValueError(f"{path}: unsupported catalog format {data.get('format')!r}")
    genres = [GenreRecord.from_dict(item) for item in data["genres"]]
    movies = [
        (
            MovieRecord.from_dict({k: v for k, v in item.items() if k != "details"}),
            MovieDetails.from_dict(item["details"]),
        )
        for item in data["movies"]
    ]
    return genres, movies
