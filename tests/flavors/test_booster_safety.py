"""Crafted XGBoost and LightGBM files: refused before the library sees them.

Each of these files crashes the process (segfault or abort) or hangs it when handed to the library
directly; the flavors must turn them into IntegrityError instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import IntegrityError
from shipyard.flavors import LoadContext, get_flavor
from shipyard.settings import Settings

CONTEXT = LoadContext(Settings())
XGBOOST = get_flavor("xgboost")
LIGHTGBM = get_flavor("lightgbm")


def _frame() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(11)
    frame = pd.DataFrame(
        {"a": rng.normal(size=300), "c": pd.Categorical(rng.integers(0, 8, size=300))}
    )
    y = ((frame["a"] > 1.0) ^ frame["c"].isin([1, 3, 5])).to_numpy().astype(int)
    return frame, y


def _xgboost_booster() -> Any:
    from xgboost import XGBClassifier

    frame, y = _frame()
    model = XGBClassifier(n_estimators=3, max_depth=3, enable_categorical=True)
    return model.fit(frame, y).get_booster()


def _xgboost_json(change: Callable[[dict[str, Any]], None]) -> bytes:
    document = json.loads(bytes(_xgboost_booster().save_raw("json")))
    change(document["learner"]["gradient_booster"]["model"])
    return json.dumps(document).encode()


def _first_tree(model: dict[str, Any]) -> dict[str, Any]:
    tree: dict[str, Any] = model["trees"][0]
    return tree


def _child_out_of_range(model: dict[str, Any]) -> None:
    _first_tree(model)["left_children"][0] = 100_000


def _cycle_to_root(model: dict[str, Any]) -> None:
    _first_tree(model)["right_children"][1] = 0


def _feature_out_of_range(model: dict[str, Any]) -> None:
    _first_tree(model)["split_indices"][0] = 100_000


def _categories_out_of_range(model: dict[str, Any]) -> None:
    tree = _first_tree(model)
    tree.update(categories_nodes=[0], categories_segments=[1000], categories_sizes=[5])


def _output_group_out_of_range(model: dict[str, Any]) -> None:
    model["tree_info"][0] = 1000  # the tree's output would be written past the result row


@pytest.mark.parametrize(
    "change",
    [
        _child_out_of_range,
        _cycle_to_root,
        _feature_out_of_range,
        _categories_out_of_range,
        _output_group_out_of_range,
    ],
)
def test_crafted_xgboost_trees_are_refused(change: Callable[[dict[str, Any]], None]) -> None:
    with pytest.raises(IntegrityError, match="XGBoost model does not check out"):
        XGBOOST.load(_xgboost_json(change), CONTEXT)


def test_untampered_xgboost_json_and_ubj_load_alike() -> None:
    booster = _xgboost_booster()
    frame, _ = _frame()
    expected = XGBOOST.predict_proba(booster, frame)
    assert expected is not None
    for data in (bytes(booster.save_raw("json")), _xgboost_json(lambda model: None)):
        np.testing.assert_allclose(
            XGBOOST.predict_proba(XGBOOST.load(data, CONTEXT), frame), expected
        )
    np.testing.assert_array_equal(
        XGBOOST.predict_proba(XGBOOST.load(XGBOOST.save(booster), CONTEXT), frame), expected
    )


@pytest.mark.parametrize("cut", [1, 100, 0.5, -1])
def test_truncated_ubj_is_refused(cut: float) -> None:
    data = XGBOOST.save(_xgboost_booster())
    end = int(len(data) * cut) if isinstance(cut, float) else cut
    with pytest.raises(IntegrityError, match="truncated"):
        XGBOOST.load(data[:end], CONTEXT)


@pytest.mark.parametrize(
    "data",
    [
        b'{"learner":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b"{L" + (7).to_bytes(8, "big") + b"learner" + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
    ids=["json", "ubj"],
)
def test_deeply_nested_documents_are_refused(data: bytes) -> None:
    with pytest.raises(IntegrityError, match="not a well-formed XGBoost model"):
        XGBOOST.load(data, CONTEXT)


def _lightgbm_text() -> str:
    from lightgbm import LGBMClassifier

    frame, y = _frame()
    model = LGBMClassifier(n_estimators=3, min_child_samples=5, verbose=-1).fit(frame, y)
    text: str = model.booster_.model_to_string()
    assert "num_cat=1" in text  # the categorical column is split on
    return text


def _edit_lightgbm(key: str, change: Callable[[list[str]], None]) -> bytes:
    """Change the first tree line ``key=...`` (values as a list of strings)."""
    lines = _lightgbm_text().split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(f"{key}="))
    values = lines[at].split("=", 1)[1].split(" ")
    change(values)
    lines[at] = f"{key}={' '.join(values)}"
    return "\n".join(lines).encode()


def _set(index: int, value: str) -> Callable[[list[str]], None]:
    return lambda values: values.__setitem__(index, value)


LIGHTGBM_TAMPERINGS = {
    "child-out-of-range": ("left_child", _set(0, "100000"), "left_child 100000"),
    "cycle-to-root": ("left_child", _set(1, "0"), "node 1 has left_child 0"),
    "leaf-out-of-range": ("right_child", _set(0, "-100000"), "right_child -100000"),
    "feature-out-of-range": ("split_feature", _set(0, "7"), "split feature"),
    "short-array": ("left_child", lambda values: values.pop(), "left_child has"),
    "categories-past-the-bitsets": ("cat_boundaries", _set(-1, "999"), "cat_boundaries"),
}


@pytest.mark.parametrize("tampering", list(LIGHTGBM_TAMPERINGS))
def test_crafted_lightgbm_trees_are_refused(tampering: str) -> None:
    key, change, says = LIGHTGBM_TAMPERINGS[tampering]
    with pytest.raises(IntegrityError, match=says):
        LIGHTGBM.load(_edit_lightgbm(key, change), CONTEXT)


def test_untampered_lightgbm_loads_without_its_tree_sizes_header() -> None:
    text = _lightgbm_text()
    assert "\ntree_sizes=" in text
    loaded = LIGHTGBM.load(text.encode(), CONTEXT)
    frame, _ = _frame()
    from lightgbm import Booster

    original = Booster(model_str=text)
    np.testing.assert_allclose(loaded.predict(frame), original.predict(frame))
    assert loaded.num_trees() == original.num_trees()
