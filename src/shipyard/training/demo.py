"""The closed loop end to end, without a person (``shipyard pipeline demo``).

A churn champion is trained, registered and served by the real server on loopback (its rollout
controller on). Clients send normal traffic, then traffic with drift injected into two
features, each answered row followed by its true label (feedback). The monitor's drift rule
fires; one pass of the loop (:func:`~shipyard.training.loop.run_loop_once`) retrains on the
logged predictions joined with their feedback, runs the gates, registers the candidate and
starts its canary. Traffic and feedback go on until the server's rollout controller promotes
the candidate, and ``churn@champion`` moves to it.

The training data is the logged traffic itself (about 1,800 labelled rows: enough for a linear
model and a 25% holdout), so the candidate has learnt the drifted world the champion has not.
The canary's plan is :data:`LOOP_PLAN`: the quickstart's short plan, so promotion takes seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import ConflictError, NotFoundError, ShipyardError
from shipyard.rollouts.demo import DEMO_PLAN

if TYPE_CHECKING:
    import httpx
    import pandas as pd

    from shipyard.registry.client import Registry
    from shipyard.settings import Settings
    from shipyard.training.loop import LoopResult

__all__ = ["LOOP_PLAN", "LoopDemo", "run_loop_demo"]

MODEL = "churn"
ROWS_PER_REQUEST = 20
DRIFTED = ["monthly_charges", "tenure_months"]

LOOP_PLAN: dict[str, Any] = DEMO_PLAN  # the quickstart canary's: promotion in seconds

TRAIN_YAML = f"""\
# Retrain on what the server logged in the last day, joined with the clients' feedback.
data: {{source: predictions, model: {MODEL}, since: 1d}}
target: churned
task: classification
model: {MODEL}
split: {{holdout: 0.25, folds: 2}}
families: [linear]
gates:
  metrics: [{{metric: roc_auc, min: 0.6}}]
  # at most 0.03 worse than the champion on the same holdout: the drift moved the inputs, not
  # how churn follows from them, so the champion stays about as good there
  champion: {{metric: roc_auc, min_absolute_change: -0.03}}
