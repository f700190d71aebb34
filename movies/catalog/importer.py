"""Reads the bundled catalog file (built by scripts/build_catalog.py) into records."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from movies.records import (
    CastCreditRecord,
    CompanyRecord,
    CrewCreditRecord,
    GenreRecord,
    MovieCredits,
    MovieDetails,
    MovieRecord,
    PersonRecord,
)

BUNDLED_CATALOG = Path(__file__).resolve().parent / "data" / "catalog.json.gz"
FORMAT = 2


@dataclass(frozen=True)
class Catalog:
    """What a catalog file holds: genres, companies, movies with details, and their credits."""

    genres: list[GenreRecord]
    companies: list[CompanyRecord]
    movies: list[tuple[MovieRecord, MovieDetails]]
    credits: dict[int, MovieCredits]


def read_catalog(path: Path = BUNDLED_CATALOG) -> Catalog:
    """Everything in a catalog file, names joined back into the records the sources use."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: unsupported catalog format {data.get('format')!r}")
    companies = {item[0]: CompanyRecord(id=item[0], name=item[1]) for item in data["companies"]}
    people = {
        item[0]: PersonRecord(id=item[0], name=item[1], known_for_department=item[2])
        for item in data["people"]
    }
    departments: dict[str, str] = data["departments"]
    movies: list[tuple[MovieRecord, MovieDetails]] = []
    credits: dict[int, MovieCredits] = {}
    for item in data["movies"]:
        record = MovieRecord.from_dict(
            {k: v for k, v in item.items() if k not in ("details", "cast", "crew")}
        )
        details = item["details"]
        company_ids = details.get("production_companies") or ()
        movies.append(
            (
                record,
                MovieDetails.from_dict(
                    {**details, "production_companies": [companies[i].to_dict() for i in company_ids]}
                ),
            )
        )
        credits[record.id] = MovieCredits(
            cast=tuple(
                CastCreditRecord(people[person_id], character, order)
                for person_id, character, order in item["cast"]
            ),
            crew=tuple(
                CrewCreditRecord(people[person_id], job, departments[job]) for person_id, job in item["crew"]
            ),
        )
    return Catalog(
        genres=[GenreRecord.from_dict(item) for item in data["genres"]],
        companies=list(companies.values()),
        movies=movies,
        credits=credits,
    )
