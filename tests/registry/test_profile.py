import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from shipyard.datasets import churn
from shipyard.errors import InvalidInputError
from shipyard.registry.profile import QUANTILES, build_profile, data_fingerprint


def test_numeric_quantiles_histogram_and_moments_on_known_data():
    values = np.arange(101, dtype="float64")  # 0, 1, ..., 100
    profile, _ = build_profile(pd.DataFrame({"x": values}), bins=4)
    x = profile["features"]["x"]
    assert (x["kind"], x["dtype"], x["count"], x["missing_share"]) == (
        "numeric",
        "float64",
        101,
        0.0,
    )
    assert x["quantiles"]["probs"] == list(QUANTILES)
    assert x["quantiles"]["values"] == pytest.approx([q * 100 for q in QUANTILES])
    assert x["histogram"]["edges"] == [0.0, 25.0, 50.0, 75.0, 100.0]
    assert x["histogram"]["counts"] == [25, 25, 25, 26]  # the last bin is closed
    assert (x["min"], x["max"], x["mean"]) == (0.0, 100.0, 50.0)
    assert x["std"] == pytest.approx(np.std(values, ddof=1))


def test_missing_and_infinite_values_are_counted_apart():
    profile, _ = build_profile(pd.DataFrame({"x": [1.0, np.nan, np.inf, 3.0]}))
    x = profile["features"]["x"]
    assert x["missing_share"] == 0.25
    assert x["count"] == 3
    assert x["infinite_share"] == pytest.approx(1 / 3)
    assert (x["min"], x["max"], x["mean"]) == (1.0, 3.0, 2.0)
    assert sum(x["histogram"]["counts"]) == 2


def test_level_frequencies_with_other():
    column = ["a"] * 5 + ["b"] * 3 + ["c"] * 1 + ["d"] * 1 + [None] * 2
    profile, _ = build_profile(pd.DataFrame({"c": column}), top_levels=2)
    c = profile["features"]["c"]
    assert (c["kind"], c["dtype"], c["count"]) == ("categorical", "string", 10)
    assert c["missing_share"] == pytest.approx(2 / 12)
    assert c["n_levels"] == 4
    assert list(c["levels"].items()) == [("a", 0.5), ("b", 0.3)]  # most frequent first
    assert c["other"] == pytest.approx(0.2)


def test_boolean_and_category_levels():
    frame = pd.DataFrame(
        {
            "flag": [True, False, True, True],
            "cat": pd.Categorical(["x", "x", "y", "x"], categories=["x", "y", "unused"]),
        }
    )
    profile, _ = build_profile(frame)
    assert profile["features"]["flag"]["levels"] == {"True": 0.75, "False": 0.25}
    assert profile["features"]["flag"]["kind"] == "boolean"
    assert profile["features"]["cat"]["levels"] == {"x": 0.75, "y": 0.25}
    assert profile["features"]["cat"]["n_levels"] == 2


def test_all_missing_columns_and_datetimes():
    frame = pd.DataFrame(
        {
            "num": [np.nan, np.nan],
            "txt": pd.Series([None, None], dtype=object),
            "when": pd.to_datetime(["2024-01-02", None]),
        }
    )
    profile, _ = build_profile(frame)
    num, txt, when = (profile["features"][n] for n in ["num", "txt", "when"])
    assert num["missing_share"] == 1.0 and num["count"] == 0
    assert num["min"] is None and num["histogram"] is None
    assert num["quantiles"]["values"] == [None] * len(QUANTILES)
    assert (txt["levels"], txt["other"], txt["n_levels"]) == ({}, 0.0, 0)
    assert when["min"] == when["max"] == "2024-01-02T00:00:00"
    json.dumps(profile, allow_nan=False)


