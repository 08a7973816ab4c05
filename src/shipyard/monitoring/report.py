"""The drift report: frozen records of what each feature's test found, JSON-ready on demand."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["DriftReport", "FeatureDrift", "MissingShift"]


@dataclass(frozen=True)
class MissingShift:
    """Did the share of missing values move? A two-proportion Z test with an effect floor."""

    reference_share: float
    current_share: float
    z: float
    p_value: float
    effect: float  # Cohen's w
    drifted: bool


@dataclass(frozen=True)
class FeatureDrift:
    """One feature's verdict and everything that led to it.

    ``p_value`` is ``None`` for distance tests; ``p_adjusted`` is the Benjamini-Hochberg value
    when the report was asked for one. ``noise_floor`` (distance tests) is the 95th percentile of
    the distance between reference resamples of ``floor_rows`` rows; ``effect`` and
    ``min_effect`` (p-value tests) are the effect size and its floor. ``statistic`` is ``None``
    when a sample had no present value, so no test ran.
    """

    name: str
    kind: str
    test: str
    reason: str
    rule: str
    statistic: float | None
    p_value: float | None
    p_adjusted: float | None
    threshold: float
    effect: float | None
    min_effect: float | None
    noise_floor: float | None
    floor_rows: int | None
    drifted: bool
    n_reference: int
    n_current: int
    compared: str
    unseen_share: float | None
    missing: MissingShift


@dataclass(frozen=True)
class DriftReport:
    """Every feature's verdict, and the dataset's: drift when ``share >= drift_share``."""

    features: tuple[FeatureDrift, ...]
    n_drifted: int
    share: float
    drift_share: float
    drifted: bool
    n_reference: int
    n_current: int
    compat: str | None
    fdr: bool

    def __getitem__(self, name: str) -> FeatureDrift:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(name)

    @property
    def drifted_features(self) -> list[str]:
        """Names of the features whose distribution drifted."""
        return [f.name for f in self.features if f.drifted]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: plain types, and ``None`` for any non-finite number."""
        result: dict[str, Any] = _clean(asdict(self))
        return result


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value
