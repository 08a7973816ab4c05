"""Data quality of a window: missing, out-of-range, new categories, schema, served/rejected."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from shipyard import datasets
from shipyard.monitoring.quality import data_quality
from shipyard.registry.profile import build_profile
from shipyard.registry.signature import infer_signature

SIGNATURE = {
    "inputs": [
        {"name": "age", "dtype": "float64", "kind": "numeric", "nullable": True},
        {"name": "plan", "dtype": "string", "kind": "categorical", "nullable": False},
        {"name": "vip", "dtype": "bool", "kind": "boolean", "nullable": False},
    ]
}
PROFILE = {
    "features": {
        "age": {"min": 18.0, "max": 80.0, "missing_share": 0.01},
        "plan": {"levels": {"basic": 0.7, "pro": 0.3}, "other": 0.0, "missing_share": 0.0},
        "vip": {"levels": {"False": 0.9, "True": 0.1}, "other": 0.0},
    }
}


def test_missing_out_of_range_and_new_categories_are_counted() -> None:
    current = pd.DataFrame(
        {
            "age": [17.0, 20.0, np.nan, 85.0, 40.0, np.nan, 50.0, 90.0],
            "plan": ["basic", "pro", "gold", "gold", "basic", None, "team", "pro"],
            "vip": [True, False, False, False, True, False, False, False],
        }
    )
    report = data_quality(current, SIGNATURE, PROFILE, rejected=2)
    age, plan = report["age"], report["plan"]
    assert age.missing == 2 and age.missing_share == pytest.approx(2 / 8)
    assert age.reference_missing_share == 0.01
    # 17 below 18; 85 and 90 above 80: 3 of the 6 present values
    assert age.out_of_range == 3 and age.out_of_range_share == pytest.approx(3 / 6)
    assert plan.missing == 1
    assert plan.new_categories == {"gold": 2, "team": 1}
    assert plan.new_category_rows == 3 and plan.new_category_share == pytest.approx(3 / 7)
    assert report["vip"].violations == 0 and report.schema_violations == 0
    assert report.n_rows == 8 and report.rejected == 2
    assert report.rejected_share == pytest.approx(2 / 10)
    figures = report.figures()
    assert figures["quality.out_of_range_share.age"] == pytest.approx(0.5)
    assert figures["quality.new_categories.plan"] == 2.0
    assert figures["quality.rejected_share"] == pytest.approx(0.2)
    assert "quality.out_of_range_share.plan" not in figures


def test_schema_violations_name_absent_extra_and_mistyped_columns() -> None:
    current = pd.DataFrame(
        {"age": [30, "old", 40.5, None], "vip": [True, "yes", False, True], "extra": [1, 2, 3, 4]}
    )
    report = data_quality(current, SIGNATURE, PROFILE)
    assert report.absent_columns == ("plan",)
    assert report.extra_columns == ("extra",)
    assert report["age"].violations == 1 and report["vip"].violations == 1
    assert report.schema_violations == 1 + 1 + 1 + 1
    assert report.rejected is None and report.rejected_share is None
    assert "quality.rejected" not in report.figures()


def test_open_ended_levels_report_no_new_categories() -> None:
    profile = {"features": {"plan": {"levels": {"basic": 0.9}, "other": 0.1}}}
    report = data_quality(
        pd.DataFrame({"plan": ["zzz"]}), {"inputs": SIGNATURE["inputs"][1:2]}, profile
    )
    assert report["plan"].new_categories is None and report["plan"].new_category_share is None


def test_quality_of_churn_traffic_with_injected_drift_against_its_real_profile() -> None:
    data = datasets.churn(2000, seed=3)
    profile, _ = build_profile(data.X, data.y)
    signature = infer_signature(data.X, data.y).to_dict()
    live = datasets.inject_drift(
        datasets.churn(500, seed=4).X, columns=["monthly_charges"], strength=3.0, kind="shift"
    )
    report = data_quality(live, signature, profile)
    charges = report["monthly_charges"]
    expected = float(
        (
            (live["monthly_charges"] > profile["features"]["monthly_charges"]["max"])
            | (live["monthly_charges"] < profile["features"]["monthly_charges"]["min"])
        ).mean()
    )
    assert charges.out_of_range_share == pytest.approx(expected)
    assert charges.out_of_range_share > 0.1
    assert report["age"].out_of_range_share is not None and report["age"].out_of_range_share < 0.02
    assert report["data_usage_gb"].missing_share == pytest.approx(
        float(live["data_usage_gb"].isna().mean())
    )
    assert report.schema_violations == 0
    assert math.isfinite(report.figures()["quality.missing_share.data_usage_gb"])


def test_empty_window_gives_no_shares() -> None:
    report = data_quality(pd.DataFrame(), SIGNATURE, PROFILE)
    assert report.n_rows == 0 and report["age"].missing_share is None
    assert report.absent_columns == ()
