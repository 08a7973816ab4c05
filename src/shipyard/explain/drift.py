"""Attribution drift: has the live ranking of feature importance moved away from training's?

As SageMaker Clarify measures it, with the normalised discounted cumulative gain of the live
ranking scored by the training importance::

    DCG  = sum_i F(s_i) / log2(i + 1)   s_i: the i-th feature by live mean |attribution|
    iDCG = sum_i F(t_i) / log2(i + 1)   t_i: the i-th feature by training importance
    NDCG = DCG / iDCG                    F: the training importance of a feature

1.0 means the live ranking orders the features as training did (ties and the scores of
features of equal rank aside); a value below 0.9 (Clarify's default) raises an alert. Pure
functions of two ``{feature: importance}`` mappings; the monitor supplies the live figures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from shipyard.errors import InvalidInputError

__all__ = ["ATTRIBUTION_DRIFT_THRESHOLD", "AttributionDrift", "attribution_drift", "ndcg"]

ATTRIBUTION_DRIFT_THRESHOLD = 0.9


def ndcg(
    live: Mapping[str, float], training: Mapping[str, float], *, k: int | None = None
) -> float:
    """NDCG of the live ranking against the training ranking, over the top ``k`` features (all
    by default). A training feature absent from ``live`` ranks last there."""
    if not training:
        raise InvalidInputError("the training importance is empty: nothing to rank against")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise InvalidInputError(f"k must be a positive integer, got {k!r}")
    scores = {name: _score(name, value) for name, value in training.items()}
    live_scores = {name: _score(name, live[name]) if name in live else -1.0 for name in scores}
    depth = len(scores) if k is None else min(k, len(scores))
    # ties broken by name, so the figure does not depend on the mappings' order
    live_order = sorted(scores, key=lambda n: (-live_scores[n], n))[:depth]
    ideal_order = sorted(scores, key=lambda n: (-scores[n], n))[:depth]
    dcg = sum(scores[n] / math.log2(i + 2) for i, n in enumerate(live_order))
    idcg = sum(scores[n] / math.log2(i + 2) for i, n in enumerate(ideal_order))
    return 1.0 if idcg == 0.0 else dcg / idcg


@dataclass(frozen=True)
class AttributionDrift:
    """One comparison: the NDCG, the threshold, whether it alerts, and both rankings."""

    ndcg: float
    threshold: float
    alert: bool
    live_ranking: tuple[str, ...]
    training_ranking: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "ndcg": self.ndcg,
            "threshold": self.threshold,
            "alert": self.alert,
            "live_ranking": list(self.live_ranking),
            "training_ranking": list(self.training_ranking),
        }


def attribution_drift(
    live: Mapping[str, float],
    training: Mapping[str, float],
    *,
    threshold: float = ATTRIBUTION_DRIFT_THRESHOLD,
    k: int | None = None,
) -> AttributionDrift:
    """Compare live and training importance; ``alert`` when the NDCG is below ``threshold``."""
    if not 0.0 < threshold <= 1.0:
        raise InvalidInputError(f"threshold must be in (0, 1], got {threshold!r}")
    value = ndcg(live, training, k=k)
    return AttributionDrift(
        ndcg=value,
        threshold=threshold,
        alert=value < threshold,
        live_ranking=tuple(sorted(live, key=lambda n: (-live[n], n))),
        training_ranking=tuple(sorted(training, key=lambda n: (-training[n], n))),
    )


def _score(name: str, value: float) -> float:
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise InvalidInputError(
            f"importance of {name!r} must be a finite, non-negative number, got {value!r}"
        )
    return number
