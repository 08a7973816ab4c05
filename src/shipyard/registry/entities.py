"""The registry's records, as plain immutable values (no database, no I/O)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "AliasMove",
    "Attachment",
    "AuditEntry",
    "Model",
    "ModelVersion",
    "VersionStatus",
]


class VersionStatus(StrEnum):
    CANDIDATE = "candidate"
    APPROVED = "approved"
    REJECTED = "rejected"
    ARCHIVED = "archived"


@dataclass(frozen=True)
class Model:
    name: str
    created_at: datetime
    created_by: str
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)
    latest_version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(_jsonable(asdict(self)))


@dataclass(frozen=True)
class ModelVersion:
    """One registered version. Everything but ``status``, ``tags``, ``aliases`` and
    ``attachments`` is its immutable identity."""

    model: str
    version: int
    flavor: str
    artifact_digest: str
    artifact_size: int
    signature: dict[str, Any] | None
    metrics: dict[str, float]
    params: dict[str, Any]
    lineage: dict[str, Any]
    profile_digest: str | None
    sample_digest: str | None
    created_at: datetime
    created_by: str
    status: VersionStatus = VersionStatus.CANDIDATE
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    attachments: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.model}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        data = dict(_jsonable(asdict(self)))
        data["ref"] = self.ref
        return data


@dataclass(frozen=True)
class AliasMove:
    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    actor: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return dict(_jsonable(asdict(self)))


@dataclass(frozen=True)
class Attachment:
    """Something a later stage attached to a version (a converted artifact, a gate report)."""

    model: str
    version: int
    kind: str
    digest: str | None
    data: dict[str, Any]
    created_at: datetime
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        return dict(_jsonable(asdict(self)))


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    before: Any
    after: Any
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return dict(_jsonable(asdict(self)))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return str(value)
    return value
