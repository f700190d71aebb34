"""The language of the request being served, for sources that translate (TMDb).

The GraphQL view sets it from the request's ``Accept-Language``; catalog reads
put it in their cache keys and the TMDb client sends it upstream. A context
variable, so it follows the request through ``sync_to_async`` and into the
client's worker threads (which run in a copy of the caller's context).
"""

from __future__ import annotations

import re
from contextvars import ContextVar, Token

from django.conf import settings
from django.utils.translation.trans_real import parse_accept_lang_header

from movies.catalog.languages import ISO_639_1

_language: ContextVar[str | None] = ContextVar("catalog_language", default=None)
# TMDb's language tags: ISO 639-1, optionally with an ISO 3166-1 region (pt-BR).
_TAG = re.compile(r"^([a-z]{2})(?:-([a-z]{2}))?$")


def language() -> str:
    """The request's language, else ``TMDB_LANGUAGE``."""
    return _language.get() or settings.TMDB_LANGUAGE


def use_language(tag: str | None) -> Token[str | None]:
    """Makes ``tag`` (or the default, for None) the language of the current context."""
    return _language.set(tag)


def from_accept_language(header: str) -> str | None:
    """The first acceptable tag of an ``Accept-Language`` header, as TMDb spells it (``fr-FR``).

    Tags are taken in quality order; ``*`` and anything that is not a two-letter
    ISO 639-1 code (with an optional two-letter region) are skipped. None when
    nothing fits, so the configured default applies.
    """
    for tag, _quality in parse_accept_lang_header(header):
        match = _TAG.match(tag.lower())
        if match and match.group(1) in ISO_639_1:
            code, region = match.groups()
            return f"{code}-{region.upper()}" if region else code
    return None
