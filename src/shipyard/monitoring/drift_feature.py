"""One feature's drift: missing share, test choice, statistic, floor and verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from shipyard.errors import InvalidInputError
from shipyard.monitoring.floor import counts_floor, wasserstein_floor
from shipyard.monitoring.methods import FEW_VALUES, Kind, Method
from shipyard.monitoring.report import FeatureDrift
from shipyard.monitoring.stats import StatResult, chi2_goodness_of_fit
from shipyard.monitoring.stats.binning import Support, missing_mask, shared_bins, shared_levels
from shipyard.monitoring.stats.ks import ks_2samp
from shipyard.monitoring.stats.wasserstein import STD_FLOOR, wasserstein_norm
from shipyard.monitoring.verdict import choose, judge, missing_shift, untested

if TYPE_CHECKING:
    from shipyard.monitoring.drift import DriftOptions, FeatureOptions

__all__ = ["counts_test", "evaluate_feature"]


def evaluate_feature(
    name: str,
    kind: Kind,
    reference: npt.NDArray[Any],
    current: npt.NDArray[Any],
    opts: DriftOptions,
    fopts: FeatureOptions | None,
) -> FeatureDrift:
    """Test one feature; numeric columns arrive as float64 with NaN for missing values."""
    ref_missing, cur_missing = missing_mask(reference), missing_mask(current)
    missing = missing_shift(
        int(ref_missing.sum()), ref_missing.size, int(cur_missing.sum()), cur_missing.size, opts
    )
    if kind == "numeric":  # infinities are neither missing nor part of the distribution
        ref_present, cur_present = np.isfinite(reference), np.isfinite(current)
    else:
        ref_present, cur_present = ~ref_missing, ~cur_missing
    ref = reference if ref_present.all() else reference[ref_present]
    cur = current if cur_present.all() else current[cur_present]
    if ref.size == 0 or cur.size == 0:
        side = "reference" if ref.size == 0 else "current window"
        test = fopts.test if fopts is not None else None
        return untested(name, kind, test, f"no present values in the {side}", missing)

    support: Support | None = None
    if kind == "numeric":
        ref, cur = _sorted(ref, reference), _sorted(cur, current)
        n_values, exact = _distinct(ref, cur)
    else:
        support = shared_levels(ref, cur, top_k=None if opts.compat else opts.top_k)
        n_values, exact = support.n_levels, True
    choice = choose(name, kind, ref.size, n_values, exact, fopts)
    method = choice.method

    std = None
    if method.data == "sample":
        std = _std(ref)  # once: the statistic and its floor share it
        result = _sample_test(method, ref, cur, std)
    else:
        if support is None:
            support = shared_bins(ref, cur)
        result = counts_test(method, name, support, opts)
    unseen = None if support is None or kind == "numeric" else support.unseen / cur.size
    return judge(
        name,
        kind,
        choice,
        result,
        compared=support.compared if support is not None else result.compared,
        unseen_share=unseen,
        missing=missing,
        opts=opts,
        fopts=fopts,
        floor=lambda: _floor(method, name, ref, cur, support, opts, std),
    )


def counts_test(method: Method, name: str, support: Support, opts: DriftOptions) -> StatResult:
    """A counts method on a support (Evidently's goodness-of-fit chi-squared in compat mode)."""
    if method.name == "z" and len(support.labels) > 2:
        raise InvalidInputError(
            f"the Z test compares two levels; feature {name!r} has {len(support.labels)}"
        )
    if method.name == "chi2" and opts.compat:
        return chi2_goodness_of_fit(support.reference, support.current)
    return method.compute(support.reference, support.current)


def _sample_test(
    method: Method, ref: npt.NDArray[Any], cur: npt.NDArray[Any], std: float
) -> StatResult:
    if method.name == "ks":
        return ks_2samp(ref, cur, assume_sorted=True)
    return wasserstein_norm(ref, cur, std=std, assume_sorted=True)


def _sorted(values: npt.NDArray[Any], original: npt.NDArray[Any]) -> npt.NDArray[Any]:
    if values is original:
        return np.sort(values)
    values.sort()  # already a filtered copy of our own
    return values


def _std(values: npt.NDArray[Any]) -> float:
    return float(np.std(values))


def _floor(
    method: Method,
    name: str,
    ref: npt.NDArray[Any],
    cur: npt.NDArray[Any],
    support: Support | None,
    opts: DriftOptions,
    std: float | None,
) -> tuple[float, int] | None:
    window = cur.size
    if method.data == "sample":
        digest = np.ascontiguousarray(cur[:: max(1, window // 4096)]).tobytes()
    else:
        assert support is not None
        digest = support.current.tobytes()
    rng = opts.rng(name, digest)
    if method.data == "sample":
        scale = max(_std(ref) if std is None else std, STD_FLOOR)
        return wasserstein_floor(
            ref,
            scale,
            window,
            n_resamples=opts.n_resamples,
            quantile=opts.floor_quantile,
            rng=rng,
            max_rows=opts.floor_max_rows,
        )
    assert support is not None and method.distance is not None
    value = counts_floor(
        method.distance,
        support.reference,
        window,
        n_resamples=opts.n_resamples,
        quantile=opts.floor_quantile,
        rng=rng,
    )
    return value, window


def _distinct(ref: npt.NDArray[Any], cur: npt.NDArray[Any]) -> tuple[int, bool]:
    """Distinct values of two sorted samples together, and whether the count is exact.

    Exact whenever one side has few values (all the default choice needs); otherwise the larger
    side's count, a lower bound, to spare a merge of two large samples.
    """
    counts = [int(np.count_nonzero(x[1:] != x[:-1])) + 1 for x in (ref, cur)]
    if min(counts) > FEW_VALUES:
        return max(counts), False
    ref_values = ref[np.concatenate(([True], ref[1:] != ref[:-1]))]
    cur_values = cur[np.concatenate(([True], cur[1:] != cur[:-1]))]
    small, large = sorted((ref_values, cur_values), key=len)
    pos = np.minimum(np.searchsorted(large, small), large.size - 1)
    return int(large.size + np.count_nonzero(large[pos] != small)), True
