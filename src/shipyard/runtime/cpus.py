"""How many CPUs this process can use: its CPU affinity, capped by a cgroup CPU quota (what a
container's CPU limit sets). Read once per call; pure apart from reading those two facts."""

from __future__ import annotations

import math
import os
from pathlib import Path

__all__ = ["usable_cpus"]

_CGROUP_V2 = Path("/sys/fs/cgroup/cpu.max")
_CGROUP_V1 = (
    Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
    Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"),
)


def usable_cpus() -> float:
    """CPUs the process may run on at once: the affinity mask's size, or less when a cgroup
    quota allows less (``cpu.max`` "200000 100000" is 2.0; "max" is no quota)."""
    try:
        affinity = float(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        affinity = float(os.cpu_count() or 1)
    quota = _cgroup_quota()
    return affinity if quota is None else min(affinity, quota)


def _cgroup_quota() -> float | None:
    try:
        fields = _CGROUP_V2.read_text().split()
        if len(fields) == 2 and fields[0] != "max":
            return _ratio(fields[0], fields[1])
        return None
    except (OSError, ValueError):
        pass
    try:
        quota, period = (path.read_text().strip() for path in _CGROUP_V1)
        return None if quota.startswith("-") else _ratio(quota, period)
    except (OSError, ValueError):
        return None


def _ratio(quota: str, period: str) -> float | None:
    value = int(quota) / int(period)
    return value if value > 0 and math.isfinite(value) else None
