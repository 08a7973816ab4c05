"""Drift from summaries: the report of :func:`~shipyard.monitoring.drift_report`, in bounded memory.

The test choice, thresholds, effect and noise floors, the missing-share signal and the
Benjamini-Hochberg option are the exact report's. What changes is what the tests see:

- categorical and boolean features: the level counts, which are exact (unless a side pooled
  levels past its ``max_levels``), so their figures equal the exact report's;
- numeric features with at most 20 distinct values on both sides: per-value counts, exact too;
- other numeric features, counts tests (chi-squared, Jensen-Shannon, PSI, ...): the fixed-edge
  histograms, the reference's quantile bins with open outer ends: **approximate (binned)**, and
  the report says so with the number of bins;
- Wasserstein and Kolmogorov-Smirnov: the two quantile sketches' CDFs, **approximate** within
  the sketches' rank error (stated in the report); the Wasserstein noise floor resamples
  quantiles read from the reference's sketch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Any

import numpy as np

from shipyard.errors import InvalidInputError
from shipyard.monitoring.drift import DriftOptions, FeatureOptions, assemble
from shipyard.monitoring.drift_feature import counts_test
from shipyard.monitoring.floor import POOL_ROWS, counts_floor, wasserstein_floor
from shipyard.monitoring.methods import FEW_VALUES, Kind
from shipyard.monitoring.profile_summary import summary_from_profile
from shipyard.monitoring.report import DriftReport, FeatureDrift, MissingShift
from shipyard.monitoring.sketch import QuantileSketch
from shipyard.monitoring.stats import StatResult
from shipyard.monitoring.stats._arrays import Floats
from shipyard.monitoring.stats._dist import ks_2samp_pvalue
from shipyard.monitoring.stats.binning import OTHER, Support
from shipyard.monitoring.stats.wasserstein import STD_FLOOR
from shipyard.monitoring.summaries import CategoricalSummary, NumericSummary, Summary
from shipyard.monitoring.verdict import Choice, choose, judge, missing_shift, untested

__all__ = ["drift_from_summaries", "sketch_ks", "sketch_w1"]


def drift_from_summaries(
    reference: Summary | Mapping[str, Any],
    current: Summary,
    *,
    options: DriftOptions | None = None,
) -> DriftReport:
    """Compare the ``current`` window's summary with the ``reference``'s, feature by feature.

    ``reference`` is a :class:`Summary` or a version's reference profile (see
    :mod:`~shipyard.monitoring.profile_summary`); ``current`` must have been summarised
    ``like=`` it (same features and edges).
    """
    opts = options or DriftOptions()
    if not isinstance(reference, Summary):
        reference = summary_from_profile(reference)
    if absent := [n for n in reference.features if n not in current.features]:
        raise InvalidInputError(
            f"the current summary has no feature(s) {', '.join(absent)}; "
            "summarise the current window with like=<the reference summary>"
        )
    if unknown := [n for n in opts.features if n not in reference.features]:
        raise InvalidInputError(f"options given for unknown feature(s) {', '.join(unknown)}")
    ref_summary = reference

    def one(name: str) -> FeatureDrift:
        ref, cur = ref_summary.features[name], current.features[name]
        fopts = opts.features.get(name)
        if isinstance(ref, NumericSummary) and isinstance(cur, NumericSummary):
            if not np.array_equal(ref.edges, cur.edges):
                raise InvalidInputError(
                    f"feature {name!r} was summarised with other bin edges than the reference's; "
                    "summarise the current window with like=<the reference summary>"
                )
            return _numeric(name, ref, cur, opts, fopts)
        if isinstance(ref, CategoricalSummary) and isinstance(cur, CategoricalSummary):
            return _categorical(name, ref, cur, opts, fopts)
        raise InvalidInputError(
            f"feature {name!r} is {ref.kind} in the reference and {cur.kind} in the window"
        )

    names = list(reference.features)
    workers = opts.workers or min(4, os.cpu_count() or 1)
    if workers > 1 and len(names) > 1:  # each feature's randomness is its own: same report
        with ThreadPoolExecutor(max_workers=workers) as pool:
            features = list(pool.map(one, names))
    else:
        features = [one(name) for name in names]
    return assemble(features, opts, reference.rows, current.rows)


def _numeric(
    name: str,
    ref: NumericSummary,
    cur: NumericSummary,
    opts: DriftOptions,
    fopts: FeatureOptions | None,
) -> FeatureDrift:
    missing = missing_shift(ref.missing, ref.rows, cur.missing, cur.rows, opts)
    if ref.n == 0 or cur.n == 0:
        side = "reference" if ref.n == 0 else "current window"
        test = fopts.test if fopts is not None else None
        return untested(name, "numeric", test, f"no present values in the {side}", missing)
    per_value = _per_value(ref, cur)
    if per_value is not None:
        n_values, exact = len(per_value.labels), True
    else:  # one side has more than FEW_VALUES (20) distinct values
        n_values, exact = FEW_VALUES + 1, False
    choice = choose(name, "numeric", ref.n, n_values, exact, fopts)
    method = choice.method
    if method.data == "sample":
        # each sketch's CDF is off by at most its rank error over its rows; the two add up
        bound = ref.sketch.rank_error / ref.n + cur.sketch.rank_error / cur.n
        sketches = (
            f"approximate (quantile sketches of {ref.sketch.size} and {cur.sketch.size} values, "
            f"CDF error <= {bound:.2%})"
            if bound
            else "exact (both sketches still hold every value)"
        )
        scale = max(ref.std, STD_FLOOR)
        if method.name == "ks":
            d = sketch_ks(ref.sketch, cur.sketch)
            p, how = ks_2samp_pvalue(d, ref.n, cur.n)
            result = StatResult("ks", d, p, ref.n, cur.n, f"{sketches}: CDFs ({how} p-value)", d)
        else:
            w = sketch_w1(ref.sketch, cur.sketch) / scale
            result = StatResult("wasserstein", w, None, ref.n, cur.n, f"{sketches}: W1 / std")

        def floor() -> tuple[float, int] | None:
            pool = min(ref.n, POOL_ROWS)
            stand_in = ref.sketch.quantile((np.arange(pool) + 0.5) / pool)
            digest = cur.sketch.levels[-1].tobytes() + cur.counts.tobytes()
            return wasserstein_floor(
                stand_in,
                scale,
                cur.n,
                n_resamples=opts.n_resamples,
                quantile=opts.floor_quantile,
                rng=opts.rng(name, digest),
                max_rows=opts.floor_max_rows,
                n_reference=ref.n,
            )

        return judge(
            name, "numeric", choice, result, compared=result.compared, unseen_share=None,
            missing=missing, opts=opts, fopts=fopts, floor=floor,
        )  # fmt: skip
    support = per_value if per_value is not None else _bins(ref, cur)
    return _counts_verdict(name, "numeric", choice, support, None, missing, opts, fopts)


def _categorical(
    name: str,
    ref: CategoricalSummary,
    cur: CategoricalSummary,
    opts: DriftOptions,
    fopts: FeatureOptions | None,
) -> FeatureDrift:
    missing = missing_shift(ref.missing, ref.rows, cur.missing, cur.rows, opts)
    n_ref, n_cur = ref.rows - ref.missing, cur.rows - cur.missing
    if n_ref == 0 or n_cur == 0:
        side = "reference" if n_ref == 0 else "current window"
        test = fopts.test if fopts is not None else None
        return untested(name, ref.kind, test, f"no present values in the {side}", missing)
    support = _levels(ref, cur, None if opts.compat else opts.top_k)
    choice = choose(name, ref.kind, n_ref, support.n_levels, True, fopts)
    unseen = support.unseen / n_cur
    return _counts_verdict(name, ref.kind, choice, support, unseen, missing, opts, fopts)


def _counts_verdict(
    name: str,
    kind: Kind,
    choice: Choice,
    support: Support,
    unseen: float | None,
    missing: MissingShift,
    opts: DriftOptions,
    fopts: FeatureOptions | None,
) -> FeatureDrift:
    method = choice.method
    result = counts_test(method, name, support, opts)

    def floor() -> tuple[float, int] | None:
        assert method.distance is not None
        window = int(support.current.sum())
        value = counts_floor(
            method.distance,
            support.reference,
            window,
            n_resamples=opts.n_resamples,
            quantile=opts.floor_quantile,
            rng=opts.rng(name, support.current.tobytes()),
        )
        return value, window

    return judge(
        name, kind, choice, result, compared=support.compared,
        unseen_share=unseen, missing=missing, opts=opts, fopts=fopts, floor=floor,
    )  # fmt: skip


def _per_value(ref: NumericSummary, cur: NumericSummary) -> Support | None:
    """Exact per-value counts when both sides have at most 20 distinct values, else None."""
    if ref.values is None or cur.values is None:
        return None
    assert ref.value_counts is not None and cur.value_counts is not None
    values = np.union1d(ref.values, cur.values)
    ref_counts = np.zeros(values.size, dtype=np.int64)
    cur_counts = np.zeros(values.size, dtype=np.int64)
    ref_counts[np.searchsorted(values, ref.values)] = ref.value_counts
    cur_counts[np.searchsorted(values, cur.values)] = cur.value_counts
    labels = tuple(str(v) for v in values.tolist())
    return Support(labels, ref_counts, cur_counts, f"{values.size} levels", 0, values.size)


def _bins(ref: NumericSummary, cur: NumericSummary) -> Support:
    bounds = [-np.inf, *ref.edges.tolist(), np.inf]
    labels = tuple(f"[{lo:.6g}, {hi:.6g})" for lo, hi in pairwise(bounds))
    compared = (
        f"approximate (binned, {len(labels)} bins): the reference's quantile bins, "
        "the outer two open-ended"
    )
    return Support(labels, ref.counts, cur.counts, compared)


def _levels(ref: CategoricalSummary, cur: CategoricalSummary, top_k: int | None) -> Support:
    """:func:`~shipyard.monitoring.stats.binning.shared_levels` on level counts."""
    names = sorted(set(ref.levels) | set(cur.levels))
    r = np.array([ref.levels.get(n, 0) for n in names], dtype=np.int64)
    c = np.array([cur.levels.get(n, 0) for n in names], dtype=np.int64)
    unseen = int(c[r == 0].sum())
    pooled = ref.pooled + cur.pooled
    note = f" (approximate: {pooled} rows of levels past max_levels pooled)" if pooled else ""
    if (top_k is not None and len(names) > top_k) or pooled:
        k = len(names) if top_k is None else min(top_k, len(names))
        ranked = sorted(range(len(names)), key=lambda i: (-r[i], -c[i], names[i]))
        keep, rest = sorted(ranked[:k], key=lambda i: names[i]), ranked[k:]
        labels = (*(names[i] for i in keep), OTHER)
        ref_out = np.append(r[keep], r[rest].sum() + ref.pooled)
        cur_out = np.append(c[keep], c[rest].sum() + cur.pooled)
        compared = f"top {k} of {len(names)} levels + {OTHER}{note}"
        return Support(labels, ref_out, cur_out, compared, unseen, len(names))
    return Support(tuple(names), r, c, f"{len(names)} levels", unseen, len(names))


def _cdfs(a: QuantileSketch, b: QuantileSketch) -> tuple[Floats, Floats, Floats]:
    """Both sketches' CDFs at every kept value of either, in increasing order."""
    points = np.union1d(a.weighted()[0], b.weighted()[0])
    return points, a.rank(points) / a.n, b.rank(points) / b.n


def sketch_w1(a: QuantileSketch, b: QuantileSketch) -> float:
    """W1 = ∫ |F_a - F_b| dx between the distributions two sketches stand for."""
    points, fa, fb = _cdfs(a, b)
    return float(np.abs(fa - fb)[:-1] @ np.diff(points))


def sketch_ks(a: QuantileSketch, b: QuantileSketch) -> float:
    """sup |F_a - F_b| between the distributions two sketches stand for."""
    _, fa, fb = _cdfs(a, b)
    return float(np.abs(fa - fb).max())
