"""Usage metering in a real server: `shipyard serve` on loopback, traffic, /metrics moving, the
usage flushed to the registry (and surviving a restart), and the report's Cost section."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from _v2_helpers import per_feature, rows
from typer.testing import CliRunner

from shipyard.cli import app as cli
from shipyard.monitoring.cost import GIB, Prices, cost_of
from shipyard.monitoring.usage_store import UsageStore

LABELS = 'endpoint="churn",model="churn",version="1",variant="main"'
PRICES = Prices()  # the defaults: $0.031611 per vCPU-hour, $0.004237 per GiB-hour


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _samples(text: str) -> dict[str, float]:
    return {name: float(value) for name, value in re.findall(r"^(\S+) (\S+)$", text, re.M)}


def _serve(registry: Any, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SHIPYARD_HOME": str(registry.settings.home),
        "SHIPYARD_USAGE_FLUSH_INTERVAL": "1",
    }
    command = [sys.executable, "-m", "shipyard", "serve", "churn@champion", "--port", str(port)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_ready(server: subprocess.Popen[bytes], http: httpx.Client) -> None:
    deadline = time.monotonic() + 120
    while True:
        assert server.poll() is None, server.communicate()[1].decode()
        try:
            if http.get("/v2/health/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server never became ready"
        time.sleep(0.1)


def _stop(server: subprocess.Popen[bytes]) -> str:
    server.send_signal(signal.SIGTERM)
    _, err = server.communicate(timeout=60)
    assert server.returncode in (0, -signal.SIGTERM), err.decode()
    return err.decode()


def _traffic(http: httpx.Client, body: dict[str, Any], requests: int) -> None:
    for _ in range(requests):
        response = http.post("/v2/models/churn/infer", json=body)
        assert response.status_code == 200, response.text


def test_usage_is_metered_exposed_stored_and_reported(
    registry_with_models: Any, churn_data: Any
) -> None:
    registry = registry_with_models
    body = per_feature(rows(churn_data, 4))  # 4 rows a request
    port = _free_port()
    server = _serve(registry, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            _wait_ready(server, http)
            _traffic(http, body, 10)
            before = _samples(http.get("/metrics").text)
            _traffic(http, body, 40)
            after = _samples(http.get("/metrics").text)
    finally:
        err = _stop(server)
    assert "Traceback" not in err, err

    cpu = f"shipyard_inference_cpu_seconds_total{{{LABELS}}}"
    predictions = f"shipyard_predictions_total{{{LABELS}}}"
    assert before[predictions] == 40 and after[predictions] == 200
    assert 0 < before[cpu] < after[cpu]
    memory = after[f"shipyard_model_memory_bytes{{{LABELS}}}"]
    assert memory > 0
    per_1k = "shipyard_cost_per_1k_predictions_dollars"
    usage_1k = after[f'{per_1k}{{{LABELS},basis="usage"}}']
    allocation_1k = after[f'{per_1k}{{{LABELS},basis="allocation"}}']
    # usage = CPU part + memory part; the CPU part alone is known from the series above
    cpu_part = after[cpu] * PRICES.vcpu_hour / 3600 * 1000 / after[predictions]
    assert usage_1k > cpu_part > 0
    # allocation: 1 vCPU granted over the time loaded, far more than the CPU used
    assert allocation_1k > usage_1k

    # The server flushed each second and once more at shutdown: every prediction is stored.
    store = UsageStore(registry.db)
    stored = store.rows("churn")
    assert stored and {r.version for r in stored} == {1}
    assert sum(r.predictions for r in stored) == 200
    assert sum(r.requests for r in stored) == 50
    assert sum(r.cpu_seconds for r in stored) >= after[cpu]
    assert all(r.memory_bytes == memory and r.cpu_request == 1.0 for r in stored)
    assert all(r.variant == "main" for r in stored)
    total = store.by_version("churn")[1]
    # the formula by hand over the stored rows
    used = (
        sum(r.cpu_seconds for r in stored) * PRICES.vcpu_hour / 3600
        + sum(r.memory_bytes * r.resident_seconds for r in stored) / GIB * PRICES.gib_hour / 3600
    )
    allocated = (
        sum(max(r.resident_seconds, r.cpu_seconds) for r in stored) * PRICES.vcpu_hour / 3600
        + sum(r.memory_bytes * r.resident_seconds for r in stored) / GIB * PRICES.gib_hour / 3600
    )
    cost = cost_of(total, PRICES)
    assert cost.usage_dollars == pytest.approx(used)
    assert cost.allocation_dollars == pytest.approx(allocated)
    assert cost.per_1k_usage == pytest.approx(used * 1000 / 200)
    assert cost.idle_share == pytest.approx((allocated - used) / allocated)

    # A restart: the figures survive it, and the second run's add to them.
    port = _free_port()
    server = _serve(registry, port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            _wait_ready(server, http)
            _traffic(http, body, 5)
    finally:
        _stop(server)
    stored = store.rows("churn")
    assert sum(r.predictions for r in stored) == 220
    assert len({r.replica for r in stored}) == 2
    assert store.by_version("churn")[1].predictions == 220

    # `shipyard monitor report`: the Cost section in text, JSON and HTML.
    env = {"SHIPYARD_HOME": str(registry.settings.home)}
    runner = CliRunner()
    report = runner.invoke(cli, ["monitor", "report", "churn", "--format", "json"], env=env)
    assert report.exit_code == 0, report.output
    section = json.loads(report.stdout)["cost"]
    (entry,) = section["versions"]
    assert entry["version"] == 1 and entry["predictions"] == 220
    expected = cost_of(store.by_version("churn")[1], PRICES)
    assert entry["per_1k_predictions"]["usage"] == pytest.approx(expected.per_1k_usage)
    assert entry["per_1k_predictions"]["allocation"] == pytest.approx(expected.per_1k_allocation)
    assert section["prices"] == {"vcpu_hour": 0.031611, "gib_hour": 0.004237}
    text = runner.invoke(cli, ["monitor", "report", "churn"], env=env)
    assert text.exit_code == 0, text.output
    assert "cost (OpenCost bases" in text.stdout and "v1: 220 predictions" in text.stdout
    html = runner.invoke(cli, ["monitor", "report", "churn", "--format", "html"], env=env)
    assert html.exit_code == 0, html.output
    assert "<h2>Cost</h2>" in html.stdout and "$/1k usage" in html.stdout
