"""Rollouts with a known truth, through the real server (uvicorn on loopback, httpx clients).

The truth is ``label = x1 > 0``. The champion (version 1) thresholds at 0.5, so it is right about
81% of the time; version 2 thresholds at 0, always right; version 3 is right but fails every
request whose ``x2`` is above 0.8 (about 21% of them); version 4 fails every request. The
server's rollout controller evaluates every 0.2 s; the online metric is its default one, the
prediction log joined with the feedback the clients send (the truth of each answered row).
The log is durable, so a row is stored before its answer and its feedback can follow at once.
Waits are generous; nothing is timed.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from shipyard.predlog import PredictionStore, read_window
from shipyard.registry.client import Registry
from shipyard.registry.endpoints import EndpointStore, Variant
from shipyard.rollouts.controller import start_rollout
from shipyard.rollouts.plan import RolloutPlan
from shipyard.rollouts.stats.srm import sample_ratio_mismatch
from shipyard.rollouts.store import RolloutStore
from shipyard.serving.background import BackgroundServer
from shipyard.serving.server import build_app
from shipyard.settings import Settings

FEATURES = ("x1", "x2", "x3")
WAIT = 90.0  # seconds: generous, the machine is shared


class Threshold:
    """``x1 > t``; raises for rows whose x2 is above ``fail_above`` (a broken version)."""

    def __init__(self, t: float, fail_above: float | None = None) -> None:
        self.t = t
        self.fail_above = fail_above

    def predict(self, X: Any) -> Any:
        frame = pd.DataFrame(X, columns=list(FEATURES))
        if self.fail_above is not None and bool((frame["x2"] > self.fail_above).any()):
            raise RuntimeError("this version cannot handle large x2")
        return (frame["x1"] > self.t).astype(np.int64).to_numpy()


@pytest.fixture
def scenario_registry(tmp_path: Path) -> Iterator[Registry]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=list(FEATURES))
    y = (X["x1"] > 0).astype(int).rename("label")
    settings = Settings(
        home=tmp_path / "home", actor="tester", allow_pickle=True, predlog_mode="durable"
    )
    registry = Registry(settings)
    for model in (Threshold(0.5), Threshold(0.0), Threshold(0.0, 0.8), Threshold(0.0, -99.0)):
        registry.register(model, "m", reference=X, target=y, flavor="pickle", convert_onnx=False)
    registry.set_alias("m", "champion", 1)
    EndpointStore(registry.db).ensure("m", "m", "m@champion", "tester")
    yield registry
    registry.close()


class Traffic:
    """Clients sending single-row requests in threads until stopped; records what answered."""

    def __init__(
        self, url: str, clients: int = 2, seed: int = 1, feedback: PredictionStore | None = None
    ) -> None:
        self.url = url
        self.feedback = feedback  # when given, each answered row's truth is sent back
        self.answers: list[tuple[int, str, str, int, float]] = []  # status, variant, ref, label, x1
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(seed + i,), daemon=True)
            for i in range(clients)
        ]

    def _run(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self._stop.is_set():
                x = rng.normal(size=3)
                body = {"inputs": [infer_input(n, v) for n, v in zip(FEATURES, x, strict=True)]}
                reply = http.post("/v2/models/m/infer", json=body)
                label = -1
                if reply.status_code == 200:
                    label = int(reply.json()["outputs"][0]["data"][0])
                    if self.feedback is not None:
                        truth = int(x[0] > 0)
                        self.feedback.add_feedback([(reply.headers["x-request-id"], 0, truth)])
                self.answers.append(
                    (
                        reply.status_code,
                        reply.headers.get("x-shipyard-variant", ""),
                        reply.headers.get("x-shipyard-model-version", ""),
                        label,
                        float(x[0]),
                    )
                )

    def __enter__(self) -> Traffic:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def infer_input(name: str, value: float) -> dict[str, Any]:
    return {"name": name, "shape": [1], "datatype": "FP64", "data": [float(value)]}


def wait_for(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def finished(registry: Registry) -> Callable[[], bool]:
    store = RolloutStore(registry.db)
    return lambda: store.latest("m").status in ("promoted", "rolled_back", "paused", "stopped")


def serve(registry: Registry) -> tuple[Any, BackgroundServer]:
    """The app with its rollout controller evaluating every 0.2 s."""
    app = build_app(registry, None, poll_interval=0.05, rollout_interval=0.2)
    return app, BackgroundServer(app)


def test_a_better_model_is_promoted(scenario_registry: Registry) -> None:
    registry = scenario_registry
    app, server = serve(registry)
    plan = RolloutPlan.from_dict(
        {
            "steps": [50, 100],
            "min_bake": 0.5,
            "min_samples": 30,
            "inconclusive_limit": 10_000,
            "guardrails": {"max_error_rate": 0.05},
            "metric": {"name": "accuracy", "kind": "binary", "promote_when": "better"},
        }
    )
    assert app.prediction_log is not None
    feedback = app.prediction_log.store
    with server as url, Traffic(url, feedback=feedback) as traffic:
        rollout = start_rollout(registry, "m", 2, share=50, plan=plan)
        wait_for(finished(registry), "the rollout to finish")
        done = RolloutStore(registry.db).get(rollout.id)
        assert done.status == "promoted", done.observed.get("last_decision")
        assert registry.get_model("m").aliases["champion"] == 2
        wait_for(lambda: traffic.answers[-1][2] == "m/2", "the server to serve m/2 alone")
    endpoint = EndpointStore(registry.db).get("m")
    assert endpoint.policy == "single" and endpoint.main.ref == "m@champion"
    assert all(status == 200 for status, *_ in traffic.answers)
    seen = Counter(variant for _, variant, *_ in traffic.answers)
    assert seen["candidate"] > 0 and seen["main"] > 0
    actions = [e.action for e in registry.audit_log("rollout:m")]
    assert actions[0] == "rollout.start" and actions[-1] == "rollout.promote"


def test_a_model_with_a_higher_error_rate_is_rolled_back(scenario_registry: Registry) -> None:
    registry = scenario_registry
    _, server = serve(registry)
    plan = RolloutPlan.from_dict(
        {
            "steps": [50, 100],
            "min_bake": "1h",  # it could never pass: only the guardrail can end it
            "min_samples": 10,
            "guardrails": {"max_error_rate_increase": 0.02, "min_requests": 20},
        }
    )
    with server as url, Traffic(url) as traffic:
        rollout = start_rollout(registry, "m", 3, share=50, plan=plan)
        wait_for(finished(registry), "the rollout to finish")
        done = RolloutStore(registry.db).get(rollout.id)
        assert done.status == "rolled_back"
        assert "error rate" in " ".join(done.observed["last_decision"]["reasons"])
        wait_for(lambda: traffic.answers[-1][1] == "main", "traffic back on the baseline")
    assert registry.get_model("m").aliases["champion"] == 1
    assert EndpointStore(registry.db).get("m").policy == "single"
    failed = [a for a in traffic.answers if a[0] != 200]
    assert failed and {a[1] for a in failed} == {"candidate"}  # the baseline never failed


def test_a_model_that_fails_requests_is_rolled_back_within_its_first_step(
    scenario_registry: Registry,
) -> None:
    registry = scenario_registry
    _, server = serve(registry)
    plan = RolloutPlan.from_dict(
        {
            "steps": [10, 50, 100],
            "min_bake": 0.2,
            "min_samples": 500,
            "guardrails": {"max_error_rate": 0.05, "min_requests": 10},
        }
    )
    with server as url, Traffic(url):
        rollout = start_rollout(registry, "m", 4, share=10, plan=plan)
        wait_for(finished(registry), "the rollout to finish")
    done = RolloutStore(registry.db).get(rollout.id)
    assert done.status == "rolled_back"
    actions = [e.action for e in registry.audit_log("rollout:m")]
    assert "rollout.advance" not in actions  # rolled back from its first step
    assert done.observed["counts"]["candidate"][0] < 500


def test_ab_assignment_is_sticky_and_matches_the_weights(scenario_registry: Registry) -> None:
    registry = scenario_registry
    plan = RolloutPlan.from_dict({"steps": [50, 100], "min_bake": "1h", "min_samples": 10})
    app = build_app(registry, None, poll_interval=0.05, rollout_interval=None)
    start_rollout(registry, "m", 2, mode="ab", share=30, key="header:x-user-id", plan=plan)
    assigned: dict[str, set[str]] = {}
    body = {"inputs": [infer_input(n, 0.1) for n in FEATURES]}
    with BackgroundServer(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        wait_for(lambda: app.hosts["m"].route is not None, "the server to route A/B")
        for _ in range(2):
            for user in range(600):
                reply = http.post(
                    "/v2/models/m/infer", json=body, headers={"x-user-id": f"user-{user}"}
                )
                assert reply.status_code == 200
                assigned.setdefault(f"user-{user}", set()).add(reply.headers["x-shipyard-variant"])
    assert all(len(variants) == 1 for variants in assigned.values())  # sticky
    counts = Counter(next(iter(v)) for v in assigned.values())
    split = [counts["main"], counts["candidate"]]
    assert sample_ratio_mismatch(split, [0.7, 0.3], alpha=0.001).mismatch is False
    assert sample_ratio_mismatch(split, [0.5, 0.5], alpha=0.001).mismatch is True


def test_a_broken_split_pauses_the_rollout(scenario_registry: Registry) -> None:
    """The rollout says 50/50 but the endpoint routes 90/10: the controller's SRM check fires."""
    registry = scenario_registry
    plan = RolloutPlan.from_dict({"steps": [50, 100], "min_bake": "1h", "min_samples": 10})
    _, server = serve(registry)
    with server as url:
        rollout = start_rollout(registry, "m", 2, share=50, plan=plan)
        EndpointStore(registry.db).set_routing(
            "m", "canary", [Variant("main", "m@champion", 0.9), Variant("candidate", "m/2", 0.1)],
            "someone",
        )  # fmt: skip
        with Traffic(url):
            wait_for(finished(registry), "the rollout to pause")
    done = RolloutStore(registry.db).get(rollout.id)
    assert done.status == "paused"
    assert "sample ratio mismatch" in done.observed["last_decision"]["reasons"][0]


