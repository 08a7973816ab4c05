"""A registration killed with SIGKILL at any point never leaves a version whose artifacts are
missing or corrupt, and a retry succeeds."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from shipyard.registry.audit import verify_chain

WORKER = Path(__file__).with_name("_worker.py")
KILLS_INSIDE = 20  # kills that must land before the registration finished
MAX_ATTEMPTS = 60


def _check_consistent(registry: Any, loaded: set[int] | None = None) -> list[int]:
    """Every version's artifacts are present and match their digests, and every version loads.
    With ``loaded`` (the versions a previous check loaded), only the others are loaded again: a
    version's row never changes, and bytes matching its digests are the bytes that loaded."""
    versions = registry.list_versions("churn") if registry.list_models() else []
    numbers = [v.version for v in versions]
    assert numbers == list(range(1, len(numbers) + 1))
    for v in versions:
        for digest in (v.artifact_digest, v.profile_digest, v.sample_digest):
            assert registry.artifacts.get(digest)  # present and matching its digest
        if loaded is None or v.version not in loaded:
            registry.load(v.ref)
            if loaded is not None:
                loaded.add(v.version)
    assert verify_chain(registry.store.audit_entries()) is None
    return numbers


def _line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line, "the worker died"
    return line


def _go(proc: subprocess.Popen[str]) -> int:
    assert proc.stdin is not None
    proc.stdin.write("go\n")
    proc.stdin.flush()
    line = _line(proc)
    assert line.startswith("pid "), line
    return int(line.split()[1])


@pytest.mark.slow
def test_sigkill_during_registration_never_leaves_a_broken_version(
    registry: Any, settings: Any
) -> None:
    env = {
        **os.environ,
        "SHIPYARD_HOME": str(settings.home),
        "SHIPYARD_DATABASE_URL": settings.resolved_database_url,
    }
    with subprocess.Popen(
        [sys.executable, str(WORKER), "zygote"],
        env=env,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as proc:
        _exercise(proc, registry)
        proc.kill()


def _exercise(proc: subprocess.Popen[str], registry: Any) -> None:
    assert _line(proc) == "ready"
    # One whole registration, timed by the worker, so kill points spread over all of it.
    _go(proc)
    done = _line(proc)
    assert done.startswith("done "), done
    assert _line(proc) == "exit status 0"
    duration = float(done.split()[1])
    assert _check_consistent(registry) == [1]

    rng = random.Random(20261127)
    loaded = {1}
    inside = attempts = 0
    while inside < KILLS_INSIDE and attempts < MAX_ATTEMPTS:
        pid = _go(proc)
        time.sleep(duration * rng.random())
        with contextlib.suppress(ProcessLookupError):  # it may have finished already
            os.kill(pid, signal.SIGKILL)
        outcome = _line(proc)
        if outcome.startswith("done"):
            outcome = _line(proc)
        else:
            inside += 1
        assert outcome in ("exit killed", "exit status 0"), outcome
        attempts += 1
        _check_consistent(registry, loaded)
    assert inside >= KILLS_INSIDE, f"only {inside} of {attempts} kills landed mid-registration"

    before = _check_consistent(registry, loaded)
    _go(proc)
    assert _line(proc).startswith("done")
    assert _line(proc) == "exit status 0"
    after = _check_consistent(registry)  # every version loaded once more
    assert after == [*before, len(before) + 1]
