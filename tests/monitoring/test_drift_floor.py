"""The Wasserstein noise floor at window sizes past the resampling cap."""

from __future__ import annotations

import numpy as np
import pytest

from shipyard.monitoring import DriftOptions, FeatureOptions, drift_report
from shipyard.monitoring.floor import effective_rows, wasserstein_floor


def test_drift_floor_scaled_past_the_cap_matches_a_direct_resampling() -> None:
    rng = np.random.default_rng(0)
    reference = np.sort(rng.lognormal(0.0, 0.5, 20_000))
    scale = float(np.std(reference))
    scaled, direct = (
        wasserstein_floor(
            reference,
            scale,
            4000,
            n_resamples=2000,
            quantile=0.95,
            rng=np.random.default_rng(seed),
            max_rows=max_rows,
        )
        for seed, max_rows in ((1, 1000), (2, 4000))
    )
    assert scaled is not None and direct is not None
    assert scaled[1] == 1000 and direct[1] == 4000
    # the direct floor is for 4,000 rows against the other 16,000; bring it to 4,000 vs 20,000
    target = direct[0] * np.sqrt(effective_rows(4000, 16_000) / effective_rows(4000, 20_000))
    assert scaled[0] == pytest.approx(target, rel=0.1)


def test_drift_floor_holds_its_level_on_large_windows() -> None:
    """With the threshold at 0 only the floor decides: about 5% alarms under no drift.

    The old capped floor (the noise of 1,000 rows) would give almost none on 5,000-row windows,
    so this also checks that the floor is not needlessly blunt.
    """
    rng = np.random.default_rng(3)
    opts = DriftOptions(features={"x": FeatureOptions(threshold=0.0)}, workers=1)
    trials, alarms = 200, 0
    for _ in range(trials):
        ref = {"x": rng.normal(size=20_000)}
        cur = {"x": rng.normal(size=5000)}
        feature = drift_report(ref, cur, {"x": "numeric"}, options=opts)["x"]
        assert feature.test == "wasserstein" and feature.floor_rows == 1000
        alarms += feature.drifted
    assert 0.01 <= alarms / trials <= 0.10


def test_drift_floor_is_reported_for_a_window_as_large_as_the_reference() -> None:
    rng = np.random.default_rng(4)
    ref = {"x": rng.normal(size=50_000)}
    cur = {"x": rng.normal(0.3, 1.0, 50_000)}
    feature = drift_report(ref, cur, {"x": "numeric"})["x"]
    assert feature.noise_floor is not None and 0.0 < feature.noise_floor < 0.05
    assert feature.drifted
