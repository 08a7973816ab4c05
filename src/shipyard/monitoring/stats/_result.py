"""The one result type every drift statistic returns."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["StatResult"]


@dataclass(frozen=True)
class StatResult:
    """What a two-sample statistic found, and on what.

    ``statistic`` is the test's own figure (KS D, chi-squared, z, or a distance); ``p_value`` is
    ``None`` for distances, which have no null distribution of their own. ``effect`` is a
    size-free effect size where the test has one (KS D; Cohen's w for chi-squared and z), used
    for the effect floor on large windows. ``compared`` says what was compared, for a reader.
    """

    test: str
    statistic: float
    p_value: float | None
    n_reference: int
    n_current: int
    compared: str
    effect: float | None = None