def test_a_fair_split_does_not_pause(scenario_registry: Registry) -> None:
    registry = scenario_registry
    plan = RolloutPlan.from_dict({"steps": [50, 100], "min_bake": "1h", "min_samples": 10})
    _, server = serve(registry)
    with server as url:
        rollout = start_rollout(registry, "m", 2, share=50, plan=plan)
        with Traffic(url):
            store = RolloutStore(registry.db)
            wait_for(
                lambda: (
                    sum(c[0] for c in store.get(rollout.id).observed.get("counts", {}).values())
                    >= 400
                ),
                "400 requests counted",
            )
    done = RolloutStore(registry.db).get(rollout.id)
    assert done.status == "running"


def test_shadow_never_changes_the_answer(scenario_registry: Registry) -> None:
    """A shadow that fails every request (version 4), then one that answers differently
    (version 2): every answer is the champion's, and the shadow's answers are logged."""
    registry = scenario_registry
    plan = RolloutPlan.from_dict({"steps": [50, 100], "min_bake": "1h", "min_samples": 10})
    app = build_app(registry, None, poll_interval=0.05, rollout_interval=0.2)
    with BackgroundServer(app) as url:
        for version in (4, 2):
            start_rollout(registry, "m", version, mode="shadow", share=100, plan=plan)
            wait_for(lambda: app.hosts["m"].route is not None, "the server to mirror")
            target = app.hosts["m"].stats_for("shadow").requests + 50
            with Traffic(url) as traffic:
                wait_for(
                    lambda t=target: app.hosts["m"].stats_for("shadow").requests >= t,
                    "50 shadow calls",
                )
            from shipyard.rollouts.controller import act

            act(registry, "m", "rollback")
            wait_for(lambda: app.hosts["m"].route is None, "the shadow to stop")
            answers = traffic.answers
            assert answers and all(a[0] == 200 and a[1] == "main" for a in answers)
            assert all(a[2] == "m/1" for a in answers)
            assert all(a[3] == int(a[4] > 0.5) for a in answers)  # the champion's answers
        stats = app.hosts["m"].stats_for("shadow")
        assert stats.agreed < stats.rows  # version 2 disagreed on some rows, unseen by clients
        assert app.prediction_log is not None
        store = app.prediction_log.store
        wait_for(
            lambda: "shadow" in set(read_window(store, "m").meta["variant"]),
            "shadow answers in the prediction log",
        )
