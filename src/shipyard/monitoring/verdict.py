"""From a feature's statistic to its verdict: shared by the exact report and the summaries.

The test is chosen (set, or Evidently's default rule), run by the caller on raw values or on
summaries, and judged here: a p-value test drifts below its threshold when its effect passes
the effect floor; a distance drifts at its threshold when it also passes its noise floor.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shipyard.monitoring.methods import Kind, Method, default_method, get_method
from shipyard.monitoring.report import FeatureDrift, MissingShift
from shipyard.monitoring.stats import StatResult, two_proportion_z

if TYPE_CHECKING:
    from shipyard.monitoring.drift import DriftOptions, FeatureOptions

__all__ = ["Choice", "choose", "judge", "missing_shift", "untested"]


@dataclass(frozen=True)
class Choice:
    """The test a feature runs, its threshold, and why it was chosen."""

    method: Method
    threshold: float
    reason: str


def choose(
    name: str,
    kind: Kind,
    n_reference: int,
    n_values: int,
    exact: bool,
    fopts: FeatureOptions | None,
) -> Choice:
    """The set test, else the default for ``n_values`` distinct values (a lower bound unless
    ``exact``) over ``n_reference`` present reference values."""
    test = fopts.test if fopts is not None else None
    if test is not None:
        reason = "set for this feature"
    else:
        test, reason = default_method(kind, n_reference, n_values)
        if not exact:
            reason = reason.replace(
                f"with {n_values} distinct", f"with at least {n_values} distinct"
            )
    method = get_method(test, kind, name)
    given = fopts.threshold if fopts is not None else None
    return Choice(method, method.threshold if given is None else given, reason)


def judge(
    name: str,
    kind: Kind,
    choice: Choice,
    result: StatResult,
    *,
    compared: str,
    unseen_share: float | None,
    missing: MissingShift,
    opts: DriftOptions,
    fopts: FeatureOptions | None,
    floor: Callable[[], tuple[float, int] | None],
) -> FeatureDrift:
    """The verdict on ``result``; ``floor`` computes the noise floor of a distance test."""
    method, threshold = choice.method, choice.threshold
    noise: tuple[float, int] | None = None
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
            noise = floor()
            drifted = drifted and (noise is None or result.statistic > noise[0])
    return FeatureDrift(
        name=name,
        kind=kind,
        test=result.test,
        reason=choice.reason,
        rule=method.rule(threshold),
        statistic=result.statistic,
        p_value=p,
        p_adjusted=None,
        threshold=threshold,
        effect=result.effect,
        min_effect=min_effect,
        noise_floor=None if noise is None else noise[0],
        floor_rows=None if noise is None else noise[1],
        drifted=bool(drifted),
        n_reference=result.n_reference,
        n_current=result.n_current,
        compared=compared,
        unseen_share=unseen_share,
        missing=missing,
    )


def missing_shift(
    missing_reference: int, n_reference: int, missing_current: int, n_current: int,
    opts: DriftOptions,
) -> MissingShift:  # fmt: skip
    """Did the share of missing values move? A two-proportion Z test with an effect floor."""
    if n_reference == 0 or n_current == 0:
        return MissingShift(math.nan, math.nan, 0.0, 1.0, 0.0, False)
    z = two_proportion_z(missing_reference, n_reference, missing_current, n_current)
    assert z.p_value is not None and z.effect is not None
    drifted = z.p_value < opts.missing_alpha and z.effect >= opts.missing_min_effect
    return MissingShift(
        missing_reference / n_reference,
        missing_current / n_current,
        z.statistic,
        z.p_value,
        z.effect,
        drifted,
    )


def untested(
    name: str, kind: Kind, test: str | None, reason: str, missing: MissingShift
) -> FeatureDrift:
    """A feature no test could run on (a side without present values), with its missing shift."""
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
