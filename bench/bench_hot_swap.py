"""Alias move -> switch: how long a running `shipyard serve` takes to answer with the new version.

    .venv/bin/python bench/bench_hot_swap.py [--flips 20] [--poll-interval 1.0]

Two versions of a churn classifier (a logistic regression and a 100-tree forest, so each switch
loads and warms a real model) are registered in a fresh temporary folder, and `shipyard serve
churn@champion` runs in a subprocess with the given poll interval. Each flip moves the alias from
this process (another writer, as the CLI would be), then sends a single-row request every 2 ms
until one answers with the new version (the `x-shipyard-model-version` header). The time from the
move's commit to that answer is the switch time: up to one poll interval, plus loading and warming
the version. Flips start at random points of the poll cycle. Prints the median, p95 and maximum.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _register(home: Path) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from shipyard import datasets
    from shipyard.registry.client import Registry
    from shipyard.settings import Settings

    data = datasets.churn(2000, seed=0)

    def pipeline(final: Any, numeric: Any) -> Any:
        pre = ColumnTransformer(
            [
                ("num", numeric, data.numeric),
                ("cat", OneHotEncoder(handle_unknown="ignore"), data.categorical),
            ]
        )
        return Pipeline([("pre", pre), ("model", final)]).fit(data.X, data.y)

    registry = Registry(Settings(home=home, actor="bench"))
    logit = pipeline(
        LogisticRegression(max_iter=500), make_pipeline(SimpleImputer(), StandardScaler())
    )
    forest = pipeline(RandomForestClassifier(n_estimators=100, random_state=0), SimpleImputer())
    registry.register(logit, "churn", reference=data.X, target=data.y)
    registry.register(forest, "churn", reference=data.X, target=data.y)
    registry.set_alias("churn", "champion", 1)
    return registry, data.X.dropna().head(1)


def _request(row: Any) -> dict[str, Any]:
    inputs = []
    for name in row.columns:
        value = row[name].iloc[0]
        if row[name].dtype.kind == "f":
            datatype, data = "FP64", [float(value)]
        elif row[name].dtype.kind in "iu":
            datatype, data = "INT64", [int(value)]
        else:
            datatype, data = "BYTES", [str(value)]
        inputs.append({"name": name, "datatype": datatype, "shape": [1], "data": data})
    return {"inputs": inputs}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench(flips: int, poll_interval: float) -> list[float]:
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        registry, row = _register(home)
        request = _request(row)
        port = _free_port()
        shipyard = str(Path(sys.executable).with_name("shipyard"))
        command = [shipyard, "serve", "churn@champion", "--port", str(port)]
        command += ["--poll-interval", str(poll_interval)]
        env = {**os.environ, "SHIPYARD_HOME": str(home)}
        server = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        times: list[float] = []
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                deadline = time.monotonic() + 120
                while True:
                    if server.poll() is not None:
                        raise SystemExit(server.communicate()[1].decode())
                    try:
                        if http.get("/v2/health/ready").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline:
                        raise SystemExit("the server never became ready")
                    time.sleep(0.05)
                current = 1
                for _ in range(flips):
                    target = 2 if current == 1 else 1
                    time.sleep(random.uniform(0, poll_interval))  # a random phase of the poll
                    registry.set_alias("churn", "champion", target)
                    moved = time.perf_counter()
                    while True:
                        response = http.post("/v2/models/churn/infer", json=request)
                        response.raise_for_status()
                        if response.headers["x-shipyard-model-version"] == f"churn/{target}":
                            break
                        if time.perf_counter() - moved > 60:
                            raise SystemExit(f"no switch to churn/{target} within 60 s")
                        time.sleep(0.002)
                    times.append(time.perf_counter() - moved)
                    current = target
        finally:
            server.send_signal(signal.SIGTERM)
            server.communicate(timeout=60)
            registry.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flips", type=int, default=20)
    parser.add_argument("--poll-interval", type=float, default=1.0)
    args = parser.parse_args()
    times = sorted(bench(args.flips, args.poll_interval))
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    print(
        f"alias move -> switch, {args.flips} flips between a logistic regression and a 100-tree "
        f"forest, poll interval {args.poll_interval:g} s:"
    )
    print(
        f"  median {statistics.median(times) * 1000:6.0f} ms   p95 {p95 * 1000:6.0f} ms   "
        f"max {times[-1] * 1000:6.0f} ms   (target: every switch within 1 s)"
    )


if __name__ == "__main__":
    main()
