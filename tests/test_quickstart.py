"""`shipyard quickstart` runs end to end on the embedded default store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shipyard.quickstart import run
from shipyard.registry.client import Registry
from shipyard.settings import Settings


@dataclass(frozen=True)
class Demo:
    home: Path
    settings: Settings
    result: dict[str, Any]
    lines: list[str]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """One run of the demo (a minute of work), read by the tests below; none changes it."""
    home = tmp_path_factory.mktemp("quickstart") / "home"
    settings = Settings(home=home)
    lines: list[str] = []
    return Demo(home, settings, run(settings, echo=lines.append), lines)


def test_quickstart_registers_promotes_loads_and_predicts(demo: Demo) -> None:
    settings, result, lines = demo.settings, demo.result, demo.lines
    assert result["version"].ref == "churn/1"
    assert result["metrics"]["auc"] > 0.75
    assert len(result["predictions"]) == 3
    served = result["served"]
    assert served["status"] == [200, 200]
    assert served["v2"] == served["mlflow"] == [int(p) for p in result["predictions"][:2]]
    assert any("churn@champion" in line for line in lines)
    assert any(line.strip() == "shipyard audit verify" for line in lines)

    canary = result["canary"]  # a retrained churn/2, promoted by the server's canary
    assert canary["version"] == 2 and canary["promoted"] and canary["champion"] == 2

    registry = Registry(settings)
    assert registry.get_version("churn@champion").version == 2
    moves = registry.alias_history("churn", "champion")
    assert [m.to_version for m in moves] == [1, 2]
    assert any(e.action.startswith("rollout.") for e in registry.audit_log())
    version = registry.get_version("churn/1")
    assert version.tags == {"source": "quickstart"}
    assert registry.reference_profile("churn/1")["n_rows"] == 3750
    assert registry.verify_audit() >= 4
    actions = {e.action for e in registry.audit_log()}
    assert {"model.create", "version.register", "alias.set"} <= actions
    assert (demo.home / "registry.db").exists()
    registry.close()


def test_quickstart_monitor_flags_exactly_the_shifted_features_and_alerts_the_webhook(
    demo: Demo,
) -> None:
    from shipyard.monitoring.store import MonitorStore
    from shipyard.quickstart import DRIFTED

    settings, lines = demo.settings, demo.lines
    monitor = demo.result["monitor"]
    normal, drifted = monitor["normal"], monitor["drifted"]
    # every served row was logged and monitored, each batch in its own window
    assert normal.rows == drifted.rows == 600
    assert normal.drifted_features == [] and normal.status == "ok" and normal.alerts == []
    assert sorted(drifted.drifted_features) == sorted(DRIFTED)
    assert drifted.status == "alert"
    # the alert reached the webhook receiver the demo started
    (received,) = monitor["received"]
    assert received["rule"] == "churn-drift" and received["state"] == "firing"
    assert received["labels"] == {"model": "churn", "version": "1"}
    assert drifted.alerts[0]["delivered"] == ["ops-webhook"]
    assert monitor["labelled"] == 1200  # every label matched a logged prediction
    for result in (normal, drifted):
        assert result.performance is not None and result.performance.n_labelled == 600
        assert 0.6 < (result.performance.metrics["accuracy"] or 0) <= 1.0
        assert "accuracy" in result.performance.delta
    assert any("exactly the shifted features were flagged" in line for line in lines)

    registry = Registry(settings)
    runs = MonitorStore(registry.db).runs("churn")
    assert [r.status for r in runs] == ["ok", "alert"]
    assert [e.rule for e in MonitorStore(registry.db).events("churn")] == ["churn-drift"]
    registry.close()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(home: Path) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env["SHIPYARD_HOME"] = str(home)
    return env


def test_keep_serving_leaves_the_server_and_console_running(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import threading

    import httpx

    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "shipyard",
        "quickstart",
        "--keep-serving",
        "--port",
        str(port),
    ]
    server = subprocess.Popen(
        command, env=_env(tmp_path / "home"), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    lines: list[str] = []
    console_seen = threading.Event()

    def read() -> None:
        assert server.stdout is not None
        for raw in server.stdout:
            lines.append(raw.decode())
            if raw.decode().strip().startswith("console"):
                console_seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert console_seen.wait(600), "".join(lines[-20:])
        url = next(line.split()[-1] for line in lines if line.strip().startswith("console"))
        assert url == f"http://127.0.0.1:{port}/ui/"
        page = None
        for _ in range(600):  # the server starts listening just after the line is printed
            try:
                page = httpx.get(url + "models", timeout=10)
                break
            except httpx.TransportError:
                threading.Event().wait(0.1)
        assert page is not None, "the console never answered"
        assert page.status_code == 200 and "churn" in page.text
        ready = f"http://127.0.0.1:{port}/v2/models/churn/ready"
        for _ in range(3000):  # the model loads and warms in the background (300 s, shared machine)
            if httpx.get(ready, timeout=10).status_code == 200:
                break
            threading.Event().wait(0.1)
        assert httpx.get(ready, timeout=10).status_code == 200
        assert server.poll() is None  # still serving after answering
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
            raise
        finally:
            for pipe in (server.stdout, server.stderr):
                if pipe is not None:
                    pipe.close()
    assert server.returncode == 0


def test_keep_serving_refuses_a_taken_port_before_the_demo(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "shipyard", "quickstart", "--keep-serving", "--port", str(port)],
            env=_env(tmp_path / "home"),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode != 0
    assert "--port" in done.stderr and str(port) in done.stderr
    assert not (tmp_path / "home" / "registry.db").exists()  # the demo did not start
