"""One feature's drift: missing share, test choice, statistic, floor and verdict."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from shipyard.errors import InvalidInputError
from shipyard.monitoring.floor import counts_floor, wasserstein_floor
from shipyard.monitoring.methods import FEW_VALUES, Kind, Method, default_method, get_method
from shipyard.monitoring.report import FeatureDrift, MissingShift
from shipyard.monitoring.stats import StatResult, chi2_goodness_of_fit, two_proportion_z
from shipyard.monitoring.stats.binning import Support, missing_mask, shared_bins, shared_levels
from shipyard.monitoring.stats.ks import ks_2samp
from shipyard.monitoring.stats.wasserstein import STD_FLOOR, wasserstein_norm

if TYPE_CHECKING:
    from shipyard.monitoring.drift import DriftOptions, FeatureOptions

__all__ = ["evaluate_feature"]

# A window as large as a reference of this many rows has a Wasserstein noise of a few
# hundredths of a standard deviation at most: its floor is skipped (reported as None).
SKIP_FLOOR_ROWS = 10_000


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
    missing = _missing_shift(ref_missing, cur_missing, opts)
    if kind == "numeric":  # infinities are neither missing nor part of the distribution
        ref_present, cur_present = np.isfinite(reference), np.isfinite(current)
    else:
        ref_present, cur_present = ~ref_missing, ~cur_missing
    ref = reference if ref_present.all() else reference[ref_present]
    cur = current if cur_present.all() else current[cur_present]
    test = fopts.test if fopts is not None else None
    if ref.size == 0 or cur.size == 0:
        side = "reference" if ref.size == 0 else "current window"
        return _untested(name, kind, test, f"no present values in the {side}", missing)

    support: Support | None = None
    if kind == "numeric":
        ref, cur = _sorted(ref, reference), _sorted(cur, current)
        n_values, exact = _distinct(ref, cur)
    else:
        support = shared_levels(ref, cur, top_k=None if opts.compat else opts.top_k)
        n_values, exact = support.n_levels, True
    if test is not None:
        reason = "set for this feature"
    else:
        test, reason = default_method(kind, ref.size, n_values)
        if not exact:
            reason = reason.replace(
                f"with {n_values} distinct", f"with at least {n_values} distinct"
            )
    method = get_method(test, kind, name)
    threshold = fopts.threshold if fopts is not None and fopts.threshold is not None else None
    threshold = method.threshold if threshold is None else threshold

    if method.data == "sample":
        result = _sample_test(method, ref, cur)
    else:
        if support is None:
            support = shared_bins(ref, cur)
        if method.name == "z" and len(support.labels) > 2:
            raise InvalidInputError(
                f"the Z test compares two levels; feature {name!r} has {len(support.labels)}"
            )
        if method.name == "chi2" and opts.compat:
            result = chi2_goodness_of_fit(support.reference, support.current)
        else:
            result = method.compute(support.reference, support.current)

    floor: tuple[float, int] | None = None
    min_effect: float | None = None
    p = result.p_value
    if method.scale == "p_value":
        drifted = p is not None and p < threshold
        if not opts.compat:
            given = fopts.min_effect if fopts is not None else None
            min_effect = method.min_effect if given is None else given
            if min_effect is not None:
                drifted = drifted and (result.effect or 0.0) >= min_effect
    else:
        drifted = result.statistic >= threshold
        if opts.noise_floor and not opts.compat:
            floor = _floor(method, name, ref, cur, support, opts)
            drifted = drifted and (floor is None or result.statistic > floor[0])
    unseen = None if support is None or kind == "numeric" else support.unseen / cur.size
    return FeatureDrift(
        name=name,
        kind=kind,
        test=result.test,
        reason=reason,
        rule=method.rule(threshold),
        statistic=result.statistic,
        p_value=p,
        p_adjusted=None,
        threshold=threshold,
        effect=result.effect,
        min_effect=min_effect,
        noise_floor=None if floor is None else floor[0],
        floor_rows=None if floor is None else floor[1],
        drifted=bool(drifted),
        n_reference=result.n_reference,
        n_current=result.n_current,
        compared=support.compared if support is not None else result.compared,
        unseen_share=unseen,
        missing=missing,
    )


def _sample_test(method: Method, ref: npt.NDArray[Any], cur: npt.NDArray[Any]) -> StatResult:
    if method.name == "ks":
        return ks_2samp(ref, cur, assume_sorted=True)
    return wasserstein_norm(ref, cur, std=_std(ref), assume_sorted=True)


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
) -> tuple[float, int] | None:
    window = cur.size
    if method.data == "sample":
        digest = np.ascontiguousarray(cur[:: max(1, window // 4096)]).tobytes()
    else:
        assert support is not None
        digest = support.current.tobytes()
    rng = opts.rng(name, digest)
    if method.data == "sample":
        if window >= ref.size >= SKIP_FLOOR_ROWS:
            return None
        scale = max(_std(ref), STD_FLOOR)
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


def _missing_shift(
    ref_missing: npt.NDArray[np.bool_], cur_missing: npt.NDArray[np.bool_], opts: DriftOptions
) -> MissingShift:
    n_ref, n_cur = ref_missing.size, cur_missing.size
    if n_ref == 0 or n_cur == 0:
        return MissingShift(math.nan, math.nan, 0.0, 1.0, 0.0, False)
    hits_ref, hits_cur = int(ref_missing.sum()), int(cur_missing.sum())
    z = two_proportion_z(hits_ref, n_ref, hits_cur, n_cur)
    assert z.p_value is not None and z.effect is not None
    drifted = z.p_value < opts.missing_alpha and z.effect >= opts.missing_min_effect
    return MissingShift(
        hits_ref / n_ref, hits_cur / n_cur, z.statistic, z.p_value, z.effect, drifted
    )


def _untested(
    name: str, kind: Kind, test: str | None, reason: str, missing: MissingShift
) -> FeatureDrift:
    return FeatureDrift(
        name=name,
        kind=kind,
        test=test or "none",
        reason=reason,
        rule="",
        statistic=None,
        p_value=None,
        p_adjusted=None,
        threshold=math.nan,
        effect=None,
        min_effect=None,
        noise_floor=None,
        floor_rows=None,
        drifted=False,
        n_reference=0,
        n_current=0,
        compared="nothing: a sample is empty",
        unseen_share=None,
        missing=missing,
    )
