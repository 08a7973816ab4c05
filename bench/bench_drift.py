"""Drift of 1,000,000 current rows against 1,000,000 reference rows: shipyard against a plain
loop of ``scipy.stats.wasserstein_distance``.

    .venv/bin/python bench/bench_drift.py [--rows 1000000] [--repeat 3]

The data: 20 numeric features (normal, lognormal, integer-valued, some with missing values;
five of them shifted by 0.2 std in the current window) and 5 categorical features with 8 text
levels (two of them skewed), in memory as numpy arrays. shipyard's figure is the full
``drift_report`` with its default options (normalised Wasserstein and Jensen-Shannon with their
noise floors, the missing-share signals, every statistic exact). Each repeat runs in a fresh
subprocess, so its peak RSS (``resource.getrusage``) is its own; the figure printed is the median.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np

N_NUMERIC, N_CATEGORICAL, N_LEVELS = 20, 5, 8


def make_data(rows: int, seed: int, drifted: bool) -> tuple[dict[str, Any], dict[str, str]]:
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    kinds: dict[str, str] = {}
    for i in range(N_NUMERIC):
        shift = 0.2 if drifted and i < 5 else 0.0
        if i % 4 == 0:
            x = rng.normal(shift, 1.0, rows)
        elif i % 4 == 1:
            x = rng.lognormal(0.0, 0.5, rows) + shift * 0.5
        elif i % 4 == 2:
            x = np.round(rng.gamma(2.0, 10.0, rows) + shift * 14)
        else:
            x = rng.normal(50.0 + shift * 5, 5.0, rows)
            x[rng.random(rows) < 0.03] = np.nan
        data[f"num_{i}"] = x
        kinds[f"num_{i}"] = "numeric"
    levels = np.array([f"level_{k}" for k in range(N_LEVELS)])
    base = np.linspace(2.0, 1.0, N_LEVELS)
    for j in range(N_CATEGORICAL):
        p = base.copy()
        if drifted and j < 2:
            p[-1] *= 3.0
        data[f"cat_{j}"] = levels[rng.choice(N_LEVELS, rows, p=p / p.sum())]
        kinds[f"cat_{j}"] = "categorical"
    return data, kinds


def run_once(rows: int, which: str) -> dict[str, float]:
    reference, kinds = make_data(rows, 1, drifted=False)
    current, _ = make_data(rows, 2, drifted=True)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    if which == "shipyard":
        from shipyard.monitoring import drift_report

        report = drift_report(reference, current, kinds)
        drifted = report.drifted_features
    else:
        from scipy.stats import wasserstein_distance

        drifted = []
        for name, kind in kinds.items():
            if kind == "numeric":
                ref, cur = reference[name], current[name]
                ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
                if wasserstein_distance(ref, cur) / np.std(ref) >= 0.1:
                    drifted.append(name)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "seconds": seconds,
        "peak_mib": peak / 1024,
        "data_mib": before / 1024,
        "drifted": len(drifted),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=["shipyard", "scipy"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_once(args.rows, args.child)))
        return
    results: dict[str, list[dict[str, float]]] = {"shipyard": [], "scipy": []}
    for _ in range(args.repeat):
        for which in results:
            out = subprocess.run(
                [sys.executable, __file__, "--rows", str(args.rows), "--child", which],
                check=True,
                capture_output=True,
                text=True,
            )
            results[which].append(json.loads(out.stdout))
    print(f"{args.rows:,} reference rows, {args.rows:,} current rows, "
          f"{N_NUMERIC} numeric + {N_CATEGORICAL} categorical features ({N_LEVELS} levels); "
          f"median of {args.repeat}")  # fmt: skip
    med = {
        which: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        for which, runs in results.items()
    }
    for which, label in (("shipyard", "shipyard drift_report (all 25 features)"),
                         ("scipy", "scipy wasserstein_distance loop (20 numeric)")):  # fmt: skip
        m = med[which]
        print(f"  {label:46s} {m['seconds']:6.2f} s   peak RSS {m['peak_mib']:6.0f} MiB "
              f"(data alone {m['data_mib']:.0f} MiB)   drifted: {m['drifted']:.0f}")  # fmt: skip
    ratio = med["scipy"]["seconds"] / med["shipyard"]["seconds"]
    print(f"  shipyard is {ratio:.1f}x faster, and tests 5 more features")


if __name__ == "__main__":
    main()
