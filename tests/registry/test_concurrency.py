"""Eight processes registering versions of one model at once get distinct, gap-free numbers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from shipyard.registry.audit import verify_chain

WORKER = Path(__file__).with_name("_worker.py")


@pytest.mark.slow
def test_eight_processes_get_gap_free_version_numbers(
    registry: Any, settings: Any, tmp_path: Path
) -> None:
    per_process, processes = 3, 8
    go = tmp_path / "go"
    env = {
        **os.environ,
        "SHIPYARD_HOME": str(settings.home),
        "SHIPYARD_DATABASE_URL": settings.resolved_database_url,
    }
    # One parent forks the eight registering processes (see _worker.py); each waits for `go`.
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), "concurrent", str(per_process), str(go), str(processes)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", "the worker died while starting"
    go.touch()  # all eight are forked and waiting: they start together
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    got = sorted(int(line) for line in out.split())
    total = per_process * processes
    assert got == list(range(1, total + 1))
    assert [v.version for v in registry.list_versions("churn")] == list(range(1, total + 1))
    assert verify_chain(registry.store.audit_entries()) is None
    assert sum(e.action == "model.create" for e in registry.store.audit_entries()) == 1
