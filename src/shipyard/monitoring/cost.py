"""What serving a model version costs, as OpenCost reckons it (pure: numbers in, numbers out).

The server meters, per interval (a flush, about a minute) and per version: the predictions and
requests it answered, the CPU-seconds its predict calls used, its measured memory footprint and
how long it was resident, and what it was granted (its share of the endpoint's CPU request, and
the memory request). From those, two bases, as the OpenCost specification defines them:

- **usage**: what was used, at the hourly prices. CPU-seconds used * the vCPU price, plus
  GiB-seconds used (footprint * resident time) * the GiB price.
- **allocation**: what was reserved. Per interval, ``max(request, used)`` for CPU and for
  memory, * the interval's time * the price (OpenCost's workload cost: "the greater of requested
  and used resources"), then summed over intervals, so a burst above the request in one minute
  is not hidden by idle minutes elsewhere.

The **idle share** is ``(allocation - usage) / allocation``: the part of what was reserved that
did no work (OpenCost's workload idle). Each basis is also given per 1,000 predictions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_GIB_HOUR",
    "DEFAULT_VCPU_HOUR",
    "GIB",
    "Cost",
    "Prices",
    "Usage",
    "cost_lines",
    "cost_of",
    "cost_report",
    "dollars",
]

DEFAULT_VCPU_HOUR = 0.031611
"""Dollars per vCPU-hour (OpenCost's default on-demand CPU price)."""
DEFAULT_GIB_HOUR = 0.004237
"""Dollars per GiB-hour of memory (OpenCost's default RAM price)."""
GIB = float(1 << 30)


@dataclass(frozen=True, slots=True)
class Prices:
    """Hourly prices; a price must be zero or more."""

    vcpu_hour: float = DEFAULT_VCPU_HOUR
    gib_hour: float = DEFAULT_GIB_HOUR

    @classmethod
    def of(cls, settings: Any) -> Prices:
        """The prices in the operator's settings (``cost_vcpu_hour``, ``cost_gib_hour``)."""
        return cls(float(settings.cost_vcpu_hour), float(settings.cost_gib_hour))

    def __post_init__(self) -> None:
        for name in ("vcpu_hour", "gib_hour"):
            value = getattr(self, name)
            if not value >= 0:
                raise ValueError(f"price {name} must be zero or more dollars, got {value!r}")


@dataclass(frozen=True, slots=True)
class Usage:
    """Metered use of one version (summable: ``a + b`` adds intervals or replicas).

    ``cpu_allocated_seconds`` and ``memory_allocated_byte_seconds`` are already
    ``max(request, used)`` per interval (see :meth:`interval`)."""

    predictions: int = 0
    requests: int = 0
    cpu_seconds: float = 0.0
    memory_byte_seconds: float = 0.0
    resident_seconds: float = 0.0
    cpu_allocated_seconds: float = 0.0
    memory_allocated_byte_seconds: float = 0.0
    memory_bytes: int = field(default=0, compare=False)
    """The largest measured footprint among the summed intervals (for display)."""

    @classmethod
    def interval(
        cls,
        *,
        predictions: int,
        requests: int,
        cpu_seconds: float,
        memory_bytes: int,
        resident_seconds: float,
        cpu_request: float,
        memory_request_bytes: int,
    ) -> Usage:
        """One interval's use: ``cpu_request`` in vCPUs and ``memory_request_bytes`` were
        granted for the ``resident_seconds`` the version was loaded."""
        memory_used = memory_bytes * resident_seconds
        return cls(
            predictions=predictions,
            requests=requests,
            cpu_seconds=cpu_seconds,
            memory_byte_seconds=memory_used,
            resident_seconds=resident_seconds,
            cpu_allocated_seconds=max(cpu_request * resident_seconds, cpu_seconds),
            memory_allocated_byte_seconds=max(memory_request_bytes * resident_seconds, memory_used),
            memory_bytes=memory_bytes,
        )

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.predictions + other.predictions,
            self.requests + other.requests,
            self.cpu_seconds + other.cpu_seconds,
            self.memory_byte_seconds + other.memory_byte_seconds,
            self.resident_seconds + other.resident_seconds,
            self.cpu_allocated_seconds + other.cpu_allocated_seconds,
            self.memory_allocated_byte_seconds + other.memory_allocated_byte_seconds,
            max(self.memory_bytes, other.memory_bytes),
        )


