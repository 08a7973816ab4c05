"""What each console page shows, read through the same :class:`Registry` calls the CLI makes.

Each function takes the registry (and the visitor's key, for its model restriction) and returns
the plain values a template renders. They block on SQL, so the app runs them in a thread. No
query or rule lives here that the registry does not already have: the functions only arrange
its answers (join versions with their attachments, pick the newest change, filter the audit log
by actor and action for display).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shipyard.cards import model_card
from shipyard.cards.render import outline
from shipyard.console import charts
from shipyard.errors import IntegrityError, NotFoundError

if TYPE_CHECKING:
    from shipyard.console.monitoring_views import Health
    from shipyard.registry.client import Registry
    from shipyard.registry.endpoints import Endpoint
    from shipyard.registry.entities import Attachment, AuditEntry, ModelVersion
    from shipyard.registry.keys import ApiKey
    from shipyard.rollouts.store import Rollout

__all__ = [
    "AuditView",
    "Deployment",
    "ModelRow",
    "audit_view",
    "deployments",
    "model_view",
    "models_view",
    "subject_model",
    "verify_view",
    "version_view",
]

CHAMPION = "champion"
AUDIT_LIMIT = 500
"""The most audit entries one page shows (the newest matching ones)."""


@dataclass(frozen=True)
class Deployment:
    """Where a model is served, and its newest change: the endpoints serving it and, when one
    ran, its newest rollout (``rollout`` None otherwise)."""

    endpoints: tuple[str, ...]
    at: datetime
    rollout: Rollout | None = None


@dataclass(frozen=True)
class ModelRow:
    name: str
    description: str
    champion: int | None
    versions: int
    latest: int | None
    last_change: datetime | None
    deployment: Deployment | None = None
    health: Health | None = None


def subject_model(subject: str) -> str:
    """The model an audit subject is about: ``churn/3`` and ``churn@champion`` -> ``churn``."""
    for sep in ("/", "@"):
        subject = subject.split(sep, 1)[0]
    return subject


def _reachable(key: ApiKey | None, name: str) -> bool:
    return key is None or key.reaches((name,))


def deployments(registry: Registry) -> dict[str, Deployment]:
    """Each served model's :class:`Deployment`, from the endpoints and rollouts tables (the
    ones ``shipyard endpoints list`` and ``shipyard rollout status`` read)."""
    from shipyard.registry.endpoints import EndpointStore
    from shipyard.rollouts.store import RolloutStore

    endpoints: dict[str, list[Endpoint]] = {}
    for e in EndpointStore(registry.db).list():
        endpoints.setdefault(e.model, []).append(e)
    newest: dict[str, Rollout] = {}
    for r in RolloutStore(registry.db).list():  # by id: the newest last
        newest[r.model] = r
    out = {}
    for model in endpoints.keys() | newest.keys():
        served = endpoints.get(model, [])
        rollout = newest.get(model)
        times = [e.updated_at for e in served] + ([rollout.updated_at] if rollout else [])
        out[model] = Deployment(tuple(sorted(e.name for e in served)), max(times), rollout)
    return out


def models_view(registry: Registry, key: ApiKey | None) -> list[ModelRow]:
    from shipyard.console.monitoring_views import health
    from shipyard.monitoring.store import MonitorStore

    models = [m for m in registry.list_models() if _reachable(key, m.name)]
    by_model: dict[str, list[ModelVersion]] = {}
    for v in registry.list_versions():
        by_model.setdefault(v.model, []).append(v)
    served = deployments(registry)
    monitors = MonitorStore(registry.db)
    rows = []
    for m in models:
        versions = by_model.get(m.name, [])
        moves = registry.alias_history(m.name)
        times = [v.created_at for v in versions] + [mv.at for mv in moves] + [m.created_at]
        rows.append(
            ModelRow(
                name=m.name,
                description=m.description,
                champion=m.aliases.get(CHAMPION),
                versions=len(versions),
                latest=m.latest_version,
                last_change=max(times),
                deployment=served.get(m.name),
                health=health(monitors, m.name),
            )
        )
    return rows


def gate_status(version: ModelVersion, attachments: Sequence[Attachment]) -> str:
    """``passed``, ``failed`` or ``""`` (no gate report), from the newest gate report."""
    reports = [a for a in attachments if a.kind == "gate_report"]
    if not reports:
        return ""
    return "passed" if reports[-1].data.get("passed") else "failed"


def onnx_status(attachments: Sequence[Attachment]) -> dict[str, Any] | None:
    """The newest ONNX conversion result: ``{"ok": bool, "data": {...}, "digest": ...}``."""
    found = [a for a in attachments if a.kind in ("onnx", "onnx_rejected")]
    if not found:
        return None
    last = found[-1]
    return {"ok": last.kind == "onnx", "data": last.data, "digest": last.digest}


def model_view(registry: Registry, name: str, metric: str | None) -> dict[str, Any]:
    model = registry.get_model(name)
    versions = registry.list_versions(name)
    rows = []
    for v in reversed(versions):  # newest first
        attached = registry.attachments(v.ref) if v.attachments else []
        rows.append({"v": v, "gate": gate_status(v, attached), "onnx": onnx_status(attached)})
    metric_names = sorted({k for v in versions for k in v.metrics})
    chosen = metric if metric in metric_names else (metric_names[0] if metric_names else None)
    return {
        "name": model.name,
        "model": model,
        "rows": rows,
        "metric_names": metric_names,
        "chart": chart_view(versions, chosen, model.aliases.get(CHAMPION)),
        "history": list(reversed(registry.alias_history(name))),
        "audit_seq": latest_seq(registry),
    }


def chart_view(
    versions: Sequence[ModelVersion], metric: str | None, champion: int | None
) -> dict[str, Any]:
    points = charts.metric_points(versions, metric, champion) if metric else []
    return {
        "metric": metric,
        "points": points,
        "svg": charts.metric_svg(points, metric) if metric else "",
    }


def metric_chart(registry: Registry, name: str, metric: str | None) -> dict[str, Any]:
    """The chart of the Model page alone, for the page's script to swap in."""
    model = registry.get_model(name)
    versions = registry.list_versions(name)
    names = sorted({k for v in versions for k in v.metrics})
    chosen = metric if metric in names else (names[0] if names else None)
    return {
        "name": model.name,
        "metric_names": names,
        "chart": chart_view(versions, chosen, model.aliases.get(CHAMPION)),
    }


