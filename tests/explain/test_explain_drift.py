"""Attribution drift: NDCG of the live importance ranking against the training ranking."""

from __future__ import annotations

import math

import pytest

from shipyard.errors import InvalidInputError
from shipyard.explain import ATTRIBUTION_DRIFT_THRESHOLD, attribution_drift, ndcg

TRAINING = {"tenure": 0.30, "contract": 0.20, "charges": 0.10, "region": 0.01}


def test_same_ranking_scores_one() -> None:
    live = {"tenure": 0.9, "contract": 0.5, "charges": 0.2, "region": 0.0}  # other scale
    assert ndcg(live, TRAINING) == pytest.approx(1.0)
    assert attribution_drift(live, TRAINING).alert is False


def test_the_figure_follows_the_clarify_formula() -> None:
    live = {"contract": 0.5, "tenure": 0.4, "charges": 0.3, "region": 0.2}
    dcg = 0.20 / math.log2(2) + 0.30 / math.log2(3) + 0.10 / math.log2(4) + 0.01 / math.log2(5)
    idcg = 0.30 / math.log2(2) + 0.20 / math.log2(3) + 0.10 / math.log2(4) + 0.01 / math.log2(5)
    assert ndcg(live, TRAINING) == pytest.approx(dcg / idcg)
    top2 = (0.20 + 0.30 / math.log2(3)) / (0.30 + 0.20 / math.log2(3))
    assert ndcg(live, TRAINING, k=2) == pytest.approx(top2)


def test_a_reversed_ranking_alerts_below_the_default_threshold() -> None:
    live = {"tenure": 0.01, "contract": 0.1, "charges": 0.2, "region": 0.3}
    drift = attribution_drift(live, TRAINING)
    assert drift.ndcg < ATTRIBUTION_DRIFT_THRESHOLD == 0.9
    assert drift.alert is True
    assert drift.live_ranking == ("region", "charges", "contract", "tenure")
    assert drift.training_ranking == ("tenure", "contract", "charges", "region")
    assert drift.to_dict()["alert"] is True
    assert attribution_drift(live, TRAINING, threshold=drift.ndcg / 2).alert is False


def test_a_feature_missing_from_live_ranks_last() -> None:
    live = {"contract": 0.2, "charges": 0.1, "region": 0.05}  # tenure never seen live
    expected = (
        0.20 / math.log2(2) + 0.10 / math.log2(3) + 0.01 / math.log2(4) + 0.30 / math.log2(5)
    ) / (0.30 / math.log2(2) + 0.20 / math.log2(3) + 0.10 / math.log2(4) + 0.01 / math.log2(5))
    assert ndcg(live, TRAINING) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("live", "training", "options", "message"),
    [
        ({}, {}, {}, "training importance is empty"),
        ({"a": 1.0}, {"a": -1.0}, {}, "importance of 'a' must be a finite, non-negative"),
        ({"a": math.nan}, {"a": 1.0}, {}, "importance of 'a'"),
        ({"a": 1.0}, {"a": 1.0}, {"k": 0}, "k must be a positive integer"),
        ({"a": 1.0}, {"a": 1.0}, {"threshold": 1.5}, r"threshold must be in \(0, 1\]"),
    ],
)
def test_bad_input_names_the_field(
    live: dict[str, float], training: dict[str, float], options: dict[str, float], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        attribution_drift(live, training, **options)  # type: ignore[arg-type]
