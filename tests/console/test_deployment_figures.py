"""The Deployment page's live figures, pure: the server's cumulative counters per variant, and
the per-second figures taken from differences between two snapshots."""

from __future__ import annotations

import pytest

from shipyard.console.live import LiveSeries, quantile, since_start, window_figures
from shipyard.serving.metrics import DURATION_BUCKETS, Metrics, VariantTotals


def test_variant_totals_sum_versions_and_statuses_per_variant() -> None:
    metrics = Metrics()
    metrics.observe_request("churn", "churn", "2", "main", 200, 0.002)
    metrics.observe_request("churn", "churn", "2", "main", 503, 0.004)
    metrics.observe_request("churn", "churn", "3", "main", 200, 0.002)  # after a hot swap
    metrics.observe_request("churn", "churn", "1", "candidate", 200, 0.03)
    metrics.observe_request("churn", "churn", "1", "", 200, 0.03)  # named its version
    metrics.observe_request("house", "house", "1", "main", 200, 0.001)
    totals = metrics.variant_totals("churn")
    assert set(totals) == {"main", "candidate"}
    main = totals["main"]
    assert (main.requests, main.errors) == (3, 1)
    assert sum(main.buckets) == 3 and len(main.buckets) == len(DURATION_BUCKETS) + 1
    assert main.buckets[DURATION_BUCKETS.index(0.0025)] == 2
    assert main.seconds == pytest.approx(0.008)
    assert totals["candidate"].requests == 1 and totals["candidate"].errors == 0
    assert metrics.variant_totals("ghost") == {}


def test_quantile_interpolates_inside_its_bucket() -> None:
    bounds = (0.001, 0.002, 0.004)
    assert quantile(bounds, [0, 0, 0, 0], 0.5) is None
    assert quantile(bounds, [10, 0, 0, 0], 0.5) == pytest.approx(0.0005)
    assert quantile(bounds, [0, 10, 0, 0], 0.5) == pytest.approx(0.0015)
    # 99 fast and 1 slow request: p50 among the fast ones, p99 at the fast bucket's top.
    assert quantile(bounds, [99, 0, 1, 0], 0.5) == pytest.approx(0.0005 * 100 / 99, rel=1e-6)
    assert quantile(bounds, [99, 0, 1, 0], 0.99) == pytest.approx(0.001)
    assert quantile(bounds, [50, 0, 50, 0], 0.99) == pytest.approx(0.00396)
    assert quantile(bounds, [0, 0, 0, 5], 0.5) == 0.004  # past the last bound: that bound


def _totals(requests: int, errors: int, fast: int, slow: int) -> VariantTotals:
    buckets = [0] * (len(DURATION_BUCKETS) + 1)
    buckets[1], buckets[7] = fast, slow  # (0.5 ms, 1 ms] and (50 ms, 100 ms]
    return VariantTotals(requests, errors, tuple(buckets), 0.0)


def test_window_figures_come_from_differences() -> None:
    before = _totals(100, 1, 100, 0)
    after = _totals(300, 11, 290, 10)  # 200 more, 10 of them failed, 10 slow
    f = window_figures(before, after, 2.0, DURATION_BUCKETS)
    assert (f.rps, f.requests, f.total) == (100.0, 200, 300)
    assert f.error_rate == pytest.approx(10 / 200)
    assert f.p50_ms is not None and 0.5 < f.p50_ms <= 1.0
    assert f.p99_ms is not None and 50.0 < f.p99_ms <= 100.0
    idle = window_figures(after, after, 1.0, DURATION_BUCKETS)
    assert (idle.rps, idle.error_rate, idle.p50_ms, idle.p99_ms) == (0.0, None, None, None)
    fresh = window_figures(None, _totals(4, 0, 4, 0), 1.0, DURATION_BUCKETS)  # a new variant
    assert fresh.requests == 4 and fresh.rps == 4.0
    assert since_start({"main": after}, DURATION_BUCKETS)["main"].error_rate == pytest.approx(
        11 / 300
    )


def test_a_live_series_keeps_the_last_minutes_one_point_a_step() -> None:
    series = LiveSeries(DURATION_BUCKETS, step=1.0, keep=10.0)
    assert series.sample({"main": _totals(0, 0, 0, 0)}, 100.0) is None  # the first snapshot
    assert series.sample({"main": _totals(5, 0, 5, 0)}, 100.5) is None  # too soon
    point = series.sample({"main": _totals(10, 0, 10, 0)}, 101.0)
    assert point is not None and point.variants["main"].rps == 10.0
    assert point.to_dict()["variants"]["main"]["requests"] == 10
    for i in range(2, 20):
        series.sample({"main": _totals(10 * i, 0, 10 * i, 0)}, 100.0 + i)
    times = [p.t for p in series.points]
    assert times[0] >= 119.0 - 10.0 and times[-1] == 119.0
    assert [p.t for p in series.after(117_000)] == [118.0, 119.0]
    assert [p.id for p in series.after(118_000)] == [119_000]
    assert series.latest is not None and series.latest.t == 119.0
