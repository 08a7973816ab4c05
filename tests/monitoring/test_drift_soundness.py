"""Seeded simulations: the defaults do not cry wolf, and still see real drift."""

from __future__ import annotations

import numpy as np
import scipy.stats as st

from shipyard.datasets import churn, inject_drift
from shipyard.monitoring import DriftOptions, FeatureOptions, drift_report
from shipyard.monitoring.floor import subset_w1

LEVEL_P = np.array([0.4, 0.25, 0.15, 0.12, 0.08])


def test_drift_two_sample_chi2_holds_its_level_where_evidently_does_not() -> None:
    rng = np.random.default_rng(0)
    kinds = {"c": "categorical"}
    flagged = {"default": 0, "evidently": 0}
    trials = 200
    for _ in range(trials):
        ref = {"c": rng.choice(5, 1000, p=LEVEL_P)}
        cur = {"c": rng.choice(5, 30_000, p=LEVEL_P)}
        assert drift_report(ref, cur, kinds)["c"].test == "chi2"
        flagged["default"] += drift_report(ref, cur, kinds)["c"].drifted
        compat = DriftOptions(compat="evidently")
        flagged["evidently"] += drift_report(ref, cur, kinds, options=compat)["c"].drifted
    assert flagged["default"] / trials <= 0.10
    assert flagged["evidently"] / trials >= 0.50


def test_drift_noise_floor_stops_small_window_false_alarms() -> None:
    rng = np.random.default_rng(1)
    raw = alarms = 0
    trials = 200
    for _ in range(trials):
        ref = {"x": rng.normal(size=1001)}
        cur = {"x": rng.normal(size=34)}
        feature = drift_report(ref, cur, {"x": "numeric"})["x"]
        assert feature.test == "wasserstein" and feature.noise_floor is not None
        raw += feature.statistic is not None and feature.statistic >= 0.1
        alarms += feature.drifted
    assert raw / trials >= 0.9
    assert alarms / trials <= 0.10


def test_drift_noise_floor_subsets_are_exact() -> None:
    rng = np.random.default_rng(2)
    r = np.sort(np.round(rng.lognormal(size=300), 1))
    subsets = np.sort(np.stack([rng.choice(300, 40, replace=False) for _ in range(4)]), axis=1)
    ours = subset_w1(r, subsets) * 300 / 260
    for w, idx in zip(ours, subsets, strict=True):
        assert abs(w - st.wasserstein_distance(np.delete(r, idx), r[idx])) < 1e-12


def test_drift_injected_shift_is_detected_and_only_there() -> None:
    data = churn(5000, seed=0)
    reference = data.X
    shifted = ["monthly_charges", "contract"]
    current = inject_drift(churn(5000, seed=1).X, columns=shifted, strength=0.5)
    report = drift_report(reference, current)
    assert sorted(report.drifted_features) == sorted(shifted)
    assert report.share == 2 / len(data.features)
    assert not report.drifted


def test_drift_trivial_shift_on_a_million_rows_is_not_an_alarm() -> None:
    rng = np.random.default_rng(3)
    ref = {"x": rng.normal(size=1_000_000), "c": rng.choice(4, 1_000_000, p=[0.4, 0.3, 0.2, 0.1])}
    cur = {
        "x": rng.normal(0.02, 1.0, 1_000_000),
        "c": rng.choice(4, 1_000_000, p=[0.41, 0.3, 0.2, 0.09]),
    }
    kinds = {"x": "numeric", "c": "categorical"}
    tests = {"x": FeatureOptions(test="ks"), "c": FeatureOptions(test="chi2")}
    report = drift_report(ref, cur, kinds, options=DriftOptions(features=tests))
    for name in kinds:
        assert report[name].p_value is not None and report[name].p_value < 1e-6
        assert not report[name].drifted
    no_floor = {n: FeatureOptions(test=o.test, min_effect=0.0) for n, o in tests.items()}
    report = drift_report(ref, cur, kinds, options=DriftOptions(features=no_floor))
    assert report.drifted_features == ["x", "c"]


def test_drift_benjamini_hochberg_reduces_false_discoveries() -> None:
    rng = np.random.default_rng(4)
    names = [f"f{i}" for i in range(25)]
    kinds = dict.fromkeys(names, "categorical")
    no_floor = {n: FeatureOptions(min_effect=0.0) for n in names}
    any_raw = any_bh = 0
    trials = 120
    for _ in range(trials):
        ref = {n: rng.choice(4, 400, p=[0.4, 0.3, 0.2, 0.1]) for n in names}
        cur = {n: rng.choice(4, 300, p=[0.4, 0.3, 0.2, 0.1]) for n in names}
        raw = drift_report(ref, cur, kinds, options=DriftOptions(features=no_floor, workers=1))
        bh = drift_report(
            ref, cur, kinds, options=DriftOptions(features=no_floor, fdr=True, workers=1)
        )
        any_raw += raw.n_drifted > 0
        any_bh += bh.n_drifted > 0
    assert any_raw / trials >= 0.5  # 1 - 0.95^25 ≈ 0.72
    assert any_bh / trials <= 0.10  # under the global null BH controls the family-wise rate
