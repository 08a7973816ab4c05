"""The composite flavor: skops preprocessing + a native booster, each part verified on load."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import IntegrityError
from shipyard.flavors import LoadContext, flavor_for_file, flavor_for_model, get_flavor
from shipyard.flavors.composite import CompositeModel
from shipyard.settings import Settings


def _frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
            "c": rng.choice(["red", "green", "blue"], size=n),
        }
    )


def _pipeline(estimator: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    columns = ColumnTransformer(
        [
            ("num", SimpleImputer(strategy="median"), ["a", "b"]),
            ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), ["c"]),
        ],
        sparse_threshold=0.0,
    )
    return Pipeline([("preprocess", columns), ("model", estimator)])


def _lgbm_classifier(labels: Any = None) -> tuple[Any, pd.DataFrame]:
    from lightgbm import LGBMClassifier

    frame = _frame()
    y = ((frame["a"] + (frame["c"] == "red")) > 0.3).astype(int)
    if labels is not None:
        y = y.map(dict(enumerate(labels)))
    model = _pipeline(LGBMClassifier(n_estimators=10, min_child_samples=5, verbose=-1))
    return model.fit(frame, y), frame


def _xgb_regressor() -> tuple[Any, pd.DataFrame]:
    from xgboost import XGBRegressor

    frame = _frame()
    y = 2.0 * frame["a"] - (frame["c"] == "blue")
    model = _pipeline(XGBRegressor(n_estimators=10, max_depth=3))
    return model.fit(frame, y), frame


def _roundtrip(model: Any) -> tuple[Any, bytes]:
    settings = Settings()
    flavor = flavor_for_model(model, settings)
    assert flavor.name == "composite"
    data = flavor.save(model)
    assert flavor_for_file("model.composite.zip", data[:64], settings) is flavor
    return flavor.load(data, LoadContext(settings)), data


@pytest.mark.parametrize("labels", [None, ("stay", "leave")])
def test_lightgbm_pipeline_round_trips_with_its_labels(labels: Any) -> None:
    model, frame = _lgbm_classifier(labels)
    loaded, _ = _roundtrip(model)
    flavor = get_flavor("composite")
    assert isinstance(loaded, CompositeModel) and loaded.kind == "lightgbm"
    np.testing.assert_array_equal(flavor.predict(loaded, frame), model.predict(frame))
    proba = flavor.predict_proba(loaded, frame)
    assert proba is not None
    np.testing.assert_allclose(proba, model.predict_proba(frame), rtol=1e-6)
    facts = flavor.describe(loaded)
    assert facts["classes"] == list(model.classes_)
    assert facts["feature_names"] == ["a", "b", "c"]
    assert flavor.describe(model) == facts


def test_xgboost_regressor_round_trips() -> None:
    model, frame = _xgb_regressor()
    loaded, _ = _roundtrip(model)
    flavor = get_flavor("composite")
    np.testing.assert_allclose(flavor.predict(loaded, frame), model.predict(frame), rtol=1e-5)
    assert flavor.predict_proba(loaded, frame) is None
    assert flavor.describe(loaded)["task"] == "regression"


def _rezip(data: bytes, change: Any) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        parts = {n: archive.read(n) for n in archive.namelist()}
    change(parts)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, body in parts.items():
            archive.writestr(name, body)
    return out.getvalue()


def test_a_part_that_does_not_match_its_digest_is_refused() -> None:
    model, _ = _lgbm_classifier()
    data = get_flavor("composite").save(model)

    def swap_booster(parts: dict[str, bytes]) -> None:
        parts["booster.txt"] = parts["booster.txt"].replace(b"Tree=0", b"Tree=0 ", 1)

    with pytest.raises(IntegrityError, match=r"booster\.txt does not match its sha256"):
        get_flavor("composite").load(_rezip(data, swap_booster), LoadContext(Settings()))


def test_a_tampered_part_with_a_matching_manifest_still_meets_the_part_checks() -> None:
    """Rewriting the manifest to match does not get a booster past its own flavor's checks."""
    model, _ = _lgbm_classifier()
    data = get_flavor("composite").save(model)

    def corrupt(parts: dict[str, bytes]) -> None:
        body = parts["booster.txt"].replace(b"left_child=", b"left_child=999 ", 1)
        parts["booster.txt"] = body
        manifest = json.loads(parts["manifest.json"])
        manifest["parts"]["booster.txt"] = hashlib.sha256(body).hexdigest()
        parts["manifest.json"] = json.dumps(manifest).encode()

    with pytest.raises(IntegrityError):
        get_flavor("composite").load(_rezip(data, corrupt), LoadContext(Settings()))


def test_extra_members_and_garbage_are_refused() -> None:
    model, _ = _lgbm_classifier()
    data = get_flavor("composite").save(model)

    def add(parts: dict[str, bytes]) -> None:
        parts["evil.pkl"] = b"\x80\x04."

    flavor = get_flavor("composite")
    with pytest.raises(IntegrityError, match="unexpected members"):
        flavor.load(_rezip(data, add), LoadContext(Settings()))
    for garbage in (b"", b"PK\x03\x04 not a zip" * 4):
        with pytest.raises(IntegrityError):
            flavor.load(garbage, LoadContext(Settings()))


def test_registry_registers_and_loads_a_booster_pipeline_without_pickle(registry: Any) -> None:
    model, frame = _lgbm_classifier()
    version = registry.register(model, "boosted", reference=frame, convert_onnx=False)
    assert version.flavor == "composite"
    loaded = registry.load(version.ref)
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
