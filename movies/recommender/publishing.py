"""Published versions of the collaborative model, in storage every app server shares.

Each publish is a new ``RecommenderModel`` row (its id is the version); the
file is in the row itself (the database, the default) or, when
``RECOMMENDER_STORAGE_BACKEND`` names a Django storage backend (e.g.
django-storages' S3Storage), in that storage. Serving processes ask for the
newest version once a minute and load it when it changed, so every server
serves the same version within a minute of a publish, without a restart.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import transaction

from movies.models import RecommenderModel
from movies.recommender.ease import ItemItemModel

logger = logging.getLogger(__name__)

STORAGE_ALIAS = "recommender"


def _storage_configured() -> bool:
    return STORAGE_ALIAS in settings.STORAGES


def publish(model: ItemItemModel, meta: dict[str, Any]) -> int:
    """Stores ``model`` as the newest version; returns the version. Older versions beyond
    ``RECOMMENDER_KEEP_VERSIONS`` are deleted afterwards."""
    data = model.dumps()
    digest = hashlib.sha256(data).hexdigest()
    row = RecommenderModel(size=len(data), sha256=digest, meta=meta)
    if _storage_configured():
        # The file first, the row after: a server never sees a version whose file is missing.
        row.storage_name = storages[STORAGE_ALIAS].save(f"recommender/{digest}.npz", ContentFile(data))
    else:
        row.data = data
    row.save()
    transaction.on_commit(prune)
    return int(row.pk)


def latest_version() -> int | None:
    """The newest published version, or None before the first (one indexed query)."""
    return RecommenderModel.objects.order_by("-id").values_list("id", flat=True).first()


def latest() -> RecommenderModel | None:
    """The newest version's row without its file (training facts in ``meta``)."""
    return RecommenderModel.objects.order_by("-id").defer("data").first()


def load(version: int) -> ItemItemModel | None:
    """The model of ``version``, or None if it is gone (pruned meanwhile)."""
    row = RecommenderModel.objects.filter(id=version).first()
    if row is None:
        return None
    if row.storage_name:
        with storages[STORAGE_ALIAS].open(row.storage_name, "rb") as handle:
            data = handle.read()
    else:
        data = bytes(row.data or b"")
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise ValueError(f"recommender model v{version} does not match its checksum")
    return ItemItemModel.loads(data)


def prune(keep: int | None = None) -> int:
    """Deletes all but the newest ``keep`` versions (and their files); returns how many went."""
    keep = settings.RECOMMENDER_KEEP_VERSIONS if keep is None else keep
    old = list(RecommenderModel.objects.order_by("-id").values_list("id", "storage_name")[max(keep, 1) :])
    for version, name in old:
        RecommenderModel.objects.filter(id=version).delete()
        # A file shared with a kept version (same checksum) stays.
        if name and not RecommenderModel.objects.filter(storage_name=name).exists():
            storages[STORAGE_ALIAS].delete(name)
    return len(old)