"""


@dataclass
class LoopDemo:
    """What the demo did, for tests and ``--json``."""

    champion: int = 0
    alerts: list[str] = field(default_factory=list)
    loop: dict[str, Any] = field(default_factory=dict)
    candidate: str | None = None
    rollout_id: int | None = None
    verdict: str = ""
    new_champion: int | None = None
    seconds: float = 0.0

    @property
    def promoted(self) -> bool:
        return self.verdict == "promoted"

    def to_dict(self) -> dict[str, Any]:
        return {
            "champion": self.champion,
            "alerts": self.alerts,
            "loop": self.loop,
            "candidate": self.candidate,
            "rollout_id": self.rollout_id,
            "verdict": self.verdict,
            "promoted": self.promoted,
            "new_champion": self.new_champion,
            "seconds": round(self.seconds, 2),
        }


def run_loop_demo(
    settings: Settings, echo: Callable[[str], Any] = print, *, timeout: float = 60.0
) -> LoopDemo:
    """Run the demo in ``settings.home`` (best a fresh one); ``timeout`` bounds the canary.

    The prediction log runs ``durable`` whatever ``settings`` say: an answered row is then
    logged, so its feedback can follow at once."""
    import dataclasses

    from shipyard.registry.client import Registry

    started = time.monotonic()
    settings = dataclasses.replace(settings, predlog_mode="durable")
    registry = Registry(settings)
    demo = LoopDemo()
    try:
        _run(registry, Path(settings.home) / "pipeline-demo", demo, echo, timeout)
    finally:
        registry.close()
    demo.seconds = time.monotonic() - started
    return demo


def _run(
    registry: Registry,
    workdir: Path,
    demo: LoopDemo,
    echo: Callable[[str], Any],
    timeout: float,
) -> None:
    from shipyard import datasets
    from shipyard.training.loop import RetrainPolicy, run_loop_once
    from shipyard.training.run import train

    try:
        registry.get_model(MODEL)
    except NotFoundError:
        pass
    else:  # its alert already fires and its audit trail is not the demo's: start clean
        raise ConflictError(
            f"{registry.settings.home} already holds a model {MODEL!r} (an earlier demo?); "
            "give --home an empty directory, or leave it out for a fresh one"
        )
    base = {
        "data": "generated.csv",  # replaced by the frame below
        "target": "churned",
        "task": "classification",
        "model": MODEL,
        "split": {"holdout": 0.25, "folds": 2},
        "families": ["linear"],
    }
    first = train(base, registry, frame=datasets.churn(1500, seed=1).frame)
    registry.set_alias(MODEL, "champion", first.version.version)
    demo.champion = first.version.version
    echo(
        f"1. trained and registered {first.version.ref} ({first.metric} {first.holdout:.3f} "
        f"on its holdout); it is {MODEL}@champion"
    )

    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "train.yaml").write_text(TRAIN_YAML, encoding="utf-8")
    policy = RetrainPolicy(
        MODEL, workdir / "train.yaml", alerts=("drift",), rollout="canary", plan=LOOP_PLAN
    )

    normal = datasets.churn(400, seed=2)
    later = datasets.churn(1400, seed=3)
    drifted = datasets.inject_drift(later.X, columns=DRIFTED, strength=1.5, seed=3)
    with _served(registry) as http:
        _send(http, normal.X, normal.y, "normal")
        _send(http, drifted, later.y, "drifted")
        echo(
            f"2. served {MODEL}@champion on {http.base_url}: {len(normal.X)} normal rows, then "
            f"{len(drifted)} with drift injected into {' and '.join(DRIFTED)}; every row's "
            "true label sent back as feedback"
        )

        demo.alerts = _monitor(registry)
        if not demo.alerts:
            raise ShipyardError("the monitor raised no drift alert; the loop has nothing to do")
        echo(f"3. the monitor's drift rule fired: {'; '.join(demo.alerts)}")

        result = run_loop_once(registry, policy)
        demo.loop = {k: v for k, v in result.to_dict().items() if k != "training"}
        demo.candidate = result.version
        demo.rollout_id = result.rollout_id
        echo(f"4. one loop pass ({' -> '.join(result.steps)}): {result.status}")
        for line in _summary(result):
            echo(f"   {line}")
        if result.status != "rolling_out" or result.rollout_id is None:
            raise ShipyardError(f"the loop pass ended {result.status}: {'; '.join(result.reasons)}")

        echo(
            f"5. canary rollout #{result.rollout_id} of {result.version}: traffic and feedback "
            "go on with drifted data; the server decides"
        )
        status, counts, reasons = _canary(http, registry, result.rollout_id, later, timeout)
    demo.verdict = status
    champion = registry.get_model(MODEL).aliases.get("champion")
    demo.new_champion = champion
    echo(f"   requests answered by variant: {counts}")
    echo(f"6. the server's verdict: {status.replace('_', ' ')}: {reasons}")
    echo(f"   {MODEL}@champion is now version {champion}")


@contextmanager
def _served(registry: Registry) -> Iterator[httpx.Client]:
    """The real server on loopback, ``churn`` following ``churn@champion``, and a client."""
    import httpx

    from shipyard.serving.background import BackgroundServer
    from shipyard.serving.server import build_app

    app = build_app(registry, [f"{MODEL}@champion"], rollout_interval=0.5)
    with BackgroundServer(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        yield http


def _send(http: httpx.Client, X: pd.DataFrame, y: pd.Series[Any], tag: str) -> dict[str, int]:
    """Predict ``X`` in requests of :data:`ROWS_PER_REQUEST` rows, each followed by its labels;
    return how many requests each variant answered."""
    counts: dict[str, int] = {}
    for start in range(0, len(X), ROWS_PER_REQUEST):
        rid = f"{tag}-{start // ROWS_PER_REQUEST}-{time.monotonic_ns()}"
        chunk = X.iloc[start : start + ROWS_PER_REQUEST]
        reply = http.post(
            "/invocations",
            json={"dataframe_records": _records(chunk)},
            headers={"x-request-id": rid},
        )
        if reply.status_code != 200:
            raise ShipyardError(f"the server answered {reply.status_code}: {reply.text[:200]}")
        variant = reply.headers.get("x-shipyard-variant", "?")
        counts[variant] = counts.get(variant, 0) + 1
        truth = y.iloc[start : start + ROWS_PER_REQUEST].tolist()
        labels = [{"request_id": rid, "row_index": i, "value": int(v)} for i, v in enumerate(truth)]
        sent = http.post("/api/v1/feedback", json={"items": labels})
        if sent.status_code not in (200, 202):
            raise ShipyardError(f"feedback was refused ({sent.status_code}): {sent.text[:200]}")
    return counts


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in rows.to_dict(orient="records")]


def _monitor(registry: Registry) -> list[str]:
    """One monitor pass with a drift rule; the firing alerts, as lines."""
    from shipyard.monitoring.alerts.rules import AlertRule
    from shipyard.monitoring.run import run_monitor
    from shipyard.predlog import PredictionStore, default_url

    rule = AlertRule.from_dict(
        {"name": "churn-drift", "figure": "drift.share", "op": ">=", "threshold": 0.1}
    )
    settings = registry.settings
    store = PredictionStore(settings.predlog_url or default_url(settings))
    try:
        result = run_monitor(registry, store, MODEL, rules=[rule])
    finally:
        store.dispose()
    drifted = ", ".join(result.drifted_features)
    return [
        f"{a['rule']} ({a['figure']} {a['value']:.2f} {a['op']} {a['threshold']:g}; "
        f"drifted: {drifted})"
        for a in result.alerts
        if a["state"] == "firing"
    ]


def _summary(result: LoopResult) -> list[str]:
    """The pass's trigger, candidate and gate report, a line each."""
    lines = [f"trigger: {t}" for t in result.triggers]
    training = result.training or {}
    if training:
        lines.append(
            f"candidate {result.version}: {training['family']}, "
            f"{training['metric']} {training['holdout']:.3f} on its holdout"
        )
    for gate in (training.get("gates") or {}).get("gates", []):
        verdict = "passed" if gate["passed"] else "FAILED"
        lines.append(f"gate {gate['gate']} {verdict}: {gate['reason']}")
    if result.reasons and result.status != "rejected":  # a rejection's are the gates'
        lines.extend(result.reasons)
    return lines


