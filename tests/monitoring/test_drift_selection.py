"""The default test per feature follows Evidently's rules; every choice can be overridden."""

from __future__ import annotations

import numpy as np
import pytest

from shipyard.errors import InvalidInputError
from shipyard.monitoring import METHODS, DriftOptions, FeatureOptions, default_method, drift_report


@pytest.mark.parametrize(
    ("kind", "n_reference", "n_values", "expected"),
    [
        ("numeric", 1000, 6, "ks"),
        ("numeric", 1000, 5, "chi2"),
        ("numeric", 1000, 3, "chi2"),
        ("numeric", 1000, 2, "z"),
        ("numeric", 30, 1, "z"),
        ("categorical", 1000, 8, "chi2"),
        ("categorical", 500, 2, "z"),
        ("boolean", 1000, 2, "z"),
        ("numeric", 1001, 6, "wasserstein"),
        ("numeric", 1001, 5, "jensenshannon"),
        ("numeric", 1001, 2, "jensenshannon"),
        ("categorical", 1001, 8, "jensenshannon"),
        ("categorical", 1001, 2, "jensenshannon"),
        ("boolean", 5000, 2, "jensenshannon"),
    ],
)
def test_drift_default_test_table(
    kind: str, n_reference: int, n_values: int, expected: str
) -> None:
    name, reason = default_method(kind, n_reference, n_values)  # type: ignore[arg-type]
    assert name == expected
    assert str(n_reference) in reason and str(n_values) in reason


def test_drift_report_applies_the_default_choice() -> None:
    rng = np.random.default_rng(0)
    small = {"x": rng.normal(size=800), "c": rng.choice(["a", "b", "c"], 800)}
    large = {"x": rng.normal(size=2000), "c": rng.choice(["a", "b", "c"], 2000)}
    current = {"x": rng.normal(size=300), "c": rng.choice(["a", "b", "c"], 300)}
    kinds = {"x": "numeric", "c": "categorical"}
    report = drift_report(small, current, kinds)
    assert [f.test for f in report.features] == ["ks", "chi2"]
    report = drift_report(large, current, kinds)
    assert [f.test for f in report.features] == ["wasserstein", "jensenshannon"]
    assert "> 1000" in report["x"].reason


def test_drift_test_and_threshold_are_overridable_per_feature() -> None:
    rng = np.random.default_rng(1)
    ref = {"x": rng.normal(size=2000)}
    cur = {"x": rng.normal(0.3, 1.0, 500)}
    for name in METHODS:
        if name == "z":
            continue
        opts = DriftOptions(features={"x": FeatureOptions(test=name, threshold=0.5)})
        feature = drift_report(ref, cur, {"x": "numeric"}, options=opts)["x"]
        assert feature.test == name and feature.threshold == 0.5
        assert feature.reason == "set for this feature"


def test_drift_rejects_unknown_or_unfit_tests() -> None:
    ref = {"c": np.array(["a", "b", "c"] * 10)}
    with pytest.raises(InvalidInputError, match="unknown drift test"):
        drift_report(ref, ref, options=DriftOptions(features={"c": FeatureOptions(test="nope")}))
    with pytest.raises(InvalidInputError, match="does not apply"):
        drift_report(ref, ref, options=DriftOptions(features={"c": FeatureOptions(test="ks")}))
    with pytest.raises(InvalidInputError, match="two levels"):
        drift_report(ref, ref, options=DriftOptions(features={"c": FeatureOptions(test="z")}))
