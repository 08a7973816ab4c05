"""The cost figures on OpenCost's two bases, checked against figures worked out by hand."""

from __future__ import annotations

import pytest

from shipyard.monitoring.cost import (
    DEFAULT_GIB_HOUR,
    DEFAULT_VCPU_HOUR,
    GIB,
    Prices,
    Usage,
    cost_lines,
    cost_of,
    cost_report,
)

# $0.036 per vCPU-hour is $0.00001 per CPU-second; $0.0036 per GiB-hour is $0.000001 per GiB-s.
ROUND = Prices(vcpu_hour=0.036, gib_hour=0.0036)


def _minute(cpu: float, *, memory: float = 0.5 * GIB, predictions: int = 2000) -> Usage:
    return Usage.interval(
        predictions=predictions,
        requests=predictions // 4,
        cpu_seconds=cpu,
        memory_bytes=int(memory),
        resident_seconds=60.0,
        cpu_request=1.0,
        memory_request_bytes=int(GIB),
    )


def test_one_interval_by_hand() -> None:
    cost = cost_of(_minute(30.0), ROUND)
    # usage: 30 CPU-s x 1e-5 + (0.5 GiB x 60 s) x 1e-6 = 3e-4 + 3e-5
    assert cost.usage_dollars == pytest.approx(3.3e-4)
    # allocation: max(1 vCPU x 60 s, 30) x 1e-5 + max(1 GiB x 60 s, 30 GiB-s) x 1e-6
    assert cost.allocation_dollars == pytest.approx(6.6e-4)
    assert cost.idle_share == pytest.approx(0.5)
    assert cost.per_1k_usage == pytest.approx(3.3e-4 / 2)  # 2,000 predictions
    assert cost.per_1k_allocation == pytest.approx(6.6e-4 / 2)


def test_allocation_takes_the_max_per_interval_not_over_the_sums() -> None:
    burst, idle = _minute(90.0), _minute(0.0, predictions=0)  # 1.5 vCPUs used, then none
    total = burst + idle
    assert total.cpu_seconds == 90.0 and total.predictions == 2000
    # per interval: max(60, 90) + max(60, 0) = 150 CPU-s, not max(120, 90) = 120
    assert total.cpu_allocated_seconds == pytest.approx(150.0)
    cost = cost_of(total, ROUND)
    memory_used = 2 * 0.5 * 60 * 1e-6
    memory_allocated = 2 * 1 * 60 * 1e-6
    assert cost.usage_dollars == pytest.approx(90 * 1e-5 + memory_used)
    assert cost.allocation_dollars == pytest.approx(150 * 1e-5 + memory_allocated)
    idle_share = (cost.allocation_dollars - cost.usage_dollars) / cost.allocation_dollars
    assert cost.idle_share == pytest.approx(idle_share)
    assert 0 < idle_share < 1


def test_default_prices_a_fully_used_vcpu_and_gib_hour() -> None:
    hour = Usage.interval(
        predictions=1_000_000,
        requests=1_000_000,
        cpu_seconds=3600.0,
        memory_bytes=int(GIB),
        resident_seconds=3600.0,
        cpu_request=1.0,
        memory_request_bytes=0,  # the default: the measured footprint is the request
    )
    cost = cost_of(hour, Prices())
    assert (DEFAULT_VCPU_HOUR, DEFAULT_GIB_HOUR) == (0.031611, 0.004237)
    assert cost.usage_dollars == pytest.approx(0.031611 + 0.004237)
    assert cost.allocation_dollars == pytest.approx(cost.usage_dollars)
    assert cost.idle_share == pytest.approx(0.0)
    assert cost.per_1k_usage == pytest.approx(0.035848 / 1000)


def test_no_predictions_and_nothing_allocated() -> None:
    cost = cost_of(Usage(), ROUND)
    assert (cost.usage_dollars, cost.allocation_dollars) == (0.0, 0.0)
    assert cost.idle_share is None and cost.per_1k_usage is None
    assert cost.per_1k_allocation is None
    with pytest.raises(ValueError, match="vcpu_hour"):
        Prices(vcpu_hour=-1.0)


def test_report_section_per_version_and_total() -> None:
    report = cost_report({2: _minute(30.0), 1: _minute(10.0, predictions=0)}, ROUND)
    assert [v["version"] for v in report["versions"]] == [1, 2]
    assert report["versions"][1]["usage_dollars"] == pytest.approx(3.3e-4)
    assert report["versions"][0]["per_1k_predictions"]["usage"] is None
    assert report["total"]["predictions"] == 2000
    assert report["total"]["cpu_seconds"] == pytest.approx(40.0)
    lines = cost_lines(report)
    assert lines[0].startswith("cost (OpenCost bases; $0.036/vCPU-hour")
    assert any("v2: 2,000 predictions, 30.000 CPU-s, 512.0 MiB" in line for line in lines)
    assert any("idle 50.0%" in line for line in lines)
    assert "no metered use" in cost_lines(cost_report({}, ROUND))[1]
