"""A self-contained registry holding exactly the served versions (``shipyard build --store copy``).

Each version is copied with its artifacts (verified by digest on the way), tags, status,
attachments and the aliases that point at it, keeping its version number, so an image answers
``x-shipyard-model-version: churn/3`` exactly as the source registry would. Everything goes
through the registry's own store, so the copy has its own intact audit chain.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from shipyard.registry import schema as t
from shipyard.registry.endpoints import EndpointStore
from shipyard.registry.entities import VersionStatus
from shipyard.registry.refs import parse_ref
from shipyard.registry.store import utcnow
from shipyard.settings import Settings

if TYPE_CHECKING:
    from shipyard.registry.client import Registry
    from shipyard.registry.entities import ModelVersion
    from shipyard.targets.served import Served

__all__ = ["copy_served"]


def copy_served(source: Registry, served: Iterable[Served], home: Path) -> list[str]:
    """Write a fresh registry in ``home`` (SQLite + artifact folder) with the served versions,
    their endpoints and aliases; return the digests copied."""
    from shipyard.registry.client import Registry

    settings = Settings(
        home=home,
        actor=source.actor,
        allow_pickle=source.settings.allow_pickle,
        trusted_types=source.settings.trusted_types,
        convert_onnx=False,
    )
    target = Registry(settings)
    copied: list[str] = []
    try:
        items = list(served)
        versions = sorted(
            {(v.model, v.version): v for s in items for v in s.versions}.values(),
            key=lambda v: (v.model, v.version),
        )
        for version in versions:
            copied += _copy_version(source, target, version)
        endpoints = EndpointStore(target.db)
        for item in items:
            endpoints.ensure(item.endpoint, parse_ref(item.ref).model, item.ref, target.actor)
    finally:
        target.close()
    lock = home / "registry.db.migrate.lock"
    lock.unlink(missing_ok=True)
    return copied


def _copy_version(source: Registry, target: Registry, version: ModelVersion) -> list[str]:
    attachments = source.store.attachments(version.model, version.version)
    digests = [version.artifact_digest, version.profile_digest, version.sample_digest]
    digests += [a.digest for a in attachments]
    copied = []
    for digest in dict.fromkeys(d for d in digests if d):
        target.artifacts.put(source.artifacts.get(digest))  # get() verifies the digest
        copied.append(digest)
    _reserve_number(target, version.model, version.version)
    added = target.store.add_version(
        model=version.model,
        flavor=version.flavor,
        artifact_digest=version.artifact_digest,
        artifact_size=version.artifact_size,
        signature=version.signature,
        metrics=version.metrics,
        params=version.params,
        lineage={**version.lineage, "copied_from": version.ref},
        profile_digest=version.profile_digest,
        sample_digest=version.sample_digest,
        tags=version.tags,
        description=version.description,
        actor=target.actor,
    )
    assert added.version == version.version
    if version.status != VersionStatus.CANDIDATE:
        target.store.set_status(version.model, version.version, version.status, target.actor)
    for attachment in attachments:
        target.store.attach(
            version.model,
            version.version,
            attachment.kind,
            attachment.digest,
            attachment.data,
            target.actor,
        )
    for alias in version.aliases:
        target.store.set_alias(version.model, alias, version.version, target.actor)
    return copied


def _reserve_number(target: Registry, model: str, number: int) -> None:
    """Make ``number`` the next version of ``model`` in the copy. The store numbers versions
    itself (gap-free in a live registry); a copy skips the versions it leaves out."""
    with target.db.write() as conn:
        model_id = target.store._ensure_model(conn, model, target.actor, utcnow())
        conn.execute(
            sa.update(t.models)
            .where(t.models.c.id == model_id, t.models.c.last_version < number - 1)
            .values(last_version=number - 1)
        )
