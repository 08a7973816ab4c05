"""Explanation latency: exact TreeSHAP for one row of a 100-tree forest on 20 features.

    .venv/bin/python bench/bench_explain.py [--rows 60] [--method auto|tree|sampling]

Fits a RandomForestClassifier (100 trees, min_samples_leaf=5, as the quickstart) on 5,000 rows
of 20 numeric features, builds the Explainer the server uses (background: 100 rows), warms it,
then explains ROWS single rows one call each and prints the median and p95 wall time and the
median CPU time of the calling thread (less sensitive to other processes on a shared machine).
The same for the quickstart churn pipeline (one-hot + forest, 10 original features). Every
explanation's additivity error is checked (< 1e-6). For the forest, shap's own TreeExplainer
(its C recursion, without shipyard's wrapping) times the same rows in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from shipyard import datasets
from shipyard.explain import Explainer


def _time(explainer: Explainer, rows: pd.DataFrame) -> tuple[list[float], list[float], float]:
    explainer.explain(rows.iloc[[0]])  # warm
    wall, cpu, worst = [], [], 0.0
    for i in range(len(rows)):
        row = rows.iloc[[i]]
        w0, c0 = time.perf_counter(), time.thread_time()
        explanation = explainer.explain(row)
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
        worst = max(worst, explanation.additivity_error())
    return wall, cpu, worst


def _report(name: str, method: str, wall: list[float], cpu: list[float], worst: float) -> None:
    p95 = float(np.quantile(wall, 0.95))
    print(
        f"{name:34s} {method:8s} rows {len(wall):4d}  median {statistics.median(wall) * 1e3:7.2f} ms"
        f"  p95 {p95 * 1e3:7.2f} ms  cpu median {statistics.median(cpu) * 1e3:7.2f} ms"
        f"  max additivity error {worst:.1e}"
    )


def _numeric(rows: int, method: str) -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(5000, 20)), columns=[f"f{i}" for i in range(20)])
    logit = X["f0"] + X["f1"] * X["f2"] - 0.5 * X["f3"] + rng.normal(size=5000)
    y = (logit > 0).astype(int)
    forest = RandomForestClassifier(n_estimators=100, min_samples_leaf=5, random_state=0)
    forest.fit(X, y)
    leaves = np.mean([t.get_n_leaves() for t in forest.estimators_])
    explainer = Explainer(forest, list(X.columns), X.iloc[:100], method=method)
    wall, cpu, worst = _time(explainer, X.iloc[1000 : 1000 + rows])
    _report(
        f"forest 100 trees, 20 features ({leaves:.0f} leaves/tree)",
        explainer.method,
        wall,
        cpu,
        worst,
    )
    _shap_baseline(forest, X.iloc[1000 : 1000 + rows].to_numpy())


def _shap_baseline(forest: Any, rows: np.ndarray[Any, Any]) -> None:
    """shap's own TreeExplainer on the same rows, in the same run: the ratio is what holds on
    a noisy machine."""
    import shap

    explainer = shap.TreeExplainer(forest, feature_perturbation="tree_path_dependent")
    explainer.shap_values(rows[:1], check_additivity=False)
    wall, cpu = [], []
    for i in range(len(rows)):
        w0, c0 = time.perf_counter(), time.thread_time()
        explainer.shap_values(rows[i : i + 1], check_additivity=False)
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
    _report("  baseline: shap.TreeExplainer alone", "tree", wall, cpu, 0.0)


def _churn(rows: int, method: str) -> None:
    data = datasets.churn(5000, seed=7)
    model: Any = Pipeline(
        [
            (
                "prepare",
                ColumnTransformer(
                    [
                        ("numeric", SimpleImputer(strategy="median"), data.numeric),
                        ("categorical", OneHotEncoder(handle_unknown="ignore"), data.categorical),
                    ]
                ),
            ),
            (
                "forest",
                RandomForestClassifier(n_estimators=100, min_samples_leaf=5, random_state=7),
            ),
        ]
    ).fit(data.X, data.y)
    explainer = Explainer(model, list(data.X.columns), data.X.iloc[:100], method=method)
    wall, cpu, worst = _time(explainer, data.X.iloc[1000 : 1000 + rows])
    _report("quickstart churn pipeline", explainer.method, wall, cpu, worst)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60)
    parser.add_argument("--method", default="auto")
    args = parser.parse_args()
    _numeric(args.rows, args.method)
    _churn(args.rows, args.method)


if __name__ == "__main__":
    main()
