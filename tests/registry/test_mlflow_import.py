"""Importing MLflow model directories written by the real ``mlflow`` package."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from shipyard.errors import (
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    UnsafeFormatError,
    UnsupportedModelError,
)
from shipyard.registry.client import Registry
from shipyard.registry.mlflow_import import import_mlflow
from shipyard.settings import Settings

# MLflow's schema inference hints that integer columns cannot hold missing values; the churn
# data has integer columns, and the hint is advice, not a problem with the saved model.
INTEGER_HINT = pytest.mark.filterwarnings(
    "ignore:Hint. Inferred schema contains integer column:UserWarning"
)
# Saving a DataFrame input example, MLflow compares the columns with a range(), which pandas 3
# deprecates (mlflow.models.utils._convert_dataframe_to_split_dict); MLflow's code, not ours.
FRAME_EXAMPLE = pytest.mark.filterwarnings(
    "ignore:Operation with range is deprecated:pandas.errors.Pandas4Warning"
)


# MLflow reloads a skops file after saving it, and skops wants these types of a random-forest
# pipeline trusted for that. shipyard trusts them on its own terms (trees are bounds-checked).
FOREST_TYPES = ["numpy.dtype", "sklearn.tree._tree.Tree"]


@pytest.fixture(scope="session")
def mlflow() -> Iterator[Any]:
    """The real mlflow package, kept off the network and out of ~/.mlflow."""
    with pytest.MonkeyPatch.context() as patch:
        # mlflow starts its telemetry client when imported; these keep it from sending anything.
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        patch.setenv("DO_NOT_TRACK", "true")
        patch.setenv("MLFLOW_TRACKING_URI", "sqlite:///:memory:")  # save_model never tracks
        mlflow = pytest.importorskip("mlflow")
        for flavor in ("sklearn", "xgboost", "lightgbm", "onnx"):
            pytest.importorskip(f"mlflow.{flavor}")
        with warnings.catch_warnings():
            # Every save_model imports mlflow.pyfunc, which at import infers schemas of its own
            # agent request types and warns about their Any-typed fields (colored message).
            warnings.filterwarnings(
                "ignore", message=".*Any type hint is inferred as AnyType", category=UserWarning
            )
            import mlflow.pyfunc
        yield mlflow


@pytest.fixture
def pickle_registry(settings: Settings) -> Iterator[Registry]:
    """A second client of the same stores, whose operator allowed pickle."""
    reg = Registry(settings.replace(allow_pickle=True))
    yield reg
    reg.close()


@pytest.fixture(scope="session")
def numeric(churn: Any) -> pd.DataFrame:
    """The churn features without text and without missing values (for ONNX and boosters)."""
    columns = [c for c in churn.numeric if not churn.X[c].isna().any()]
    return churn.X[columns]


def _mlmodel(folder: Path) -> dict[str, Any]:
    meta: dict[str, Any] = yaml.safe_load((folder / "MLmodel").read_text())
    return meta


def _edit_mlmodel(folder: Path, **changes: Any) -> None:
    meta = _mlmodel(folder)
    meta.update(changes)
    (folder / "MLmodel").write_text(yaml.safe_dump(meta))


def _unsafe_loads(registry: Registry) -> list[Any]:
    return [e for e in registry.store.audit_entries() if e.action == "artifact.unsafe_load"]


# -- each MLflow flavor ----------------------------------------------------------------------------


@INTEGER_HINT
@FRAME_EXAMPLE
def test_sklearn_skops_is_registered_as_it_is(
    registry: Registry, mlflow: Any, churn: Any, churn_model: Any, tmp_path: Path
) -> None:
    from mlflow.models import infer_signature

    folder = tmp_path / "model"
    mlflow.sklearn.save_model(
        churn_model,
        str(folder),
        serialization_format="skops",
        skops_trusted_types=FOREST_TYPES,
        signature=infer_signature(churn.X, churn_model.predict(churn.X)),
        input_example=churn.X.head(5),
        pip_requirements=[],
    )
    v = import_mlflow(registry, folder, "churn", tags={"team": "growth"}, description="from mlflow")

    assert v.flavor == "sklearn" and v.description == "from mlflow"
    assert registry.artifact_bytes(v.ref) == (folder / "model.skops").read_bytes()
    loaded = registry.load(v.ref)
    np.testing.assert_array_equal(loaded.predict(churn.X), churn_model.predict(churn.X))
    np.testing.assert_allclose(loaded.predict_proba(churn.X), churn_model.predict_proba(churn.X))
    features = {f["name"]: f for f in v.signature["inputs"]}
    assert list(features) == list(churn.X.columns)
    assert features["data_usage_gb"]["nullable"] is True  # MLflow: required false
    assert features["tenure_months"] == {
        "name": "tenure_months",
        "dtype": "int64",
        "kind": "numeric",
        "nullable": False,
        "min": None,
        "max": None,
        "levels": None,
    }
    assert features["contract"]["kind"] == "categorical"
    assert features["contract"]["dtype"] == "string"
    assert v.signature["output"]["classes"] == [0, 1]
    meta = _mlmodel(folder)
    assert v.tags["team"] == "growth"
    assert v.tags["mlflow.flavor"] == "sklearn"
    assert v.tags["mlflow.model_uuid"] == meta["model_uuid"]
    assert v.tags["mlflow.version"] == mlflow.__version__
    assert v.tags["mlflow.utc_time_created"] == meta["utc_time_created"]
    assert v.tags["mlflow.serialization_format"] == "skops"
    assert v.tags["mlflow.artifact"] == "model.skops"
    assert v.tags["mlflow.source"] == str(folder.resolve())
    assert _unsafe_loads(registry) == []


@INTEGER_HINT
@FRAME_EXAMPLE
@pytest.mark.parametrize("fmt", ["pickle", "cloudpickle"])
def test_sklearn_pickle_is_refused_then_converted_to_skops_with_the_opt_in(
    registry: Registry,
    pickle_registry: Registry,
    mlflow: Any,
    churn: Any,
    churn_model: Any,
    tmp_path: Path,
    fmt: str,
) -> None:
    folder = tmp_path / "model"
    mlflow.sklearn.save_model(
        churn_model,
        str(folder),
        serialization_format=fmt,
        input_example=churn.X.head(5),
        pip_requirements=[],
    )
    with pytest.raises(UnsafeFormatError, match=r"(?s)model\.pkl.*ALLOW_PICKLE"):
        import_mlflow(registry, folder, "churn")
    assert registry.list_versions() == [] and _unsafe_loads(registry) == []

    v = import_mlflow(pickle_registry, folder, "churn")
    assert v.flavor == "sklearn"
    assert registry.artifact_bytes(v.ref).startswith(b"PK\x03\x04")  # a skops zip, no pickle
    assert v.tags["mlflow.serialization_format"] == fmt
    assert v.tags["mlflow.converted_from"] == fmt
    # The converted version loads without the opt-in, since it holds no pickle.
    loaded = registry.load(v.ref)
    np.testing.assert_array_equal(loaded.predict(churn.X), churn_model.predict(churn.X))
    assert [f["name"] for f in v.signature["inputs"]] == list(churn.X.columns)
    (entry,) = _unsafe_loads(registry)
    assert entry.subject == "churn" and entry.actor == "tester"
    assert entry.after["flavor"] == "pickle"
    assert entry.after["serialization_format"] == fmt
    assert entry.after["source"] == str((folder / "model.pkl").resolve())


@INTEGER_HINT
@pytest.mark.parametrize("model_format", ["ubj", "json"])
def test_xgboost_native_model(
    registry: Registry, mlflow: Any, churn: Any, tmp_path: Path, model_format: str
) -> None:
    import xgboost as xgb
    from mlflow.models import infer_signature

    X = churn.X[churn.numeric]
    model = xgb.XGBClassifier(n_estimators=10, max_depth=3).fit(X, churn.y)
    folder = tmp_path / "model"
    mlflow.xgboost.save_model(
        model,
        str(folder),
        model_format=model_format,
        signature=infer_signature(X, model.predict(X)),
        pip_requirements=[],
    )
    v = import_mlflow(registry, folder, "churn-xgb")

    assert v.flavor == "xgboost"
    stored = registry.artifact_bytes(v.ref)
    original = (folder / f"model.{model_format}").read_bytes()
    assert (stored == original) is (model_format == "ubj")  # JSON is kept as UBJSON
    loaded = registry.load(v.ref)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), rtol=1e-6)
    assert [f["name"] for f in v.signature["inputs"]] == churn.numeric
    assert v.tags["mlflow.flavor"] == "xgboost"
    assert v.tags["mlflow.serialization_format"] == model_format


@INTEGER_HINT
def test_lightgbm_booster_keeps_its_native_text(
    registry: Registry, mlflow: Any, churn: Any, tmp_path: Path
) -> None:
    import lightgbm as lgb
    from mlflow.models import infer_signature

    X = churn.X[churn.numeric]
    params = {"objective": "binary", "num_leaves": 7, "verbose": -1}
    booster = lgb.train(params, lgb.Dataset(X, churn.y), num_boost_round=10)
    folder = tmp_path / "model"
    mlflow.lightgbm.save_model(
        booster, str(folder), signature=infer_signature(X), pip_requirements=[]
    )
    v = import_mlflow(registry, folder, "churn-lgb")

    assert v.flavor == "lightgbm"
    assert registry.artifact_bytes(v.ref) == (folder / "model.lgb").read_bytes()
    loaded = registry.load(v.ref)
    np.testing.assert_allclose(loaded.predict_proba(X)[:, 1], booster.predict(X))
    np.testing.assert_array_equal(loaded.predict(X), (booster.predict(X) > 0.5).astype(int))
    assert [f["name"] for f in v.signature["inputs"]] == churn.numeric


@pytest.mark.parametrize("fmt", ["skops", "cloudpickle"])
def test_lightgbm_scikit_learn_wrapper_is_converted_to_its_booster(
    registry: Registry,
    pickle_registry: Registry,
    mlflow: Any,
    churn: Any,
    tmp_path: Path,
    fmt: str,
) -> None:
    import lightgbm as lgb

    X = churn.X[churn.numeric]
    model = lgb.LGBMClassifier(n_estimators=10, num_leaves=7, verbose=-1).fit(X, churn.y)
    folder = tmp_path / "model"
    mlflow.lightgbm.save_model(model, str(folder), serialization_format=fmt, pip_requirements=[])
    if fmt == "cloudpickle":
        with pytest.raises(UnsafeFormatError, match="cloudpickle"):
            import_mlflow(registry, folder, "churn-lgb")
        v = import_mlflow(pickle_registry, folder, "churn-lgb")
        assert len(_unsafe_loads(registry)) == 1
    else:
        v = import_mlflow(registry, folder, "churn-lgb")
        assert _unsafe_loads(registry) == []

    assert v.flavor == "lightgbm"
    assert registry.artifact_bytes(v.ref) == model.booster_.model_to_string().encode()
    np.testing.assert_array_equal(registry.load(v.ref).predict(X), model.predict(X))


def test_onnx_model_with_its_external_tensors_folded_in(
    registry: Registry, mlflow: Any, numeric: pd.DataFrame, churn: Any, tmp_path: Path
) -> None:
    from mlflow.models import infer_signature
    from onnx import numpy_helper
    from skl2onnx import to_onnx
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = numeric.to_numpy(dtype=np.float32)
    # 64 hidden units: a weight matrix over 1 KiB, which MLflow writes to a file beside the model.
    mlp = MLPClassifier(hidden_layer_sizes=(64,), max_iter=2000, random_state=0)
    model = make_pipeline(StandardScaler(), mlp).fit(X, churn.y)
    proto = to_onnx(model, X[:1], options={"zipmap": False})
    # skl2onnx writes weights as float lists; torch.onnx and most exporters write raw bytes,
    # which are what onnx (called by MLflow) moves to external files.
    for tensor in proto.graph.initializer:
        tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor), tensor.name))
    folder = tmp_path / "model"
    # A tensor schema: one float32 matrix of shape [-1, n].
    mlflow.onnx.save_model(proto, str(folder), signature=infer_signature(X), pip_requirements=[])
    assert list(folder.glob("*.data")), "expected MLflow to write an external tensor file"

    v = import_mlflow(registry, folder, "churn-onnx")

    assert v.flavor == "onnx"
    assert v.tags["mlflow.external_data"] == "inlined"
    loaded = registry.load(v.ref)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), atol=1e-5)
    features = v.signature["inputs"]
    assert [f["name"] for f in features] == [f"f{i}" for i in range(X.shape[1])]
    assert {(f["dtype"], f["nullable"]) for f in features} == {("float32", True)}


# -- signature from the input example, lineage -----------------------------------------------------


@FRAME_EXAMPLE
def test_input_example_gives_the_signature_when_mlflow_has_none(
    registry: Registry, mlflow: Any, churn: Any, churn_model: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "model"
    example = churn.X.head(40)
    mlflow.sklearn.save_model(
        churn_model,
        str(folder),
        skops_trusted_types=FOREST_TYPES,
        signature=False,
        input_example=example,
        pip_requirements=[],
    )
    assert "signature" not in _mlmodel(folder)

    v = import_mlflow(registry, folder, "churn")

    features = {f["name"]: f for f in v.signature["inputs"]}
    assert list(features) == list(churn.X.columns)
    assert features["contract"]["levels"] == sorted(example["contract"].unique())
    assert features["tenure_months"]["min"] == example["tenure_months"].min()
    # Nullability comes from the example too: it has no missing values, so rows must have none.
    complete = churn.X.dropna()
    loaded = registry.load(v.ref)
    np.testing.assert_array_equal(loaded.predict(complete), churn_model.predict(complete))


def test_run_facts_of_a_logged_model_become_tags(
    registry: Registry, mlflow: Any, churn: Any, churn_model: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "model"
    mlflow.sklearn.save_model(
        churn_model,
        str(folder),
        skops_trusted_types=FOREST_TYPES,
        signature=False,
        pip_requirements=[],
    )
    # What log_model adds to the MLmodel of a model logged in a run.
    _edit_mlmodel(folder, run_id="0123abcd", artifact_path="model", model_id="m-42")

    v = import_mlflow(registry, folder / "MLmodel", "churn")  # the MLmodel file itself is fine

    assert v.tags["mlflow.run_id"] == "0123abcd"
    assert v.tags["mlflow.artifact_path"] == "model"
    assert v.tags["mlflow.model_id"] == "m-42"
    assert v.signature is None
    found = registry.search_versions(tags={"mlflow.run_id": "0123abcd"})
    assert [x.ref for x in found] == [v.ref]


# -- refusals ------------------------------------------------------------------------------------


@pytest.fixture
def skops_dir(mlflow: Any, churn: Any, churn_model: Any, tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    mlflow.sklearn.save_model(
        churn_model,
        str(folder),
        skops_trusted_types=FOREST_TYPES,
        signature=False,
        pip_requirements=[],
    )
    return folder


def test_a_path_that_is_no_mlflow_model_directory_is_explained(
    registry: Registry, tmp_path: Path
) -> None:
    with pytest.raises(NotFoundError, match=r"does not exist.*MLmodel file"):
        import_mlflow(registry, tmp_path / "nowhere", "churn")
    file = tmp_path / "model.pkl"
    file.write_bytes(b"x")
    with pytest.raises(InvalidInputError, match="is a file, not an MLflow model directory"):
        import_mlflow(registry, file, "churn")
    with pytest.raises(InvalidInputError, match=r"has no MLmodel file.*save_model"):
        import_mlflow(registry, tmp_path, "churn")


def test_a_parent_of_the_model_directory_points_at_it(registry: Registry, skops_dir: Path) -> None:
    with pytest.raises(InvalidInputError, match=f"has a model in {skops_dir}: pass that"):
        import_mlflow(registry, skops_dir.parent, "churn")


def test_malformed_mlmodel_is_refused(registry: Registry, tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text("flavors: [unclosed\n")
    with pytest.raises(InvalidInputError, match="is not valid YAML"):
        import_mlflow(registry, tmp_path, "churn")
    (tmp_path / "MLmodel").write_text("just text\n")
    with pytest.raises(InvalidInputError, match="needs a 'flavors' mapping"):
        import_mlflow(registry, tmp_path, "churn")


def test_flavors_shipyard_does_not_import_are_named(registry: Registry, tmp_path: Path) -> None:
    # What mlflow.pytorch.save_model writes, reduced to its flavors.
    meta = {
        "flavors": {
            "python_function": {"loader_module": "mlflow.pytorch", "data": "data"},
            "pytorch": {"model_data": "data", "pytorch_version": "2.4.0"},
        },
        "mlflow_version": "3.17.2",
    }
    (tmp_path / "MLmodel").write_text(yaml.safe_dump(meta))
    with pytest.raises(UnsupportedModelError, match=r"python_function, pytorch.*sklearn, xgboost"):
        import_mlflow(registry, tmp_path, "churn")


def test_a_missing_or_escaping_model_file_is_refused(registry: Registry, skops_dir: Path) -> None:
    (skops_dir / "model.skops").rename(skops_dir / "elsewhere.skops")
    with pytest.raises(InvalidInputError, match=r"names 'model.skops'.*no such file"):
        import_mlflow(registry, skops_dir, "churn")

    meta = _mlmodel(skops_dir)
    meta["flavors"]["sklearn"]["pickled_model"] = "../elsewhere.skops"
    (skops_dir / "MLmodel").write_text(yaml.safe_dump(meta))
    with pytest.raises(InvalidInputError, match="outside the model directory"):
        import_mlflow(registry, skops_dir, "churn")
    assert registry.list_versions() == []


def test_a_damaged_model_file_is_refused(registry: Registry, skops_dir: Path) -> None:
    (skops_dir / "model.skops").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(IntegrityError, match="not a readable skops file"):
        import_mlflow(registry, skops_dir, "churn")


def test_mlflow_tag_keys_are_reserved(registry: Registry, skops_dir: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"'mlflow.run_id'.*choose other keys"):
        import_mlflow(registry, skops_dir, "churn", tags={"mlflow.run_id": "mine"})


@FRAME_EXAMPLE
def test_a_missing_input_example_or_a_malformed_signature_is_refused(
    registry: Registry, mlflow: Any, churn: Any, churn_model: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "model"
    mlflow.sklearn.save_model(
        churn_model,
        str(folder),
        skops_trusted_types=FOREST_TYPES,
        signature=False,
        input_example=churn.X.head(5),
        pip_requirements=[],
    )
    (folder / "input_example.json").unlink()
    with pytest.raises(InvalidInputError, match=r"artifact_path names 'input_example.json'"):
        import_mlflow(registry, folder, "churn")

    _edit_mlmodel(folder, signature={"inputs": "[{not json", "outputs": None})
    with pytest.raises(InvalidInputError, match=r"signature.inputs is not valid JSON"):
        import_mlflow(registry, folder, "churn")
    assert registry.list_versions() == []
