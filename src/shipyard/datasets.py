"""Small generators of realistic tabular data, for the quickstart, the tests and the benchmarks.

Everything is synthesized from a seed (no downloads), so the same call gives the same frame on
every machine: :func:`churn` (binary classification), :func:`house_prices` (regression), and
:func:`inject_drift` to make a drifted copy of either for monitoring demos.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.api import types as pdt

from shipyard.errors import InvalidInputError

__all__ = ["Dataset", "churn", "house_prices", "inject_drift"]

DriftKind = Literal["shift", "scale", "missing"]
_DRIFT_STREAM = 0xD81F7


@dataclass(frozen=True)
class Dataset:
    """A generated table: ``frame`` holds the features and the ``target`` column."""

    frame: pd.DataFrame
    target: str
    task: Literal["classification", "regression"]
    numeric: list[str]
    categorical: list[str]

    @property
    def features(self) -> list[str]:
        """Feature column names, in frame order."""
        return [c for c in self.frame.columns if c != self.target]

    @property
    def X(self) -> pd.DataFrame:
        """The features only (a new frame)."""
        return self.frame[self.features]

    @property
    def y(self) -> pd.Series[Any]:
        """The target column."""
        return self.frame[self.target]


def _sigmoid(z: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


def _pick(
    rng: np.random.Generator, levels: list[str], p: list[float], n: int
) -> np.ndarray[Any, Any]:
    return rng.choice(np.array(levels), size=n, p=p)


def _check_rows(n_rows: int) -> None:
    if isinstance(n_rows, bool) or not isinstance(n_rows, int) or n_rows < 1:
        raise InvalidInputError(f"n_rows must be a positive integer, got {n_rows!r}")


def churn(n_rows: int = 5000, *, seed: int = 0) -> Dataset:
    """Customer churn: who cancels their subscription (``churned`` = 1), about 25% of customers.

    Churn is drawn from a logistic model: month-to-month contracts, high monthly charges, many
    support calls, electronic-check payment and fibre service raise it; tenure, long contracts
    and age lower it. ``total_charges`` is tenure x monthly charges with noise, and about 3% of
    ``data_usage_gb`` is missing.
    """
    _check_rows(n_rows)
    rng = np.random.default_rng(seed)
    n = n_rows
    contract = _pick(rng, ["month-to-month", "one-year", "two-year"], [0.55, 0.25, 0.20], n)
    internet = _pick(rng, ["DSL", "fiber optic", "none"], [0.35, 0.45, 0.20], n)
    payment = _pick(
        rng,
        ["electronic check", "mailed check", "bank transfer", "credit card"],
        [0.34, 0.20, 0.23, 0.23],
        n,
    )
    regions = ["north", "south", "east", "west", "central", "coastal"]
    region = _pick(rng, regions, [0.22, 0.20, 0.18, 0.16, 0.14, 0.10], n)

    mean_tenure = np.select([contract == "one-year", contract == "two-year"], [30.0, 48.0], 14.0)
    tenure = np.clip(np.round(rng.gamma(2.0, mean_tenure / 2.0)), 1, 72).astype(np.int64)
    base_charge = np.select([internet == "DSL", internet == "fiber optic"], [55.0, 85.0], 22.0)
    monthly = np.round(np.clip(base_charge + rng.normal(0.0, 12.0, n), 18.0, 120.0), 2)
    total = np.round(tenure * monthly * rng.normal(1.0, 0.05, n).clip(0.8, 1.2), 2)
    support_calls = rng.poisson(np.where(internet == "fiber optic", 1.8, 1.1)).astype(np.int64)
    age = np.clip(np.round(rng.normal(45.0, 14.0, n)), 18, 85).astype(np.int64)
    usage_scale = np.select([internet == "DSL", internet == "fiber optic"], [40.0, 120.0], 2.0)
    usage = np.round(rng.gamma(2.0, usage_scale / 2.0), 1)
    usage[rng.random(n) < 0.03] = np.nan

    logit = (
        -2.62
        + 1.5 * (contract == "month-to-month")
        - 0.9 * (contract == "two-year")
        + 0.025 * (monthly - 65.0)
        + 0.45 * support_calls
        - 0.025 * tenure
        + 0.5 * (payment == "electronic check")
        + 0.3 * (internet == "fiber optic")
        - 0.01 * (age - 45.0)
    )
    churned = (rng.random(n) < _sigmoid(logit)).astype(np.int64)
    frame = pd.DataFrame(
        {
            "tenure_months": tenure,
            "monthly_charges": monthly,
            "total_charges": total,
            "support_calls": support_calls,
            "age": age,
            "data_usage_gb": usage,
            "contract": contract,
            "payment_method": payment,
            "region": region,
            "internet_service": internet,
            "churned": churned,
        }
    )
    numeric = ["tenure_months", "monthly_charges", "total_charges", "support_calls", "age"]
    categorical = ["contract", "payment_method", "region", "internet_service"]
    return Dataset(frame, "churned", "classification", [*numeric, "data_usage_gb"], categorical)


def house_prices(n_rows: int = 5000, *, seed: int = 0) -> Dataset:
    """House sale prices (``price``, in currency units) from area, rooms, age, location and more.

    The log-price is linear in log-area, age, distance to the centre, garden, condition and a
    neighbourhood premium, with multiplicative noise of about 12%.
    """
    _check_rows(n_rows)
    rng = np.random.default_rng(seed)
    n = n_rows
    premiums = {
        "old town": 0.35,
        "riverside": 0.25,
        "university": 0.10,
        "harbour": 0.15,
        "suburbs": -0.05,
        "industrial": -0.25,
        "new estates": 0.0,
        "hillside": 0.20,
    }
    hoods = list(premiums)
    neighbourhood = _pick(rng, hoods, [0.08, 0.10, 0.12, 0.10, 0.25, 0.08, 0.17, 0.10], n)
    condition = _pick(rng, ["poor", "fair", "good", "excellent"], [0.10, 0.30, 0.45, 0.15], n)
    area = np.round(np.clip(rng.lognormal(np.log(95.0), 0.35, n), 25.0, 400.0), 1)
    rooms = np.clip(np.round(area / 25.0 + rng.normal(0.0, 0.7, n)), 1, 12).astype(np.int64)
    age = np.clip(np.round(rng.gamma(2.0, 18.0, n)), 0, 150).astype(np.int64)
    distance = np.round(np.clip(rng.gamma(2.0, 3.5, n), 0.2, 60.0), 2)
    has_garden = (rng.random(n) < _sigmoid(0.12 * distance - 1.0)).astype(np.int64)
    premium = pd.Series(neighbourhood).map(premiums).to_numpy(dtype="float64")
    quality = np.select(
        [condition == "poor", condition == "fair", condition == "excellent"],
        [-0.20, -0.07, 0.12],
        0.0,
    )
    log_price = (
        np.log(3_000.0)
        + 0.9 * np.log(area)
        + 0.03 * rooms
        - 0.003 * age
        - 0.025 * distance
        + 0.08 * has_garden
        + premium
        + quality
        + rng.normal(0.0, 0.12, n)
    )
    price = np.round(np.exp(log_price), -2)
    frame = pd.DataFrame(
        {
            "area_sqm": area,
            "rooms": rooms,
            "age_years": age,
            "distance_to_center_km": distance,
            "has_garden": has_garden,
            "neighbourhood": neighbourhood,
            "condition": condition,
            "price": price,
        }
    )
    numeric = ["area_sqm", "rooms", "age_years", "distance_to_center_km", "has_garden"]
    return Dataset(frame, "price", "regression", numeric, ["neighbourhood", "condition"])


def inject_drift(
    frame: pd.DataFrame,
    *,
    columns: list[str] | None = None,
    strength: float = 1.0,
    seed: int = 0,
    kind: DriftKind = "shift",
) -> pd.DataFrame:
    """Return a drifted copy of ``frame``; the input is never modified.

    ``columns`` (default: every column, so pass ``dataset.features`` to spare the target) are
    drifted according to ``kind``, with ``strength >= 0``:

    - ``"shift"``: each numeric column moves by ``strength`` of its standard deviation
      (``x + strength * std``, std with ddof=1 over present values).
    - ``"scale"``: each numeric column spreads around its mean by a factor ``1 + strength``
      (``mean + (x - mean) * (1 + strength)``), so its std grows by that factor.
    - For both, each categorical (text, category or boolean) column is skewed toward its rarest
      level: every present value is replaced by that level with probability
      ``strength / (1 + strength)`` (half the rows at strength 1). Ties for rarest go to the
      smallest level.
    - ``"missing"``: in each column, ``round(min(0.2 * strength, 1) * len(frame))`` randomly
      chosen rows become missing, whether or not they already were (integer columns then hold floats, booleans objects).

    Integer columns stay integers after a shift or scale: values are rounded up with a
    probability equal to their fractional part, so the mean moves by the requested amount on
    average. Datetime columns and columns that are entirely missing are left as they are. The
    randomness of each column depends only on ``seed`` and the column's name.
    """
    if kind not in ("shift", "scale", "missing"):
        raise InvalidInputError(f"kind must be 'shift', 'scale' or 'missing', got {kind!r}")
    if not np.isfinite(strength) or strength < 0:
        raise InvalidInputError(f"strength must be a finite number >= 0, got {strength!r}")
    names = list(frame.columns) if columns is None else list(columns)
    if unknown := [c for c in names if c not in frame.columns]:
        raise InvalidInputError(f"no such column(s) to drift: {', '.join(map(str, unknown))}")
    out = frame.copy(deep=True)
    for name in names:
        # One stream per (seed, column): independent of the generators' own streams, and a
        # column drifts the same whichever other columns are drifted with it.
        rng = np.random.default_rng([_DRIFT_STREAM, seed, zlib.crc32(str(name).encode())])
        col = out[name]
        if kind == "missing":
            rows = rng.choice(
                len(out), size=round(min(0.2 * strength, 1.0) * len(out)), replace=False
            )
            mask = np.zeros(len(out), dtype=bool)
            mask[rows] = True
            out[name] = col.where(~mask, other=None if pdt.is_bool_dtype(col.dtype) else np.nan)
        elif pdt.is_numeric_dtype(col.dtype) and not pdt.is_bool_dtype(col.dtype):
            out[name] = _drift_numeric(col, kind, strength, rng)
        elif not pdt.is_datetime64_any_dtype(col.dtype):
            out[name] = _skew_to_rarest(col, strength / (1.0 + strength), rng)
    return out


def _drift_numeric(
    col: pd.Series[Any], kind: DriftKind, strength: float, rng: np.random.Generator
) -> pd.Series[Any]:
    values = col.to_numpy(dtype="float64", na_value=np.nan)
    present = values[~np.isnan(values)]
    if present.size == 0:
        return col
    if kind == "shift":
        std = float(np.std(present, ddof=1)) if present.size > 1 else 0.0
        drifted = values + strength * std
    else:
        mean = float(np.mean(present))
        drifted = mean + (values - mean) * (1.0 + strength)
    if pdt.is_integer_dtype(col.dtype) and not np.isnan(values).any():
        # Stochastic rounding keeps the column integer and its mean shift unbiased.
        whole = np.floor(drifted + rng.random(len(drifted)))
        return pd.Series(whole, index=col.index, name=col.name).astype(col.dtype)
    return pd.Series(drifted, index=col.index, name=col.name)


def _skew_to_rarest(col: pd.Series[Any], p: float, rng: np.random.Generator) -> pd.Series[Any]:
    counts = col.value_counts(dropna=True)
    if counts.empty:
        return col
    fewest = counts[counts == counts.min()].index
    rarest = sorted(fewest, key=str)[0]
    replace = (rng.random(len(col)) < p) & col.notna().to_numpy()
    drifted = col.copy()
    drifted[replace] = rarest
    return drifted
