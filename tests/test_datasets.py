import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from shipyard.datasets import Dataset, churn, house_prices, inject_drift
from shipyard.errors import InvalidInputError


@pytest.mark.parametrize("make", [churn, house_prices])
def test_same_seed_same_frame_other_seed_other_frame(make):
    pd.testing.assert_frame_equal(make(500, seed=3).frame, make(500, seed=3).frame)
    assert not make(500, seed=3).frame.equals(make(500, seed=4).frame)


def test_churn_shape_dtypes_and_columns():
    data = churn(1000)
    assert isinstance(data, Dataset)
    assert data.frame.shape == (1000, 11)
    assert (data.target, data.task) == ("churned", "classification")
    assert set(data.features) == set(data.numeric) | set(data.categorical)
    assert data.target not in data.features
    assert list(data.X.columns) == data.features
    assert data.y.name == "churned"
    dtypes = data.frame.dtypes
    for name in ["tenure_months", "support_calls", "age", "churned"]:
        assert dtypes[name] == np.int64, name
    for name in ["monthly_charges", "total_charges", "data_usage_gb"]:
        assert dtypes[name] == np.float64, name
    for name in data.categorical:
        assert pd.api.types.is_string_dtype(dtypes[name]), name
    assert set(data.frame["contract"]) == {"month-to-month", "one-year", "two-year"}
    assert data.frame["payment_method"].nunique() == 4
    assert data.frame["region"].nunique() == 6
    assert data.frame["internet_service"].nunique() == 3
    assert set(data.frame["churned"]) == {0, 1}


def test_churn_values_are_plausible():
    frame = churn(5000).frame
    assert 0 < frame["data_usage_gb"].isna().mean() < 0.1
    assert frame.drop(columns="data_usage_gb").notna().all().all()
    assert frame["tenure_months"].between(1, 72).all()
    assert frame["age"].between(18, 85).all()
    ratio = frame["total_charges"] / (frame["tenure_months"] * frame["monthly_charges"])
    assert ratio.between(0.8, 1.2).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_churn_base_rate_is_about_a_quarter(seed):
    assert 0.2 < churn(5000, seed=seed).y.mean() < 0.3


def test_churn_follows_its_story():
    frame = churn(20_000).frame
    by_contract = frame.groupby("contract")["churned"].mean()
    assert by_contract["month-to-month"] > by_contract["one-year"] > by_contract["two-year"]
    many_calls = frame["support_calls"] >= 4
    assert frame.loc[many_calls, "churned"].mean() > frame.loc[~many_calls, "churned"].mean()


def test_a_linear_model_learns_churn():
    data = churn(5000)
    X_train, X_test, y_train, y_test = train_test_split(data.X, data.y, random_state=0)
    model = make_pipeline(
        make_column_transformer(
            (make_pipeline(SimpleImputer(), StandardScaler()), data.numeric),
            (OneHotEncoder(handle_unknown="ignore"), data.categorical),
        ),
        LogisticRegression(),
    ).fit(X_train, y_train)
    assert roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]) > 0.7


def test_house_prices_shape_and_signal():
    data = house_prices(3000)
    assert (data.target, data.task) == ("price", "regression")
    assert data.frame.shape == (3000, 8)
    assert data.frame.notna().all().all()
    assert set(data.frame["has_garden"]) == {0, 1}
    assert (data.y > 0).all()
    assert np.corrcoef(np.log(data.frame["area_sqm"]), np.log(data.y))[0, 1] > 0.5
    by_hood = data.frame.groupby("neighbourhood")["price"].median()
    assert by_hood["old town"] > by_hood["industrial"]


def test_bad_row_counts_are_refused():
    with pytest.raises(InvalidInputError):
        churn(0)
    with pytest.raises(InvalidInputError):
        house_prices(-3)


def test_shift_moves_numeric_means_by_the_requested_std():
    data = churn(20_000)
    before = data.frame.copy(deep=True)
    drifted = inject_drift(data.frame, columns=data.numeric, strength=0.5)
    moved = (drifted[data.numeric].mean() - before[data.numeric].mean()) / before[
        data.numeric
    ].std()
    assert moved.to_numpy() == pytest.approx(0.5, abs=0.03)
    assert (drifted.dtypes == before.dtypes).all()  # integer columns stay integers
    pd.testing.assert_frame_equal(data.frame, before)
    pd.testing.assert_frame_equal(drifted[data.categorical], before[data.categorical])


def test_scale_widens_spread_and_keeps_mean():
    frame = house_prices(5000).frame
    drifted = inject_drift(frame, columns=["area_sqm"], strength=1.0, kind="scale")
    assert drifted["area_sqm"].std() == pytest.approx(2 * frame["area_sqm"].std())
    assert drifted["area_sqm"].mean() == pytest.approx(frame["area_sqm"].mean())


def test_categorical_levels_are_skewed_toward_the_rarest():
    frame = churn(20_000).frame
    before = frame["region"].value_counts(normalize=True)
    rarest = before.idxmin()
    after = inject_drift(frame, columns=["region"], strength=1.0)["region"]
    shares = after.value_counts(normalize=True)
    # Half the rows move to the rarest level (p = strength / (1 + strength)).
    assert shares[rarest] == pytest.approx(before[rarest] + 0.5 * (1 - before[rarest]), abs=0.02)
    for level in before.index.drop(rarest):
        assert shares[level] == pytest.approx(before[level] / 2, abs=0.02)
    assert inject_drift(frame, columns=["region"], strength=0.0)["region"].equals(frame["region"])


def test_boolean_and_category_columns_are_skewed_too():
    frame = pd.DataFrame(
        {
            "flag": np.arange(1000) % 10 == 0,
            "level": pd.Categorical(np.where(np.arange(1000) % 4 == 0, "a", "b")),
        }
    )
    drifted = inject_drift(frame, strength=3.0)
    assert drifted["flag"].dtype == bool and drifted["flag"].mean() > 0.6
    assert isinstance(drifted["level"].dtype, pd.CategoricalDtype)
    assert (drifted["level"] == "a").mean() > 0.7


def test_missing_injects_the_requested_share():
    frame = house_prices(2000).frame
    drifted = inject_drift(frame, strength=0.5, kind="missing")
    assert (drifted.isna().mean() == 0.1).all()
    assert frame.notna().all().all()


def test_drift_is_deterministic_and_per_column():
    frame = churn(2000).frame
    a = inject_drift(frame, columns=["region", "age"], seed=5)
    b = inject_drift(frame, columns=["region", "age"], seed=5)
    pd.testing.assert_frame_equal(a, b)
    alone = inject_drift(frame, columns=["region"], seed=5)
    assert alone["region"].equals(a["region"])
    assert not inject_drift(frame, columns=["region"], seed=6)["region"].equals(a["region"])


@pytest.mark.parametrize(
    "kwargs",
    [{"kind": "tilt"}, {"strength": -1.0}, {"strength": float("nan")}, {"columns": ["nope"]}],
)
def test_bad_drift_arguments_are_refused(kwargs):
    with pytest.raises(InvalidInputError):
        inject_drift(churn(100).frame, **kwargs)
