"""Drift of 1,000,000 current rows against 1,000,000 reference rows: shipyard against a plain
loop of ``scipy.stats.wasserstein_distance``; then a 20,000,000-row window through summaries.

    .venv/bin/python bench/bench_drift.py [--rows 1000000] [--repeat 3] [--scale-rows 20000000]

The data: 20 numeric features (normal, lognormal, integer-valued, some with missing values;
five of them shifted by 0.2 std in the current window) and 5 categorical features with 8 text
levels (two of them skewed), in memory as numpy arrays. shipyard's figure is the full
``drift_report`` with its default options (normalised Wasserstein and Jensen-Shannon with their
noise floors, the missing-share signals, every statistic exact). Each repeat runs in a fresh
subprocess, so its peak RSS (``resource.getrusage``) is its own; the figure printed is the median.

The scale part (``--scale-rows``, 0 to skip) never holds the window: the reference (``--rows``)
and then the window are generated ``--chunk-rows`` at a time, each chunk summarised
(``shipyard.monitoring.summaries.summarise``) and merged, and the report comes from the two
summaries. It prints the time spent summarising and comparing (data generation excluded), the
subprocess's peak RSS, and the drifted features, which must be the same as the exact run's.
"""

from __future__ import annotations

import argparse
import json
import os
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
    # imports happen before the clock starts: the figure is the computation's
    from scipy.stats import wasserstein_distance

    from shipyard.monitoring import drift_report
    from shipyard.monitoring.stats._dist import chi2_sf

    chi2_sf(1.0, 1)  # scipy.special, which the report loads on first use
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    if which == "shipyard":
        report = drift_report(reference, current, kinds)
        drifted = report.drifted_features
    else:
        drifted = []
        for name, kind in kinds.items():
            if kind == "numeric":
                ref, cur = reference[name], current[name]
                ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
                if wasserstein_distance(ref, cur) / np.std(ref) >= 0.1:
                    drifted.append(name)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    floors = 0.0 if which != "shipyard" else sum(f.noise_floor is not None for f in report.features)
    return {
        "seconds": seconds,
        "peak_mib": peak / 1024,
        "data_mib": before / 1024,
        "drifted": len(drifted),
        "floors": floors,
    }


def run_scale(reference_rows: int, window_rows: int, chunk_rows: int) -> dict[str, Any]:
    """Summaries of a reference and a window, each generated chunk by chunk."""
    from shipyard.monitoring.summaries import Summary, summarise
    from shipyard.monitoring.summary_drift import drift_from_summaries

    busy = 0.0

    def summary_of(rows: int, seed: int, drifted: bool, like: Summary | None) -> Summary:
        nonlocal busy
        total: Summary | None = like if like is not None and rows == 0 else None
        for i, start in enumerate(range(0, rows, chunk_rows)):
            chunk, kinds = make_data(min(chunk_rows, rows - start), [seed, i], drifted)
            started = time.perf_counter()
            part = summarise(chunk, None if like or total else kinds, like=like or total)
            total = part if total is None else total.merge(part)
            busy += time.perf_counter() - started
            del chunk
        assert total is not None
        return total

    reference = summary_of(reference_rows, 1, False, None)
    current = summary_of(window_rows, 2, True, reference)
    started = time.perf_counter()
    report = drift_from_summaries(reference, current)
    compare = time.perf_counter() - started
    return {
        "seconds": busy + compare,
        "compare_seconds": compare,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "drifted": report.drifted_features,
        "compared": report["num_0"].compared,
        "rows": current.rows,
    }


def run_check(rows: int, chunk_rows: int) -> dict[str, Any]:
    """Drift from summaries of the in-memory data, set against the exact report."""
    from shipyard.monitoring import drift_report
    from shipyard.monitoring.summaries import Summary, summarise
    from shipyard.monitoring.summary_drift import drift_from_summaries

    reference, kinds = make_data(rows, 1, drifted=False)
    current, _ = make_data(rows, 2, drifted=True)

    def summary_of(data: dict[str, Any], like: Summary | None) -> Summary:
        total = like
        for start in range(0, rows, chunk_rows):
            chunk = {k: v[start : start + chunk_rows] for k, v in data.items()}
            part = summarise(chunk, None if total else kinds, like=total)
            total = part if total is None or total is like else total.merge(part)
        assert total is not None
        return total

    ref_summary = summary_of(reference, None)
    approx = drift_from_summaries(ref_summary, summary_of(current, ref_summary))
    exact = drift_report(reference, current, kinds)
    gaps = [abs((a.statistic or 0.0) - (e.statistic or 0.0)) for a, e in zip(approx.features, exact.features, strict=True)]  # fmt: skip
    return {
        "max_gap": max(gaps),
        "same_verdicts": approx.drifted_features == exact.drifted_features,
        "drifted": exact.drifted_features,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale-rows", type=int, default=20_000_000)
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument("--check-summaries", action="store_true",
                        help="only compare drift from summaries with the exact report (--rows)")  # fmt: skip
    parser.add_argument("--child", choices=["shipyard", "scipy", "scale"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.check_summaries:
        check = run_check(args.rows, args.chunk_rows)
        print(f"{args.rows:,} rows, summarised {args.chunk_rows:,} at a time: largest gap to the "
              f"exact statistics {check['max_gap']:.4f}; same drifted features: "
              f"{check['same_verdicts']} ({', '.join(check['drifted'])})")  # fmt: skip
        return
    if args.child == "scale":
        print(json.dumps(run_scale(args.rows, args.scale_rows, args.chunk_rows)))
        return
    if args.child:
        print(json.dumps(run_once(args.rows, args.child)))
        return
    load_before = os.getloadavg()[0]
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
          f"median of {args.repeat}; load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores")  # fmt: skip
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
    print(f"  shipyard is {ratio:.1f}x faster, and tests 5 more features; "
          f"noise floors computed: {med['shipyard']['floors']:.0f} of 25")  # fmt: skip
    if args.scale_rows:
        out = subprocess.run(
            [sys.executable, __file__, "--rows", str(args.rows), "--child", "scale",
             "--scale-rows", str(args.scale_rows), "--chunk-rows", str(args.chunk_rows)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        scale = json.loads(out.stdout)
        print(f"{scale['rows']:,}-row window against {args.rows:,} reference rows, "
              f"summarised {args.chunk_rows:,} rows at a time (one run)")  # fmt: skip
        print(
            f"  summarise + merge + compare {scale['seconds']:7.1f} s "
            f"(compare alone {scale['compare_seconds']:.2f} s)   "
            f"peak RSS {scale['peak_mib']:6.0f} MiB   drifted: {', '.join(scale['drifted'])}"
        )
        print(f"  num_0 compared: {scale['compared']}")


if __name__ == "__main__":
    main()
