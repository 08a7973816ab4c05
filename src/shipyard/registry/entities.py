"""The registry's records, as plain immutable values (no database, no I/O)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Model:
        """The inverse of :meth:`to_dict` (for entities that crossed the management API)."""
        return cls(**_fields_of(cls, data))


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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelVersion:
        """The inverse of :meth:`to_dict`."""
        values = _fields_of(cls, data)
        values["status"] = VersionStatus(values.get("status", VersionStatus.CANDIDATE))
        values["aliases"] = tuple(values.get("aliases", ()))
        return cls(**values)


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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AliasMove:
        """The inverse of :meth:`to_dict`."""
        return cls(**_fields_of(cls, data))


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


def _fields_of(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """``data``'s values for ``cls``'s fields (others ignored), ISO times parsed back."""
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in data:
            value = data[f.name]
            if f.type in ("datetime", "datetime | None") and isinstance(value, str):
                value = datetime.fromisoformat(value)
            values[f.name] = value
    return values
