"""Rollouts on a running server: how soon a change applies, and what shadow traffic costs.

    .venv/bin/python bench/bench_rollout.py [--changes 20] [--clients 4] [--duration 10]

A synthetic logistic regression on 20 features is registered twice (versions 1 and 2) in a
fresh temporary SHIPYARD_HOME, and `shipyard serve m --poll-interval 0.25` runs pinned to core 0.

1. Apply time: while `--clients` threads send single-row requests without pause, the bench
   starts an A/B rollout of version 2 (50%, keyed by the header x-user-id) from another
   process's registry, then rolls it back, `--changes` times in all. A probe sends requests with
   a user id whose hash puts it in the candidate's half, so the first answer from the new
   routing shows the change applied; the time from the registry commit to that answer is one
   sample. Reported: p50/p95/max of those times and the failed requests of the load (any
   non-200 or socket error; the target is zero).
2. Shadow's latency: `wrk` (pinned to core 1, 16 connections) for `--duration` seconds on the
   single-variant endpoint, then with a shadow rollout mirroring 100% of requests to version 2,
   then single again; p50/p99 and requests/s of each, and the shadow calls sent and dropped
   (bounded fire-and-forget: dropped when 8 are in flight) from /metrics.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

N_FEATURES = 20


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _register(home: Path) -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from shipyard.registry.client import Registry
    from shipyard.registry.endpoints import EndpointStore
    from shipyard.settings import Settings

    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, N_FEATURES))
    y = (X[:, 0] + X[:, 1] - X[:, 2] + rng.normal(size=len(X)) > 0).astype(int)
    registry = Registry(Settings(home=home))
    registry.register(LogisticRegression(max_iter=500).fit(X, y), "m", reference=X, target=y)
    registry.register(LogisticRegression(C=0.01).fit(X, y), "m", reference=X, target=y)
    registry.set_alias("m", "champion", 1)
    EndpointStore(registry.db).ensure("m", "m", "m@champion", "bench")
    registry.close()


def _body() -> bytes:
    row = [0.1 * i for i in range(N_FEATURES)]
    return json.dumps(
        {"inputs": [{"name": "x", "shape": [1, N_FEATURES], "datatype": "FP64", "data": row}]}
    ).encode()


def _candidate_user() -> str:
    from shipyard.serving.routing import hash_share

    return next(f"user-{i}" for i in range(1000) if hash_share("m", f"user-{i}") >= 0.5)


class Load:
    """Clients sending requests back to back; every failure is kept."""

    def __init__(self, url: str, clients: int) -> None:
        self.url = url
        self.sent = 0
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self) -> None:
        import httpx

        body = _body()
        headers = {"content-type": "application/json"}
        with httpx.Client(timeout=30) as http:
            while not self._stop.is_set():
                try:
                    reply = http.post(self.url, content=body, headers=headers)
                    if reply.status_code != 200:
                        self.failures.append(f"{reply.status_code}: {reply.text[:200]}")
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                self.sent += 1

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)


def _apply_times(home: Path, url: str, changes: int) -> list[float]:
    import httpx

    from shipyard.registry.client import Registry
    from shipyard.rollouts.controller import act, start_rollout
    from shipyard.rollouts.plan import RolloutPlan
    from shipyard.settings import Settings

    registry = Registry(Settings(home=home, actor="bench"))
    plan = RolloutPlan.from_dict({"min_bake": "1h"})  # only the bench ends each rollout
    user = {"x-user-id": _candidate_user(), "content-type": "application/json"}
    body = _body()
    times = []
    with httpx.Client(timeout=30) as http:
        for i in range(changes):
            starting = i % 2 == 0
            wanted = "candidate" if starting else "main"
            began = time.perf_counter()
            if starting:
                start_rollout(
                    registry, "m", 2, mode="ab", share=50, key="header:x-user-id", plan=plan
                )
            else:
                act(registry, "m", "rollback")
            committed = time.perf_counter()
            deadline = committed + 60
            while True:
                reply = http.post(url, content=body, headers=user)
                if reply.headers.get("x-shipyard-variant") == wanted:
                    break
                if time.perf_counter() > deadline:
                    raise SystemExit(f"change {i + 1} did not apply within 60 s")
            times.append(time.perf_counter() - committed)
            print(
                f"change {i + 1}/{changes}: {'start A/B' if starting else 'rollback'} "
                f"(commit {1000 * (committed - began):.0f} ms) applied after "
                f"{1000 * times[-1]:.0f} ms",
                flush=True,
            )
    if changes % 2:
        act(registry, "m", "rollback")
    registry.close()
    return times


def _wrk(url: str, script: Path, duration: float) -> dict[str, float]:
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", "-c16", f"-d{max(1, round(duration))}s", "--latency", "-s",
         str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"\s+(50|99)%\s+([\d.]+\w+)", out))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": _ms(lat["50"]),
        "p99_ms": _ms(lat["99"]),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _shadow_counts(base: str) -> dict[str, int]:
    import httpx

    text = httpx.get(f"{base}/metrics", timeout=10).text
    found = re.findall(
        r'shipyard_shadow_requests_total\{endpoint="m",outcome="(\w+)"\} (\d+)', text
    )
    return {k: int(v) for k, v in found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=int, default=20, help="rollout changes to time (>= 10)")
    parser.add_argument("--clients", type=int, default=4, help="load threads during the changes")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-rollout-") as folder:
        root = Path(folder)
        home = root / "home"
        _register(home)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        url = f"{base}/v2/models/m/infer"
        shipyard = str(Path(sys.executable).with_name("shipyard"))
        env = {**os.environ, "SHIPYARD_HOME": str(home), "SHIPYARD_PREDLOG_MODE": "off"}
        log = open(root / "server.log", "wb")  # noqa: SIM115 - closed below
        server = subprocess.Popen(
            ["taskset", "-c", "0", shipyard, "serve", "m", "--port", str(port),
             "--poll-interval", "0.25", "--rollout-interval", "60"],
            env=env, stdout=log, stderr=log,
        )  # fmt: skip
        try:
            import httpx

            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"{base}/v2/health/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"the server did not start; see {root / 'server.log'}")
                time.sleep(0.1)
            with Load(url, args.clients) as load:
                times = _apply_times(home, url, args.changes)
            ms = sorted(1000 * t for t in times)
            p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
            print()
            print(
                f"apply time over {len(ms)} changes: p50 {statistics.median(ms):.0f} ms, "
                f"p95 {p95:.0f} ms, max {ms[-1]:.0f} ms (poll interval 0.25 s); load: "
                f"{load.sent} requests from {args.clients} clients, {len(load.failures)} failed"
            )
            for failure in load.failures[:5]:
                print(f"  failure: {failure}")
            if shutil.which("wrk") is None:
                print("shadow latency: skipped, wrk is not installed (apt-get install -y wrk)")
                return
            script = root / "post.lua"
            script.write_text(
                'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                f"wrk.body = {json.dumps(_body().decode())}\n"
            )
            _shadow_rows(home, url, script, args.duration, base)
        finally:
            server.terminate()
            server.wait(timeout=60)
            log.close()


def _shadow_rows(home: Path, url: str, script: Path, duration: float, base: str) -> None:
    import httpx

    from shipyard.registry.client import Registry
    from shipyard.rollouts.controller import act, start_rollout
    from shipyard.rollouts.plan import RolloutPlan
    from shipyard.settings import Settings

    registry = Registry(Settings(home=home, actor="bench"))
    rows: list[tuple[str, dict[str, float]]] = []
    _wrk(url, script, 2.0)  # warm-up
    rows.append(("single", _wrk(url, script, duration)))
    start_rollout(
        registry, "m", 2, mode="shadow", share=100, plan=RolloutPlan.from_dict({"min_bake": "1h"})
    )
    while httpx.get(f"{base}/metrics", timeout=10).text.find("outcome=") < 0:
        httpx.post(url, content=_body(), headers={"content-type": "application/json"})
    before = _shadow_counts(base)
    rows.append(("shadow 100%", _wrk(url, script, duration)))
    after = _shadow_counts(base)
    act(registry, "m", "rollback")
    time.sleep(1.0)
    rows.append(("single again", _wrk(url, script, duration)))
    registry.close()
    sent = after.get("sent", 0) - before.get("sent", 0)
    dropped = after.get("dropped", 0) - before.get("dropped", 0)
    print()
    print(f"shadow latency (wrk, 16 connections, {duration:g} s each; server on core 0):")
    print("| policy | req/s | p50 | p99 | errors |")
    print("| --- | --- | --- | --- | --- |")
    for name, cell in rows:
        print(
            f"| {name} | {cell['rps']:,.0f} | {cell['p50_ms']:.2f} ms | {cell['p99_ms']:.2f} ms "
            f"| {cell['errors']:.0f} |"
        )
    print(f"shadow calls during the shadow run: {sent} sent, {dropped} dropped (saturated)")


if __name__ == "__main__":
    main()
