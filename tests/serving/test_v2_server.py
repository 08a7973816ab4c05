"""The server as users run it: `shipyard serve` under uvicorn on loopback, and its endpoints."""

from __future__ import annotations

import os
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
from shipyard.errors import InvalidInputError, NotFoundError
from shipyard.registry.endpoints import EndpointStore
from shipyard.serving.server import build_app, check_bind


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_shipyard_serve_end_to_end(registry_with_models: Any, churn_data: Any, oip: Any) -> None:
    port = _free_port()
    env = {**os.environ, "SHIPYARD_HOME": str(registry_with_models.settings.home)}
    command = [sys.executable, "-m", "shipyard", "serve", "churn@champion", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            deadline = time.monotonic() + 120
            while True:
                assert server.poll() is None, server.communicate()[1].decode()
                try:
                    if http.get("/v2/health/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server never became ready"
                time.sleep(0.1)
            X = rows(churn_data, 3)
            response = http.post("/v2/models/churn/infer", json=per_feature(X, id="e2e"))
            assert response.status_code == 200, response.text
            oip("inference_response", response.json())
            expected = registry_with_models.load("churn@champion").predict(X).tolist()
            assert response.json()["outputs"][0]["data"] == expected
            assert response.headers["x-request-id"] == "e2e"
            assert http.post("/v2/models/churn/infer", content=b"{").status_code == 400
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells why.
    assert server.returncode in (0, -signal.SIGTERM), err.decode()
    assert "now serving churn/1" in err.decode()
    assert "Application shutdown complete" in err.decode()


def test_non_loopback_needs_insecure(registry_with_models: Any) -> None:
    for host in ("127.0.0.1", "127.1.2.3", "::1", "localhost"):
        check_bind(host, insecure=False)
    check_bind("0.0.0.0", insecure=True)
    with pytest.raises(InvalidInputError, match="--insecure"):
        check_bind("0.0.0.0", insecure=False)
    result = CliRunner().invoke(cli, ["serve", "churn", "--host", "10.1.2.3"])
    assert result.exit_code == 2
    assert "API keys" in result.output and "--insecure" in result.output


def test_endpoints_come_from_refs_or_the_store(registry_with_models: Any) -> None:
    registry = registry_with_models
    store = EndpointStore(registry.db)
    with pytest.raises(NotFoundError, match="no endpoints to serve yet"):
        build_app(registry, [])
    app = build_app(registry, ["churn@champion", "numeric/1"])
    assert {n: h.ref for n, h in app.hosts.items()} == {
        "churn": "churn@champion",
        "numeric": "numeric/1",
    }
    assert [e.main.ref for e in store.list()] == ["churn@champion", "numeric/1"]
    assert set(build_app(registry, None).hosts) == {"churn", "numeric"}  # all in the store
    build_app(registry, ["numeric@champion"])  # re-points the endpoint's main variant
    assert store.get("numeric").main.ref == "numeric@champion"
    with pytest.raises(InvalidInputError, match="given twice"):
        build_app(registry, ["churn@champion", "churn/2"])
    with pytest.raises(NotFoundError, match="no alias 'canary'"):
        build_app(registry, ["churn@canary"])
