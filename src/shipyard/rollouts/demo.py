"""A canary in a few seconds, for the quickstart: a retrained version takes half of an endpoint's
traffic, clients send feedback (the true churn of each answered row), and the server's rollout
controller promotes it once it is shown to be no worse than the champion.

The server at ``base_url`` must serve the endpoint named after ``model`` with its rollout
controller on (``build_app(..., rollout_interval=0.5)`` keeps the demo to a few seconds) and the
prediction log on (feedback joins logged predictions). Traffic and truth come from
:func:`shipyard.datasets.churn`, so the model must take the churn features.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from shipyard.rollouts.plan import RolloutPlan

if TYPE_CHECKING:
    from shipyard.registry.client import Registry

__all__ = ["DEMO_PLAN", "run_canary_demo"]

DEMO_PLAN: dict[str, Any] = {
    "steps": [50, 100],
    "min_bake": 1,
    "min_samples": 40,
    "inconclusive_limit": 10_000,  # the demo's own timeout ends it instead
    "guardrails": {"max_error_rate": 0.05, "min_requests": 20},
    "metric": {"name": "accuracy", "kind": "binary", "promote_when": "not_worse", "margin": 0.1},
}


def run_canary_demo(
    registry: Registry,
    base_url: str,
    model: str,
    candidate_version: int,
    echo: Callable[[str], Any],
    *,
    timeout: float = 60.0,
) -> bool:
    """Run the canary; True once the candidate was promoted (champion moved to it)."""
    import httpx

    from shipyard import datasets
    from shipyard.predlog import PredictionStore, default_url
    from shipyard.rollouts.controller import act, start_rollout
    from shipyard.rollouts.store import RolloutStore
    from shipyard.serving.background import v2_body

    plan = RolloutPlan.from_dict(DEMO_PLAN)
    rollout = start_rollout(
        registry, model, candidate_version, share=50, plan=plan, actor="quickstart"
    )
    echo(
        f"   canary: {model}/{candidate_version} now answers half of the requests to endpoint {model} "
        f"(rollout #{rollout.id}); clients send feedback, the server decides"
    )
    settings = registry.settings
    feedback = PredictionStore(settings.predlog_url or default_url(settings))
    data = datasets.churn(3000, seed=11)
    X, y = data.X, data.y.to_numpy()
    store = RolloutStore(registry.db)
    pending: list[tuple[str, int, Any]] = []
    seen: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    status = rollout.status
    try:
        with httpx.Client(base_url=base_url, timeout=30) as http:
            row = 0
            while time.monotonic() < deadline:
                for _ in range(20):
                    i = row % len(X)
                    row += 1
                    reply = http.post(f"/v2/models/{model}/infer", json=v2_body(X.iloc[[i]]))
                    variant = reply.headers.get("x-shipyard-variant", "?")
                    seen[variant] = seen.get(variant, 0) + 1
                    if reply.status_code == 200:
                        pending.append((reply.headers["x-request-id"], 0, _plain(y[i])))
                if pending:  # rows not committed to the log yet come back unknown: retry
                    result = feedback.add_feedback(pending)
                    unknown = set(result.unknown)
                    pending = [p for p in pending if (p[0], p[1]) in unknown]
                status = store.get(rollout.id).status
                if status not in ("running",):
                    break
                time.sleep(0.05)
    finally:
        feedback.dispose()
    done = store.get(rollout.id)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(seen.items()))
    if done.status == "running":
        echo(f"   the canary did not finish within {timeout:g}s; rolling back")
        act(registry, model, "rollback", actor="quickstart")
        return False
    decision = done.observed.get("last_decision") or {}
    reasons = "; ".join(decision.get("reasons", []))
    echo(f"   requests answered by variant: {counts}")
    echo(f"   the server's verdict: {done.status.replace('_', ' ')}: {reasons}")
    champion = registry.get_model(model).aliases.get("champion")
    echo(f"   {model}@champion is now version {champion}")
    return done.status == "promoted"


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
