"""What the registry knows about a version, gathered for its model card (the I/O edge).

Everything a card shows comes from here: the version row and its model's tags, the reference
profile, the attachments left by training (``training``, ``gate_report``), the global importance
(computed on first request: see :mod:`shipyard.explain.importance`) and the monitor's runs
since the version was registered. The user's own words (intended use, limitations, owners,
licence) come from tags ``card.*`` or a YAML file, the file winning.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInputError, ShipyardError

if TYPE_CHECKING:
    from shipyard.registry.client import Registry

__all__ = ["INFO_FIELDS", "gather", "read_info"]

INFO_FIELDS = (
    "overview",
    "owners",
    "license",
    "intended_use",
    "out_of_scope",
    "limitations",
    "recommendations",
    "ethical_considerations",
    "contact",
)
_TAG_ALIASES = {"owner": "owners", "owners": "owners", "license": "license", "licence": "license"}
MONITOR_RUNS = 5


def read_info(path: str | Path) -> dict[str, str]:
    """The card fields of a YAML file (keys from :data:`INFO_FIELDS`; lists become lines)."""
    import yaml

    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidInputError(f"--info: cannot read {file}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"--info: {file} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidInputError(f"--info: {file} must hold a mapping such as 'intended_use: ...'")
    unknown = sorted(set(map(str, data)) - set(INFO_FIELDS))
    if unknown:
        raise InvalidInputError(
            f"--info: unknown field(s) {', '.join(unknown)} in {file}; use: {', '.join(INFO_FIELDS)}"
        )
    return {str(k): _text(v) for k, v in data.items() if v is not None}


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(value)


def gather(
    registry: Registry,
    ref: str,
    *,
    info: Mapping[str, str] | None = None,
    importance_rows: int = 1_000,
    compute_importance: bool = True,
) -> dict[str, Any]:
    """The facts of one version as plain data (see :func:`shipyard.cards.card.build_card`).

    ``compute_importance=False`` only reads a stored global importance (the console's pages
    must not start seconds of SHAP work on a GET)."""
    version = registry.get_version(ref)
    model = registry.get_model(version.model)
    tags = {**model.tags, **version.tags}
    fields = _fields_from_tags(tags)
    fields.update({k: v for k, v in (info or {}).items() if v})
    attachments: dict[str, Any] = {}
    for attachment in registry.attachments(version.ref):
        attachments[attachment.kind] = attachment.data  # the newest of each kind
    profile = None
    if version.profile_digest is not None:
        profile = registry.reference_profile(version.ref)
    if compute_importance:
        importance, importance_note = _importance(registry, version.ref, importance_rows)
    else:
        importance, importance_note = _stored_importance(registry, version.ref)
    return {
        "version": version.to_dict(),
        "model": {"name": model.name, "description": model.description, "tags": model.tags},
        "fields": fields,
        "profile": profile,
        "training": attachments.get("training"),
        "gate_report": attachments.get("gate_report"),
        "importance": importance,
        "importance_note": importance_note,
        "monitoring": _monitoring(registry, version.model, version.version, version.created_at),
    }


def _fields_from_tags(tags: Mapping[str, str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for key, value in tags.items():
        if key in _TAG_ALIASES:
            fields.setdefault(_TAG_ALIASES[key], value)
    for key, value in tags.items():
        if key.startswith("card."):
            name = key.removeprefix("card.")
            name = _TAG_ALIASES.get(name, name)
            if name in INFO_FIELDS:
                fields[name] = value
    return fields


def _importance(registry: Registry, ref: str, rows: int) -> tuple[dict[str, Any] | None, str]:
    from shipyard.explain.importance import global_importance

    try:
        return global_importance(registry, ref, rows=rows), ""
    except ShipyardError as exc:  # no reference data, shap missing: the card says why
        return None, str(exc)


def _stored_importance(registry: Registry, ref: str) -> tuple[dict[str, Any] | None, str]:
    from shipyard.explain.importance import stored_importance

    found = stored_importance(registry, ref)
    if found is None:
        return None, (
            "not computed yet: the server computes it after it loads the version, "
            f"and `shipyard card {ref}` computes it now"
        )
    return found, ""


def _monitoring(registry: Registry, model: str, version: int, since: Any) -> list[dict[str, Any]]:
    from shipyard.monitoring.store import MonitorStore

    runs = MonitorStore(registry.db).runs(model, since=since)
    mine = [r for r in runs if r.version in (None, version)][-MONITOR_RUNS:]
    return [r.to_dict() for r in mine]
