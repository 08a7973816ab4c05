"""What the Deployments and Deployment pages show: endpoints, their traffic split and rollouts.

Each function reads the endpoint and rollout stores that ``shipyard endpoints`` and ``shipyard
rollout status`` read, and arranges their answers for a template; they block on SQL, so the
pages run them in a thread. The live figures are :mod:`shipyard.console.live`'s.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from shipyard.errors import NotFoundError
from shipyard.registry.endpoints import EndpointStore
from shipyard.rollouts.store import RolloutStore

if TYPE_CHECKING:
    from shipyard.registry.client import Registry
    from shipyard.registry.endpoints import Endpoint
    from shipyard.registry.keys import ApiKey
    from shipyard.rollouts.plan import RolloutPlan
    from shipyard.rollouts.store import Rollout
    from shipyard.serving.hosts import ModelHost

__all__ = [
    "ACTIONS",
    "actions_for",
    "current_rollout",
    "deployment_view",
    "deployments_view",
    "endpoint_model",
    "guardrail_rows",
    "rollout_stamp",
    "rollout_view",
]

ACTIONS: dict[str, str] = {
    "promote": "Promote the candidate to champion now, skipping the remaining steps",
    "rollback": "Roll back: send all traffic to the baseline and end the rollout",
    "pause": "Pause at the current weight (guardrails still roll back)",
    "resume": "Resume the rollout's steps",
}
"""The operator actions the page offers (as ``shipyard rollout ACTION``), and what each does."""


def _reachable(key: ApiKey | None, model: str) -> bool:
    return key is None or key.reaches((model,))


def _variants(
    registry: Registry, endpoint: Endpoint, host: ModelHost | None
) -> list[dict[str, Any]]:
    """Each variant: name, reference, weight, shadow flag, and the version it serves (the
    server's loaded one when attached, else what the reference names now)."""
    rows = []
    total = sum(v.weight for v in endpoint.serving) or 1.0
    for v in endpoint.variants:
        loaded = host.variants.get(v.name) if host is not None else None
        version: int | None
        if loaded is not None:
            version = loaded.version.version
        else:
            try:
                version = registry.get_version(v.ref).version
            except NotFoundError:
                version = None
        rows.append(
            {
                "name": v.name,
                "ref": v.ref,
                "weight": v.weight,
                "share": v.weight if v.shadow else v.weight / total,
                "shadow": v.shadow,
                "version": version,
            }
        )
    return rows


def deployments_view(
    registry: Registry, key: ApiKey | None, hosts: Mapping[str, ModelHost] | None
) -> list[dict[str, Any]]:
    """Every endpoint the key may see: model, policy, variants and weights, active rollout."""
    active = {r.endpoint: r for r in RolloutStore(registry.db).list(active_only=True)}
    rows = []
    for endpoint in EndpointStore(registry.db).list():
        if not _reachable(key, endpoint.model):
            continue
        host = None if hosts is None else hosts.get(endpoint.name)
        rows.append(
            {
                "endpoint": endpoint,
                "variants": _variants(registry, endpoint, host),
                "rollout": active.get(endpoint.name),
                "served": host is not None,
            }
        )
    return rows


def endpoint_model(registry: Registry, name: str) -> str:
    """The model an endpoint serves (NotFoundError naming the known endpoints otherwise)."""
    return EndpointStore(registry.db).get(name).model


def actions_for(rollout: Rollout | None) -> list[str]:
    """The actions that apply to ``rollout`` now (none when it is not active)."""
    if rollout is None or not rollout.active:
        return []
    if rollout.status == "running":
        return ["promote", "rollback", "pause"]
    return ["promote", "rollback", "resume"]  # paused, or stopped for a person


def guardrail_rows(plan: RolloutPlan, figures: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Each guardrail the plan sets: what it checks, its limit, and the last evaluation's
    figure ("not yet" before one)."""
    rails = plan.guardrails
    cand: Any = figures.get("candidate.error_rate")
    base: Any = figures.get("baseline.error_rate")
    p99: Any = figures.get("candidate.p99_ms")
    base_p99: Any = figures.get("baseline.p99_ms")
    rows = []
    if rails.max_error_rate is not None:
        rows.append(("candidate error rate", f"≤ {rails.max_error_rate:.2%}", _pct(cand)))
    if rails.max_error_rate_increase is not None:
        rise = cand - base if _finite(cand) and _finite(base) else None
        rows.append(
            ("error-rate increase over baseline", f"≤ {rails.max_error_rate_increase:.2%}",
             _pct(rise))
        )  # fmt: skip
    if rails.max_p99_latency_ms is not None:
        rows.append(("candidate p99 latency", f"≤ {rails.max_p99_latency_ms:g} ms", _ms(p99)))
    if rails.max_p99_latency_ratio is not None:
        ratio = p99 / base_p99 if _finite(p99) and _finite(base_p99) and base_p99 else None
        rows.append(
            ("p99 latency over baseline's", f"≤ {rails.max_p99_latency_ratio:g} times",
             "not yet" if ratio is None else f"{ratio:.2f} times")
        )  # fmt: skip
    if rails.drift:
        rows.append(("drift on the candidate", "none", "rolls back when flagged"))
    if plan.metric is not None and rails.metric_non_inferiority:
        rows.append(
            (f"{plan.metric.name} not worse than margin", f"{plan.metric.margin:g}",
             "rolls back when shown worse")
        )  # fmt: skip
    return rows


def rollout_view(rollout: Rollout) -> dict[str, Any]:
    """The rollout's step, guardrails and statistics as the page lists them."""
    plan, state = rollout.plan, rollout.state
    decision = rollout.observed.get("last_decision") or {}
    evaluation = rollout.observed.get("last_evaluation") or decision
    figures: dict[str, Any] = dict(evaluation.get("figures") or {})
    guardrails = guardrail_rows(plan, figures)
    statistics = []
    if plan.metric is not None:
        m = plan.metric
        direction = "higher" if m.higher_is_better else "lower"
        when = m.promote_when.replace("_", " ")
        statistics = [
            ("metric", f"{m.name} ({m.kind}; {direction} is better; promote when {when}, "
                f"margin {m.margin:g})"),
            ("baseline", _num(figures.get("metric.baseline"))),
            ("candidate", _num(figures.get("metric.candidate"))),
            ("effect (candidate - baseline)", _num(figures.get("metric.difference"), signed=True)),
            ("always-valid interval",
                _interval(figures.get("metric.ci_low"), figures.get("metric.ci_high"))),
            ("sequential p-value", _num(figures.get("metric.p_value"))),
        ]  # fmt: skip
    counts = rollout.observed.get("counts") or {}
    return {
        "rollout": rollout,
        "step": state.step_index + 1,
        "steps": list(plan.steps),
        "weight": state.weight,
        "bake": plan.min_bake_seconds,
        "min_samples": plan.min_samples,
        "guardrails": guardrails,
        "statistics": statistics,
        "decision": decision,
        "evaluation": _evaluation(evaluation) if evaluation is not decision else {},
        "counts": {n: (int(c[0]), int(c[1])) for n, c in counts.items()},
        "actions": actions_for(rollout),
    }


def deployment_view(registry: Registry, name: str, host: ModelHost | None) -> dict[str, Any]:
    """One endpoint: its variants, its active (else newest) rollout, and that rollout's view."""
    endpoint = EndpointStore(registry.db).get(name)
    rollout = current_rollout(registry, name)
    return {
        "endpoint": endpoint,
        "variants": _variants(registry, endpoint, host),
        "rollout": None if rollout is None else rollout_view(rollout),
        "stamp": rollout_stamp(rollout),
    }


def current_rollout(registry: Registry, name: str) -> Rollout | None:
    """The endpoint's active rollout, else its newest, else None."""
    store = RolloutStore(registry.db)
    rollout = store.active(name)
    if rollout is not None:
        return rollout
    try:
        return store.latest(name)
    except NotFoundError:
        return None


def rollout_stamp(rollout: Rollout | None) -> str:
    """What the page shows of a rollout's state, as one string: a change means re-render."""
    if rollout is None:
        return ""
    return f"{rollout.id}:{rollout.status}:{rollout.state.step_index}:{rollout.state.weight:g}"


def _evaluation(data: Mapping[str, Any]) -> dict[str, Any]:
    """An evaluation with its time (Unix seconds) as a datetime for the page."""
    at: Any = data.get("at")
    when = datetime.fromtimestamp(at, UTC) if _finite(at) else None
    return {**data, "at": when}


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _pct(value: Any) -> str:
    return f"{value:.2%}" if _finite(value) else "not yet"


def _ms(value: Any) -> str:
    return f"{value:.1f} ms" if _finite(value) else "not yet"


def _num(value: Any, *, signed: bool = False) -> str:
    if not isinstance(value, int | float) or not math.isfinite(value):
        return "not yet"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def _interval(low: Any, high: Any) -> str:
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in (low, high)):
        return "not yet"
    return f"[{low:+.4g}, {high:+.4g}]"
