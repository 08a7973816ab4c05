"""SIGTERM drains: `shipyard serve` stops listening, finishes every request already in flight
with a 200, and only then exits."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from _v2_helpers import per_feature, rows

IN_FLIGHT = 6


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _in_flight(http: httpx.Client) -> float:
    text = http.get("/metrics").text
    found = re.search(
        r'^shipyard_requests_in_flight\{endpoint="churn",model="churn"\} (\S+)$', text, re.M
    )
    return float(found.group(1)) if found else 0.0


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.slow
def test_sigterm_finishes_requests_in_flight(registry_with_models: Any, churn_data: Any) -> None:
    port = _free_port()
    env = {**os.environ, "SHIPYARD_HOME": str(registry_with_models.settings.home)}
    command = [sys.executable, "-m", "shipyard", "serve", "churn@champion", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    body = orjson.dumps(per_feature(rows(churn_data, 3)))
    release = threading.Event()
    results: list[Any] = []

    def slow_body() -> Iterator[bytes]:
        # Half the body now; the rest only after the server was told to stop.
        yield body[: len(body) // 2]
        release.wait(timeout=120)
        yield body[len(body) // 2 :]

    def call() -> None:
        try:
            with httpx.Client(base_url=base, timeout=120) as client:
                results.append(client.post("/v2/models/churn/infer", content=slow_body()))
        except Exception as exc:  # recorded, then asserted on in the test's thread
            results.append(exc)

    threads = [threading.Thread(target=call) for _ in range(IN_FLIGHT)]
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
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 60
            while _in_flight(http) < IN_FLIGHT:
                assert time.monotonic() < deadline, "the requests never got in flight"
                time.sleep(0.05)
        server.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 60
        while _listening(port):  # shutting down: no new connections...
            assert time.monotonic() < deadline, "the server kept listening after SIGTERM"
            time.sleep(0.05)
        assert server.poll() is None, "the server exited with requests in flight"  # ...but alive
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=120)
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    for result in results:
        assert isinstance(result, httpx.Response), repr(result)
        assert result.status_code == 200, result.text
        assert result.headers["x-shipyard-model-version"] == "churn/1"
    assert len(results) == IN_FLIGHT
    assert server.returncode in (0, -signal.SIGTERM), err.decode()
    assert "Application shutdown complete" in err.decode()
