"""A training run on 50,000 generated churn rows with a 60-second AutoML budget.

    .venv/bin/python bench/bench_train.py [--rows 50000] [--seconds 60] [--workers 1]

In a fresh temporary registry (SQLite):

1. the current champion: logistic regression fitted on an older, smaller sample (2,000 rows,
   without ``tenure_months``, as last quarter's model might be);
2. the measured run: AutoML over every installed family (scikit-learn's, plus LightGBM and
   XGBoost as composites) for ``--seconds``, then every gate (holdout metric, beat the champion,
   slices by contract, in-process latency, memory, and the HTTP load test), registered with its
   gate report; it becomes the champion when it passes;
3. a deliberately bad config (logistic regression on two weak features) against that champion:
   it must be rejected, with the reason.

Prints the wall time, the trials, the best family and score, and each gate's verdict.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GATE_KINDS = {"metric", "champion", "slice", "latency", "memory", "load"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    from shipyard import datasets
    from shipyard.registry.client import Registry
    from shipyard.settings import Settings
    from shipyard.training import train
    from shipyard.training.pipeline import installed_families

    frame = datasets.churn(args.rows, seed=0).frame
    base: dict[str, Any] = {
        "data": "unused.csv",  # the rows are passed as frame=
        "target": "churned",
        "task": "classification",
        "model": "churn",
        "metric": "roc_auc",
        "seed": 0,
        "split": {"holdout": 0.2, "folds": 3},
    }
    with tempfile.TemporaryDirectory() as root:
        registry = Registry(Settings(home=Path(root) / "home", actor="bench"))
        older = frame.iloc[:2000].drop(columns=["tenure_months"])
        baseline = train({**base, "families": ["linear"]}, registry, frame=older)
        registry.set_alias("churn", "champion", baseline.version.version)
        print(f"rows {len(frame):,}; families {', '.join(installed_families())}")
        print(f"baseline  {baseline.version.ref} linear holdout roc_auc {baseline.holdout:.4f}")

        config = {
            **base,
            "automl": {"seconds": args.seconds, "trials": None, "workers": args.workers},
            "gates": {
                "metrics": [{"metric": "roc_auc", "min": 0.75}],
                "champion": {"metric": "roc_auc", "min_absolute_change": 0.0},
                "slices": [{"feature": "contract", "metric": "roc_auc", "min": 0.6}],
                "latency": {"p99_single_ms": 100, "p99_batch_ms": 500},
                "memory": {"max_artifact_mb": 200, "max_predict_mb": 1000},
                "load": {"requests": 300, "seconds": 20, "concurrency": 4},
            },
        }
        started = time.perf_counter()
        result = train(config, registry, frame=frame)
        wall = time.perf_counter() - started
        search = result.search
        assert search is not None
        print(
            f"automl    {result.version.ref} wall {wall:.1f} s (search {search.seconds:.1f} s): "
            f"{search.n_trials} trials ({search.n_complete} complete, {search.n_pruned} pruned)"
        )
        print(
            f"best      {result.family} ({result.version.flavor}) cv roc_auc "
            f"{result.cv_mean:.4f} ± {result.cv_std:.4f}, holdout {result.holdout:.4f}"
        )
        for gate in result.gates.results:
            print(f"  gate {'pass' if gate.passed else 'FAIL'} {gate.gate}: {gate.reason}")
        kinds = {g.gate for g in result.gates.results}
        stored = {a.kind for a in registry.attachments(result.version.ref)}
        complete = kinds == GATE_KINDS and "gate_report" in stored
        names = ", ".join(sorted(kinds))
        print(f"gate report complete: {complete} ({names}); status {result.version.status}")
        if result.passed:
            registry.set_alias("churn", "champion", result.version.version)

        bad = {
            **base,
            "families": ["linear"],
            "features": ["age", "region"],
            "gates": {"champion": {"metric": "roc_auc", "min_absolute_change": 0.0}},
        }
        rejected = train(bad, registry, frame=frame)
        print(
            f"bad config {rejected.version.ref}: {rejected.version.status}; "
            f"reason: {'; '.join(rejected.gates.reasons)}"
        )
        registry.close()
        ok = complete and rejected.version.status == "rejected"
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
