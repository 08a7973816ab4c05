"""Global importance: mean |attribution| over the reference sample, attached once."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shipyard.errors import InvalidInputError
from shipyard.explain import global_importance, stored_importance
from shipyard.explain.background import summarise


def test_importance_is_computed_once_and_attached(
    registry: Any, churn: Any, churn_model: Any
) -> None:
    version = registry.register(
        churn_model, "churn", reference=churn.X, target=churn.y, convert_onnx=False
    )
    assert stored_importance(registry, version.ref) is None
    first = global_importance(registry, version.ref, rows=150)
    assert first["rows"] == 150
    assert first["method"] == "tree"
    values = list(first["features"].values())
    assert values == sorted(values, reverse=True)
    assert set(first["features"]) == set(churn.X.columns)

    # the same figure, recomputed by hand from the attributions of the same rows
    sample = registry.reference_sample(version.ref)
    rows = sample.loc[:, list(churn.X.columns)].sample(n=150, random_state=0).sort_index()
    explanation = registry.load(version.ref).explain(rows)
    expected = np.abs(explanation.values).mean(axis=0)
    for name, value in zip(explanation.features, expected, strict=True):
        assert first["features"][name] == pytest.approx(value, abs=1e-12)

    again = global_importance(registry, version.ref, rows=10)  # stored: not recomputed
    assert again == first
    kinds = [a.kind for a in registry.attachments(version.ref)]
    assert kinds.count("importance") == 1


def test_background_is_bounded_and_deterministic(churn: Any) -> None:
    features = list(churn.X.columns)
    one = summarise(churn.frame, features)
    assert len(one) == 100 and list(one.columns) == features  # the target column is dropped
    assert one.equals(summarise(churn.frame, features))
    assert len(summarise(churn.X.head(30), features)) == 30
    with pytest.raises(InvalidInputError, match="lacks feature"):
        summarise(churn.X.drop(columns=["age"]), features)
    with pytest.raises(InvalidInputError, match="background rows must be a positive integer"):
        summarise(churn.X, features, rows=0)


def test_live_importance_feeds_attribution_drift(
    registry: Any, churn: Any, churn_model: Any
) -> None:
    from shipyard import datasets
    from shipyard.explain import attribution_drift, live_importance

    version = registry.register(
        churn_model, "churn", reference=churn.X, target=churn.y, convert_onnx=False
    )
    training = global_importance(registry, version.ref, rows=200)["features"]
    model = registry.load(version.ref)
    same = live_importance(model, datasets.churn(300, seed=11).X)
    assert set(same) == set(churn.X.columns)
    assert attribution_drift(same, training).ndcg > 0.9  # same population: same ranking

    # live traffic where the model's top feature no longer varies: its attribution shrinks
    top = next(iter(training))
    shifted = datasets.churn(300, seed=12).X
    shifted[top] = churn.X[top].mode().iloc[0]
    moved = live_importance(model, shifted)
    assert moved[top] < same[top]
    with pytest.raises(InvalidInputError, match="max_rows must be a positive integer"):
        live_importance(model, shifted, max_rows=0)
