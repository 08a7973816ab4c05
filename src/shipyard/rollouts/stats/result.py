"""The result of a fixed-horizon comparison of a candidate against its baseline."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from shipyard.errors import InvalidInputError

__all__ = ["Alternative", "TestResult", "null_difference"]

Alternative = Literal["two-sided", "greater", "less"]
"""What the candidate is hoped to be: different, greater (higher is better), or less."""


def null_difference(alternative: Alternative, margin: float) -> float:
    """The difference (candidate - baseline) under the null hypothesis.

    ``margin`` is how much worse the candidate may be and still count as not worse: with
    ``"greater"`` (higher is better) the null is ``diff <= -margin``; with ``"less"`` (lower is
    better) it is ``diff >= +margin``. A two-sided test has no margin.
    """
    if alternative not in ("two-sided", "greater", "less"):
        raise InvalidInputError(
            f"alternative must be 'two-sided', 'greater' or 'less', got {alternative!r}"
        )
    if not math.isfinite(margin) or margin < 0:
        raise InvalidInputError(f"margin must be a finite number >= 0, got {margin}")
    if alternative == "two-sided":
        if margin:
            raise InvalidInputError(
                "a non-inferiority margin needs a one-sided test: alternative='greater' when "
                "higher is better, 'less' when lower is better"
            )
        return 0.0
    return -margin if alternative == "greater" else margin


def check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise InvalidInputError(f"alpha must be between 0 and 1, got {alpha}")


@dataclass(frozen=True)
class TestResult:
    """What a fixed-horizon test found about ``difference`` = candidate - baseline.

    The confidence interval is dual to the test: two-sided for ``"two-sided"``, one-sided
    (an infinite upper or lower end) otherwise, so ``significant`` is exactly "the interval
    excludes the null difference". ``df`` is the Welch-Satterthwaite degrees of freedom, or
    ``None`` for z-tests.
    """

    __test__ = False  # not a pytest class

    test: str
    difference: float
    statistic: float
    p_value: float
    ci_low: float
    ci_high: float
    alpha: float
    alternative: Alternative
    margin: float
    n_baseline: int
    n_candidate: int
    df: float | None = None

    @property
    def significant(self) -> bool:
        """The null (no difference, or worse by more than the margin) is rejected at ``alpha``."""
        return self.p_value <= self.alpha