def _canary(
    http: httpx.Client,
    registry: Registry,
    rollout_id: int,
    data: Any,
    timeout: float,
) -> tuple[str, str, str]:
    """Drifted traffic and feedback until the controller ends the rollout (or ``timeout``,
    which rolls it back); returns the status, the requests per variant and the reasons."""
    from shipyard import datasets
    from shipyard.rollouts.controller import act
    from shipyard.rollouts.store import RolloutStore

    store = RolloutStore(registry.db)
    X = datasets.inject_drift(data.X, columns=DRIFTED, strength=1.5, seed=4)
    seen: dict[str, int] = {}
    deadline = time.monotonic() + timeout
    start = 0
    while time.monotonic() < deadline and store.get(rollout_id).status == "running":
        stop = start + 5 * ROWS_PER_REQUEST
        batch = _send(http, X.iloc[start:stop], data.y.iloc[start:stop], "canary")
        for variant, n in batch.items():
            seen[variant] = seen.get(variant, 0) + n
        start = stop % len(X)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(seen.items()))
    done = store.get(rollout_id)
    if done.status == "running":
        act(registry, MODEL, "rollback", actor=registry.actor)
        return "rolled_back", counts, f"no verdict within {timeout:g} s; rolled back"
    decision = done.observed.get("last_decision") or {}
    return done.status, counts, "; ".join(decision.get("reasons", []))
