"""The report's shape and the edge cases: DataFrames, missing values, unseen levels, JSON."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shipyard.datasets import house_prices, inject_drift
from shipyard.errors import InvalidInputError
from shipyard.monitoring import METHODS, DriftOptions, FeatureOptions, drift_report
from shipyard.monitoring.stats.binning import shared_levels


def test_drift_report_is_json_ready_and_says_why() -> None:
    data = house_prices(3000, seed=0)
    current = inject_drift(house_prices(800, seed=1).X, columns=["area_sqm"], strength=1.0)
    report = drift_report(data.X, current)
    doc = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert doc["n_reference"] == 3000 and doc["n_current"] == 800
    area = next(f for f in doc["features"] if f["name"] == "area_sqm")
    assert area["test"] == "wasserstein" and area["drifted"] is True
    assert area["noise_floor"] is not None and area["noise_floor"] < area["statistic"]
    assert "numeric" in area["reason"] and area["rule"] == "distance >= 0.1"
    assert set(area["missing"]) >= {"reference_share", "current_share", "p_value", "drifted"}
    assert report.drifted_features == ["area_sqm"]
    with pytest.raises(KeyError):
        report["nope"]


def test_drift_report_is_deterministic() -> None:
    rng = np.random.default_rng(0)
    ref = {"x": rng.normal(size=2000), "c": rng.choice(list("abcd"), 2000)}
    cur = {"x": rng.normal(size=50), "c": rng.choice(list("abcd"), 50)}
    one = drift_report(ref, cur).to_dict()
    assert drift_report(ref, cur, options=DriftOptions(workers=1)).to_dict() == one
    assert drift_report(ref, cur, options=DriftOptions(workers=3)).to_dict() == one


def test_drift_missing_share_is_its_own_signal() -> None:
    rng = np.random.default_rng(1)
    ref = rng.normal(size=3000)
    cur = rng.normal(size=3000)
    cur[:600] = np.nan  # 20% missing, same distribution otherwise
    feature = drift_report({"x": ref}, {"x": cur})["x"]
    assert feature.missing.drifted and feature.missing.current_share == pytest.approx(0.2)
    assert not feature.drifted
    assert feature.n_current == 2400


def test_drift_all_missing_window_is_reported_not_tested() -> None:
    ref = {"x": np.arange(100.0), "c": np.array(["a", "b"] * 50, dtype=object)}
    cur = {"x": np.full(20, np.nan), "c": np.array([None] * 20, dtype=object)}
    report = drift_report(ref, cur, {"x": "numeric", "c": "categorical"})
    for feature in report.features:
        assert feature.statistic is None and not feature.drifted
        assert feature.missing.drifted
        assert "no present values" in feature.reason
    json.dumps(report.to_dict(), allow_nan=False)


def test_drift_unseen_categories_and_high_cardinality() -> None:
    rng = np.random.default_rng(2)
    ref = rng.integers(0, 500, 5000).astype(str)
    cur = np.concatenate([rng.integers(0, 500, 700).astype(str), np.full(300, "brand-new")])
    feature = drift_report({"c": ref}, {"c": cur}, {"c": "categorical"})["c"]
    assert feature.unseen_share == pytest.approx(0.3)
    assert feature.compared.startswith("top 50 of") and feature.drifted
    support = shared_levels(ref, cur, top_k=50)
    assert len(support.labels) == 51 and support.labels[-1] == "other"


def test_drift_dataframe_and_mapping_agree() -> None:
    frame = pd.DataFrame(
        {
            "n": pd.array([1, 2, None, 4] * 50, dtype="Int64"),
            "b": [True, False] * 100,
            "s": pd.Categorical(["x", "y", None, "x"] * 50),
        }
    )
    current = frame.iloc[::-1].reset_index(drop=True)
    report = drift_report(frame, current)
    assert [f.kind for f in report.features] == ["numeric", "boolean", "categorical"]
    assert report["n"].missing.reference_share == pytest.approx(0.25)
    assert report.n_drifted == 0


def test_drift_dataset_flag_uses_the_configured_share() -> None:
    rng = np.random.default_rng(3)
    ref = {f"x{i}": rng.normal(size=2000) for i in range(4)}
    cur = {f"x{i}": rng.normal(1.0 if i == 0 else 0.0, 1.0, 2000) for i in range(4)}
    assert drift_report(ref, cur).share == 0.25
    assert not drift_report(ref, cur).drifted
    assert drift_report(ref, cur, options=DriftOptions(drift_share=0.25)).drifted


def test_drift_inputs_are_checked() -> None:
    ref = {"x": np.arange(10.0)}
    with pytest.raises(InvalidInputError, match="no column"):
        drift_report(ref, {"y": np.arange(10.0)})
    with pytest.raises(InvalidInputError, match="kind"):
        drift_report(ref, ref, {"x": "text"})
    with pytest.raises(InvalidInputError, match="unknown feature"):
        drift_report(ref, ref, options=DriftOptions(features={"z": FeatureOptions()}))
    with pytest.raises(InvalidInputError, match="compat"):
        DriftOptions(compat="nannyml")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="mapping"):
        drift_report([1, 2], ref)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_drift_method_contract(name: str) -> None:
    """Every registered test: identical samples never drift, a gross change always does."""
    method = METHODS[name]
    kind = "numeric" if "numeric" in method.kinds and name != "z" else "categorical"
    rng = np.random.default_rng(4)
    if kind == "numeric":
        same = rng.normal(size=1500)
        moved = same + 3.0
    else:
        levels = np.array(["a", "b"]) if name == "z" else np.array(list("abcdef"))
        same = rng.choice(levels, 1500)
        moved = np.where(rng.random(1500) < 0.8, levels[0], same)
    opts = DriftOptions(features={"f": FeatureOptions(test=name)})
    quiet = drift_report({"f": same}, {"f": same}, {"f": kind}, options=opts)["f"]
    loud = drift_report({"f": same}, {"f": moved}, {"f": kind}, options=opts)["f"]
    assert quiet.test == name and not quiet.drifted
    assert loud.drifted
    assert (quiet.p_value is None) == (method.scale == "distance")