def version_view(registry: Registry, name: str, number: int) -> dict[str, Any]:
    version = registry.get_version(f"{name}/{number}")
    attached = registry.attachments(version.ref)
    profile: dict[str, Any] | None
    try:
        profile = registry.reference_profile(version.ref)
    except NotFoundError:
        profile = None
    features = []
    for fname, entry in ((profile or {}).get("features") or {}).items():
        if entry.get("kind") == "numeric":
            svg = charts.histogram_svg(fname, entry.get("histogram"))
        elif entry.get("kind") in ("categorical", "boolean"):
            svg = charts.levels_svg(fname, entry.get("levels"))
        else:
            svg = ""
        features.append({"name": fname, "entry": entry, "svg": svg})
    reports = [a for a in attached if a.kind == "gate_report"]
    card = model_card(registry, version.ref, compute_importance=False)
    return {
        "card_blocks": outline(card),
        "version": version,
        "signature": version.signature,
        "lineage": version.lineage,
        "profile": profile,
        "features": features,
        "gate": reports[-1] if reports else None,
        "onnx": onnx_status(attached),
        "attachments": attached,
        "audit": list(reversed(registry.audit_log(subject=version.ref))),
        "alias_moves": [
            m
            for m in reversed(registry.alias_history(name))
            if number in (m.from_version, m.to_version)
        ],
    }


@dataclass(frozen=True)
class AuditView:
    entries: list[AuditEntry]
    subject: str = ""
    actor: str = ""
    action: str = ""
    truncated: bool = False
    actions: list[str] = field(default_factory=list)


def audit_view(
    registry: Registry,
    key: ApiKey | None,
    *,
    subject: str = "",
    actor: str = "",
    action: str = "",
    limit: int = AUDIT_LIMIT,
) -> AuditView:
    """The newest ``limit`` entries matching every filter, newest first. ``action`` matches a
    whole action (``alias.set``) or a family (``alias``); a restricted key sees its models'."""
    entries = registry.audit_log(subject=subject or None)
    actions = sorted({e.action for e in entries})
    matched = [
        e
        for e in entries
        if (not actor or e.actor == actor)
        and (not action or e.action == action or e.action.startswith(action + "."))
        and (key is None or not key.models or key.reaches((subject_model(e.subject),)))
    ]
    newest = list(reversed(matched))
    return AuditView(
        newest[:limit], subject, actor, action, truncated=len(newest) > limit, actions=actions
    )


def latest_seq(registry: Registry) -> int:
    """The newest audit entry's number: a page's live feed starts after it."""
    newest = registry.audit_log(limit=1)
    return newest[-1].seq if newest else 0


def verify_view(registry: Registry) -> dict[str, Any]:
    """Run the registry's chain check; the outcome as ``{"ok", "message"}``."""
    try:
        count = registry.verify_audit()
    except IntegrityError as exc:
        return {"ok": False, "message": str(exc)}
    return {"ok": True, "message": f"audit chain intact: {count} entries"}


def audit_after(registry: Registry, seq: int, key: ApiKey | None) -> list[AuditEntry]:
    """Entries newer than ``seq`` (oldest first) among the last 100, for the live feed."""
    return [
        e
        for e in registry.audit_log(limit=100)
        if e.seq > seq
        and (key is None or not key.models or key.reaches((subject_model(e.subject),)))
    ]


CARD_TYPES = {
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "json": "application/json",
}


def card_file(registry: Registry, name: str, number: int, fmt: str) -> tuple[str, str]:
    """The version's model card in ``fmt`` (md, html, json) and its content type; the global
    importance only if stored (a page view starts no SHAP work)."""
    from shipyard.cards import render

    if fmt not in CARD_TYPES:
        raise NotFoundError(f"no card format {fmt!r}; use md, html or json")
    card = model_card(registry, f"{name}/{number}", compute_importance=False)
    return render(card, fmt), CARD_TYPES[fmt]
