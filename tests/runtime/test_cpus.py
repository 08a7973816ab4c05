"""Usable CPUs: the affinity mask, capped by a cgroup CPU quota."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from shipyard.runtime import batcher, cpus


def _quota(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    v2: str | None,
    v1: tuple[str, str] | None = None,
) -> None:
    path = tmp_path / "cpu.max"
    if v2 is not None:
        path.write_text(v2)
    else:
        path.unlink(missing_ok=True)
    monkeypatch.setattr(cpus, "_CGROUP_V2", path)
    quota, period = tmp_path / "quota", tmp_path / "period"
    if v1 is not None:
        quota.write_text(v1[0])
        period.write_text(v1[1])
    monkeypatch.setattr(cpus, "_CGROUP_V1", (quota, period))


def test_a_cgroup_quota_caps_the_affinity(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    _quota(monkeypatch, tmp_path, "50000 100000\n")
    assert cpus.usable_cpus() == min(affinity, 0.5)
    _quota(monkeypatch, tmp_path, "max 100000\n")
    assert cpus.usable_cpus() == affinity
    _quota(monkeypatch, tmp_path, None, ("150000\n", "100000\n"))  # cgroup v1
    assert cpus.usable_cpus() == min(affinity, 1.5)
    _quota(monkeypatch, tmp_path, None, ("-1\n", "100000\n"))
    assert cpus.usable_cpus() == affinity
    _quota(monkeypatch, tmp_path, "garbage\n")
    assert cpus.usable_cpus() == affinity


def test_one_cpu_raises_the_inline_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """On one CPU the worker thread never runs beside the event loop, so only a long prediction
    is worth the hop."""
    monkeypatch.setattr(cpus, "usable_cpus", lambda: 1.0)
    assert batcher.MicroBatcher("m").inline_max_seconds == batcher.INLINE_MAX_SECONDS_ONE_CPU
    monkeypatch.setattr(cpus, "usable_cpus", lambda: 4.0)
    assert batcher.MicroBatcher("m").inline_max_seconds == batcher.INLINE_MAX_SECONDS
    assert batcher.MicroBatcher("m", inline_max_seconds=0.0).inline_max_seconds == 0.0
