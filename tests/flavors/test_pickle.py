"""The pickle flavor: refused without the operator's opt-in, audited on every load."""

from __future__ import annotations

import io
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest

from shipyard.errors import UnsafeFormatError
from shipyard.flavors import LoadContext, flavor_for_file, flavor_for_model, get_flavor
from shipyard.settings import Settings

PICKLE = get_flavor("pickle")
ALLOWED = Settings(allow_pickle=True)


class MajorityVote:
    """A plain Python model with both prediction methods."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (frame[self.columns].to_numpy() > 0).sum(axis=1) * 2 > len(self.columns)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        share = (frame[self.columns].to_numpy() > 0).mean(axis=1)
        return np.column_stack([1 - share, share])


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame(rng.normal(size=(30, 3)), columns=["x", "y", "z"])


def _assert_explains_the_refusal(message: str) -> None:
    assert "run arbitrary code" in message
    assert "SHIPYARD_ALLOW_PICKLE=1" in message and "allow_pickle = true" in message
    assert "skops" in message and "ONNX" in message and "XGBoost" in message


def test_flavor_for_model_refuses_pickle_without_the_setting() -> None:
    with pytest.raises(UnsafeFormatError) as info:
        flavor_for_model(MajorityVote(["x"]), Settings())
    _assert_explains_the_refusal(str(info.value))
    assert "MajorityVote" in str(info.value)
    assert flavor_for_model(MajorityVote(["x"]), ALLOWED) is PICKLE


def test_flavor_for_file_refuses_pickle_without_the_setting() -> None:
    data = PICKLE.save(MajorityVote(["x"]))
    for name in ("model.pkl", "model.pickle", "model.joblib", "model.cloudpickle"):
        with pytest.raises(UnsafeFormatError, match="SHIPYARD_ALLOW_PICKLE"):
            flavor_for_file(name, data[:64], Settings())
        assert flavor_for_file(name, data[:64], ALLOWED) is PICKLE


def test_load_refuses_without_the_setting_and_never_reports_a_load() -> None:
    data = PICKLE.save(MajorityVote(["x"]))
    calls: list[str] = []
    with pytest.raises(UnsafeFormatError) as info:
        PICKLE.load(data, LoadContext(Settings(), on_unsafe_load=calls.append))
    _assert_explains_the_refusal(str(info.value))
    assert calls == []


def test_every_allowed_load_is_reported_exactly_once() -> None:
    model = MajorityVote(["x", "y", "z"])
    data = PICKLE.save(model)
    calls: list[str] = []
    context = LoadContext(ALLOWED, on_unsafe_load=calls.append)
    first = PICKLE.load(data, context)
    assert calls == ["pickle"]
    second = PICKLE.load(data, context)
    assert calls == ["pickle", "pickle"]
    frame = _frame()
    for loaded in (first, second):
        np.testing.assert_array_equal(PICKLE.predict(loaded, frame), model.predict(frame))
        proba = PICKLE.predict_proba(loaded, frame)
        assert proba is not None
        np.testing.assert_allclose(proba, model.predict_proba(frame))


def test_load_without_a_callback_still_works_when_allowed() -> None:
    data = PICKLE.save(MajorityVote(["x"]))
    loaded = PICKLE.load(data, LoadContext(ALLOWED))
    assert isinstance(loaded, MajorityVote) and loaded.columns == ["x"]


@pytest.mark.parametrize("compress", [0, 3])
def test_joblib_files_load(compress: int) -> None:
    model = MajorityVote(["y"])
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=compress)
    calls: list[str] = []
    loaded = PICKLE.load(buffer.getvalue(), LoadContext(ALLOWED, on_unsafe_load=calls.append))
    assert calls == ["pickle"]
    frame = _frame()
    np.testing.assert_array_equal(PICKLE.predict(loaded, frame), model.predict(frame))


def test_safe_flavors_win_even_when_pickle_is_allowed() -> None:
    from sklearn.linear_model import LinearRegression

    frame = _frame()
    model: Any = LinearRegression().fit(frame, frame["x"])
    assert flavor_for_model(model, ALLOWED).name == "sklearn"


def test_a_model_without_predict_proba_gives_none() -> None:
    class OnlyPredict:
        def predict(self, frame: pd.DataFrame) -> np.ndarray:
            return np.zeros(len(frame))

    assert PICKLE.predict_proba(OnlyPredict(), _frame()) is None
    assert PICKLE.describe(OnlyPredict())["task"] == "other"