def test_target_profile_follows_the_task():
    data = churn(2000)
    profile, _ = build_profile(data.X, data.y)
    target = profile["target"]
    assert (target["name"], target["task"], target["kind"]) == (
        "churned",
        "classification",
        "categorical",
    )
    assert set(target["levels"]) == {"0", "1"}
    assert target["levels"]["1"] == pytest.approx(data.y.mean())
    regression, _ = build_profile(pd.DataFrame({"x": range(50)}), np.linspace(0, 1, 50))
    assert (regression["target"]["name"], regression["target"]["task"]) == ("target", "regression")
    assert regression["target"]["mean"] == pytest.approx(0.5)
    assert build_profile(data.X)[0]["target"] is None


def test_the_whole_churn_profile_is_strict_json():
    data = churn(3000)
    frame = data.X.assign(extreme=np.where(np.arange(3000) % 7 == 0, np.inf, 1.0))
    profile, _ = build_profile(frame, data.y)
    assert profile["n_rows"] == 3000
    assert set(profile["features"]) == set(frame.columns)
    assert json.loads(json.dumps(profile, allow_nan=False)) == profile


def test_sample_is_bounded_deterministic_and_carries_the_target():
    data = churn(3000)
    _, sample = build_profile(data.X, data.y, sample_rows=500, seed=1)
    assert sample.shape == (500, len(data.features) + 1)
    assert list(sample.columns) == [*data.features, "churned"]
    assert sample.index.equals(pd.RangeIndex(500))
    _, again = build_profile(data.X, data.y, sample_rows=500, seed=1)
    pd.testing.assert_frame_equal(sample, again)
    _, other = build_profile(data.X, data.y, sample_rows=500, seed=2)
    assert not sample.equals(other)
    # Rows are real rows of the input, without repeats, in their original order.
    merged = sample.merge(data.frame.reset_index(), on=list(data.frame.columns), how="left")
    assert merged["index"].notna().all() and merged["index"].is_monotonic_increasing
    assert merged["index"].is_unique


def test_small_data_is_sampled_whole():
    frame = pd.DataFrame({"x": [3, 1, 2]}, index=[7, 8, 9])
    _, sample = build_profile(frame, sample_rows=10)
    assert sample["x"].tolist() == [3, 1, 2]


@pytest.mark.parametrize(
    "kwargs", [{"sample_rows": -1}, {"bins": 0}, {"top_levels": -2}, {"bins": 2.5}]
)
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(InvalidInputError):
        build_profile(pd.DataFrame({"x": [1]}), **kwargs)


def test_target_must_fit_x():
    frame = pd.DataFrame({"x": [1, 2, 3]})
    with pytest.raises(InvalidInputError):
        build_profile(frame, [1, 2])
    with pytest.raises(InvalidInputError):
        build_profile(frame, pd.Series([1, 2, 3], name="x"))


def test_fingerprint_is_stable_and_sensitive():
    data = churn(1000)
    base = data_fingerprint(data.X, data.y)
    assert len(base) == 64 and int(base, 16) >= 0
    assert data_fingerprint(churn(1000).X, churn(1000).y) == base
    assert data_fingerprint(data.X.set_axis(range(5000, 6000)), data.y) == base  # index ignored

    changed = data.X.copy()
    changed.loc[500, "monthly_charges"] += 0.01
    assert data_fingerprint(changed, data.y) != base
    flipped = data.y.copy()
    flipped.iloc[3] = 1 - flipped.iloc[3]
    assert data_fingerprint(data.X, flipped) != base
    assert data_fingerprint(data.X) != base
    assert data_fingerprint(data.X.iloc[::-1].reset_index(drop=True), data.y[::-1]) != base
    assert data_fingerprint(data.X[data.features[::-1]], data.y) != base
    assert data_fingerprint(data.X.rename(columns={"age": "years"}), data.y) != base
    assert data_fingerprint(data.X.astype({"age": "float64"}), data.y) != base


def test_fingerprint_is_the_same_in_another_process():
    code = (
        "from shipyard.datasets import churn; from shipyard.registry.profile import data_fingerprint;"
        "d = churn(300); print(data_fingerprint(d.X, d.y))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    data = churn(300)
    assert result.stdout.strip() == data_fingerprint(data.X, data.y)
