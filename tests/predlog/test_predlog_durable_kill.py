"""SIGKILL of a process appending in durable mode loses no acknowledged prediction."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from shipyard.predlog import PredictionStore
from shipyard.predlog.schema import predictions

WORKER = Path(__file__).with_name("_predlog_worker.py")


def test_sigkill_loses_no_acknowledged_durable_record(database_url: str) -> None:
    PredictionStore(database_url).dispose()  # schema first, so the kill lands on inserts
    with subprocess.Popen(
        [sys.executable, str(WORKER), database_url, "100000", "16"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as proc:
        acknowledged = _acknowledged_until_killed(proc)
    assert len(acknowledged) < 100_000, "the kill landed after the worker finished"

    store = PredictionStore(database_url)
    with store.read() as conn:
        stored = set(conn.execute(sa.select(predictions.c.request_id)).scalars())
    store.dispose()
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} acknowledged records lost, e.g. {sorted(missing)[:5]}"
    assert len(set(acknowledged)) == len(acknowledged)


def _acknowledged_until_killed(proc: subprocess.Popen[str]) -> list[str]:
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    acknowledged: list[str] = []
    while len(acknowledged) < 400:
        line = proc.stdout.readline()
        assert line, "the worker died before it was killed"
        acknowledged.append(line.strip())
    os.kill(proc.pid, signal.SIGKILL)
    rest = proc.stdout.read()
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # A line cut by the kill was never fully printed, so it does not count as acknowledged.
    acknowledged += [line for line in rest.split("\n")[:-1] if line]
    return acknowledged
