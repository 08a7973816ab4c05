"""A real server (``build_app``, uvicorn on loopback) serving ``churn`` with a canary rollout, and
a client sending it real predictions: what the Deployment page tests look at."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _console_data import Keys, make_keys, populate_home
from _live import live_server

ENDPOINT = "churn"
WAIT = 90.0
"""Seconds to wait for anything asynchronous: generous, the machine is shared."""

PLAN = {
    # Steps never bake within a test (an hour each), so the rollout holds where it was started
    # while the controller keeps evaluating it (guardrail figures on the page).
    "steps": [50, 100],
    "min_bake": "1h",
    "min_samples": 100000,
    "guardrails": {"max_error_rate": 0.05, "max_p99_latency_ms": 5000},
    "metric": {"name": "accuracy", "margin": 0.01},
}


@dataclass(frozen=True)
class Site:
    base: str
    keys: Keys
    predict: str
    registry: Any
    app: Any


@contextlib.contextmanager
def deployed(home: Path) -> Iterator[Site]:
    """churn served at its champion (v2) with keys of each scope, under uvicorn."""
    from shipyard.registry.client import Registry
    from shipyard.registry.keys import KeyStore
    from shipyard.serving.server import build_app
    from shipyard.settings import Settings

    populate_home(home)
    registry = Registry(Settings(home=home, actor="tester"))
    keys = make_keys(registry)
    _, predict = KeyStore(registry.db).create(["predict"], name="client", actor="tester")
    app = build_app(
        registry, ["churn@champion"], auth_ttl=0.0, rollout_interval=0.5, poll_interval=0.2
    )
    try:
        with live_server(app) as base:
            deadline = time.monotonic() + WAIT
            while httpx.get(f"{base}/v2/health/ready").status_code != 200:
                assert time.monotonic() < deadline, "the server did not load churn"
                time.sleep(0.1)
            yield Site(base, keys, predict, registry, app)
    finally:
        registry.close()


def ensure_rollout(registry: Any) -> Any:
    """The endpoint's active canary of churn/1 (started, at 50%, when there is none)."""
    from shipyard.rollouts.controller import start_rollout
    from shipyard.rollouts.plan import RolloutPlan
    from shipyard.rollouts.store import RolloutStore

    active = RolloutStore(registry.db).active(ENDPOINT)
    if active is not None:
        return active
    return start_rollout(
        registry, ENDPOINT, 1, share=50, plan=RolloutPlan.from_dict(PLAN), actor="deployer"
    )


def wait_for_variants(site: Site, names: set[str]) -> None:
    """Until the server routes to every variant in ``names``."""
    deadline = time.monotonic() + WAIT
    while set(site.app.hosts[ENDPOINT].variants) != names:
        assert time.monotonic() < deadline, f"the server never routed to {sorted(names)}"
        time.sleep(0.05)


class Traffic:
    """A client sending one-row predictions to the endpoint until stopped."""

    def __init__(self, site: Site) -> None:
        from shipyard import datasets
        from shipyard.serving.background import v2_body

        self.url = f"{site.base}/v2/models/{ENDPOINT}/infer"
        self.headers = {"authorization": f"Bearer {site.predict}"}
        rows = datasets.churn(20, seed=9).X
        self.bodies = [v2_body(rows.iloc[i : i + 1]) for i in range(len(rows))]
        self.statuses: dict[int, int] = {}
        self.variants: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=30, headers=self.headers) as http:
            i = 0
            while not self._stop.is_set():
                reply = http.post(self.url, json=self.bodies[i % len(self.bodies)])
                self.statuses[reply.status_code] = self.statuses.get(reply.status_code, 0) + 1
                variant = reply.headers.get("x-shipyard-variant", "")
                self.variants[variant] = self.variants.get(variant, 0) + 1
                i += 1
                time.sleep(0.01)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
