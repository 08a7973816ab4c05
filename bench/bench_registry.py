"""Register and load a 100-tree random forest: shipyard against MLflow in one run.

    .venv/bin/python bench/bench_registry.py [--repeat 5] [--no-mlflow]

Both sides get the same fitted model and the same reference data, on SQLite in a fresh temporary
folder each repeat. shipyard's registration includes its reference profile and sample; MLflow's is
`log_model(serialization_format="skops")` plus `register_model`. Prints medians and the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _fit() -> tuple[Any, Any, Any]:
    from sklearn.ensemble import RandomForestClassifier

    from shipyard import datasets

    data = datasets.churn(5000, seed=0)
    X = data.X[data.numeric].fillna(0.0)
    model = RandomForestClassifier(n_estimators=100, random_state=0).fit(X, data.y)
    return model, X, data.y


def bench_shipyard(model: Any, X: Any, y: Any, root: Path) -> tuple[float, float]:
    from shipyard.registry.client import Registry
    from shipyard.settings import Settings

    registry = Registry(Settings(home=root / "shipyard"))
    started = time.perf_counter()
    version = registry.register(model, "forest", reference=X, target=y)
    registered = time.perf_counter() - started
    started = time.perf_counter()
    registry.load(version.ref).predict(X.head(10))
    loaded = time.perf_counter() - started
    registry.close()
    return registered, loaded


def bench_mlflow(model: Any, X: Any, root: Path) -> tuple[float, float]:
    import mlflow
    import mlflow.sklearn

    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    mlflow.set_registry_uri(f"sqlite:///{root / 'mlflow.db'}")
    # Keep MLflow's artifacts in the temporary folder too (its default is ./mlruns).
    mlflow.set_experiment(
        experiment_id=mlflow.create_experiment("bench", artifact_location=str(root / "mlartifacts"))
    )
    started = time.perf_counter()
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="skops",
            input_example=X.head(5),
            skops_trusted_types=["sklearn.tree._tree.Tree"],
        )
    registered_model = mlflow.register_model(info.model_uri, "forest")
    registered = time.perf_counter() - started
    started = time.perf_counter()
    loaded_model = mlflow.sklearn.load_model(f"models:/forest/{registered_model.version}")
    loaded_model.predict(X.head(10))
    loaded = time.perf_counter() - started
    return registered, loaded


def bench_cli() -> dict[str, float]:
    """Median wall time of `shipyard --help`, `import shipyard` and a bare interpreter."""
    shipyard = str(Path(sys.executable).with_name("shipyard"))
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "import shipyard": [sys.executable, "-c", "import shipyard"],
        "shipyard --help": [shipyard, "--help"],
    }
    result = {}
    for label, argv in commands.items():
        times = []
        for _ in range(15):
            started = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True)
            times.append(time.perf_counter() - started)
        result[label] = statistics.median(times)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

    for label, seconds in bench_cli().items():
        print(f"{label:>18}: {seconds * 1000:7.1f} ms (median of 15)")

    model, X, y = _fit()
    ours: list[tuple[float, float]] = []
    theirs: list[tuple[float, float]] = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            ours.append(bench_shipyard(model, X, y, Path(tmp)))
        if not args.no_mlflow:
            with tempfile.TemporaryDirectory() as tmp:
                theirs.append(bench_mlflow(model, X, Path(tmp)))

    def med(rows: list[tuple[float, float]], i: int) -> float:
        return statistics.median(r[i] for r in rows)

    print(f"100-tree random forest, {len(X)} reference rows, median of {args.repeat}:")
    print(f"  shipyard register {med(ours, 0):6.2f} s   load+predict {med(ours, 1):6.3f} s")
    if theirs:
        print(f"  mlflow   register {med(theirs, 0):6.2f} s   load+predict {med(theirs, 1):6.3f} s")
        print(
            f"  ratio (mlflow / shipyard): register {med(theirs, 0) / med(ours, 0):.1f}x, "
            f"load {med(theirs, 1) / med(ours, 1):.1f}x"
        )


if __name__ == "__main__":
    main()