@dataclass(frozen=True, slots=True)
class Cost:
    """Dollars on both bases, the idle share, and per 1,000 predictions (None: no
    predictions yet)."""

    usage: Usage
    prices: Prices
    usage_dollars: float
    allocation_dollars: float
    idle_share: float | None
    per_1k_usage: float | None
    per_1k_allocation: float | None

    def to_dict(self) -> dict[str, Any]:
        u = self.usage
        return {
            "predictions": u.predictions,
            "requests": u.requests,
            "cpu_seconds": u.cpu_seconds,
            "memory_bytes": u.memory_bytes,
            "gib_seconds": u.memory_byte_seconds / GIB,
            "resident_seconds": u.resident_seconds,
            "allocated_cpu_seconds": u.cpu_allocated_seconds,
            "allocated_gib_seconds": u.memory_allocated_byte_seconds / GIB,
            "usage_dollars": self.usage_dollars,
            "allocation_dollars": self.allocation_dollars,
            "idle_share": self.idle_share,
            "per_1k_predictions": {
                "usage": self.per_1k_usage,
                "allocation": self.per_1k_allocation,
            },
            "prices": {"vcpu_hour": self.prices.vcpu_hour, "gib_hour": self.prices.gib_hour},
        }


def cost_of(usage: Usage, prices: Prices) -> Cost:
    """The cost of ``usage`` at ``prices`` on both bases."""
    cpu, mem = prices.vcpu_hour / 3600.0, prices.gib_hour / 3600.0 / GIB
    used = usage.cpu_seconds * cpu + usage.memory_byte_seconds * mem
    allocated = usage.cpu_allocated_seconds * cpu + usage.memory_allocated_byte_seconds * mem
    idle = (allocated - used) / allocated if allocated > 0 else None
    n = usage.predictions
    return Cost(
        usage=usage,
        prices=prices,
        usage_dollars=used,
        allocation_dollars=allocated,
        idle_share=idle,
        per_1k_usage=used * 1000.0 / n if n else None,
        per_1k_allocation=allocated * 1000.0 / n if n else None,
    )


def cost_report(usages: Mapping[int, Usage], prices: Prices) -> dict[str, Any]:
    """The Cost section of ``shipyard monitor report`` (JSON-ready): each version's figures,
    and the model's total."""
    versions = [{"version": v, **cost_of(u, prices).to_dict()} for v, u in sorted(usages.items())]
    total = sum(usages.values(), Usage())
    return {
        "prices": {"vcpu_hour": prices.vcpu_hour, "gib_hour": prices.gib_hour},
        "versions": versions,
        "total": cost_of(total, prices).to_dict(),
    }


def cost_lines(report: Mapping[str, Any]) -> list[str]:
    """The Cost section as text lines (from :func:`cost_report`'s dict)."""
    prices = report["prices"]
    lines = [
        f"cost (OpenCost bases; ${prices['vcpu_hour']}/vCPU-hour, ${prices['gib_hour']}/GiB-hour):"
    ]
    if not report["versions"]:
        lines.append("  no metered use in this window (the server writes it every minute)")
    for entry in report["versions"]:
        per_1k = entry["per_1k_predictions"]
        idle = entry["idle_share"]
        lines.append(
            f"  v{entry['version']}: {entry['predictions']:,} predictions, "
            f"{entry['cpu_seconds']:.3f} CPU-s, {entry['memory_bytes'] / (1 << 20):.1f} MiB "
            f"loaded for {entry['resident_seconds'] / 3600:.2f} h"
        )
        lines.append(
            f"      usage ${dollars(entry['usage_dollars'])} ({_per_1k(per_1k['usage'])}), "
            f"allocation ${dollars(entry['allocation_dollars'])} "
            f"({_per_1k(per_1k['allocation'])}), idle "
            f"{'-' if idle is None else f'{idle:.1%}'}"
        )
    return lines


def _per_1k(value: float | None) -> str:
    return "no predictions" if value is None else f"${dollars(value)} per 1k predictions"


def dollars(value: float | None) -> str:
    """A dollar figure with three significant digits however small (serving a model for a
    minute costs fractions of a cent): ``1,234.57``, ``0.0312``, ``0.00000983``; ``-`` for
    None."""
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.2f}"
    decimals = max(2, 3 - math.floor(math.log10(abs(value))) - 1)
    return f"{value:.{decimals}f}"
