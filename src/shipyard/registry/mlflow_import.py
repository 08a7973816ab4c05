"""Importing an MLflow model directory as a shipyard version, without MLflow installed.

An MLflow model directory holds an ``MLmodel`` file (YAML) naming the model's flavors and their
files, and optionally a signature and an input example. :func:`import_mlflow` reads it, takes
the model file of the flavor shipyard knows, and registers it:

- ``sklearn``: a skops file as it is; a pickle or cloudpickle file only with ``allow_pickle``,
  unpickled once (audited as ``artifact.unsafe_load``) and re-saved with skops;
- ``xgboost``: the native file, kept in (or converted to) UBJSON;
- ``lightgbm``: a Booster's native text file; a scikit-learn wrapper saved with skops or (with
  ``allow_pickle``) pickled is converted to its booster's text format;
- ``onnx``: the ``.onnx`` file, with the external tensor files MLflow writes folded into it.

So a registered version is always in a safe format. Every artifact is loaded by its shipyard
flavor before it is registered: shipyard's rules (trusted skops types, tree checks) apply exactly
as for any other version, and trust is never taken from the directory (MLflow's
``skops_trusted_types`` is ignored). MLflow's signature becomes the version's signature; without
one, the input example gives it. The MLflow facts are kept as ``mlflow.*`` tags.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard import flavors
from shipyard.errors import (
    IntegrityError,
    InvalidInputError,
    NotFoundError,
    UnsafeFormatError,
    UnsupportedModelError,
    require,
)
from shipyard.flavors.base import LoadContext
from shipyard.registry.refs import check_name

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.flavors.base import Flavor
    from shipyard.registry.client import Registry
    from shipyard.registry.entities import ModelVersion
    from shipyard.registry.signature import FeatureSpec, Kind, OutputSpec

__all__ = ["import_mlflow"]

SUPPORTED_FLAVORS = ("sklearn", "xgboost", "lightgbm", "onnx")
"""MLflow flavors shipyard imports, in order of preference; ``python_function`` is never used."""

_PICKLES = frozenset({"pickle", "cloudpickle"})
# What a LightGBM scikit-learn wrapper saved with skops is made of. Trusting these rebuilds the
# wrapper through LightGBM's own model-text parser; the version keeps only the booster's text.
_LIGHTGBM_SKOPS_TYPES = frozenset(
    {
        "collections.OrderedDict",
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
        "lightgbm.sklearn.LGBMRanker",
    }
)
# MLflow column types -> (kind, dtype) of a shipyard feature.
_COLUMN_TYPES: dict[str, tuple[Kind, str]] = {
    "double": ("numeric", "float64"),
    "float": ("numeric", "float32"),
    "long": ("numeric", "int64"),
    "integer": ("numeric", "int32"),
    "boolean": ("boolean", "bool"),
    "string": ("categorical", "string"),
    "datetime": ("datetime", "datetime64[ns]"),
    "binary": ("categorical", "object"),
}
_NO_MISSING = frozenset({"long", "integer"})
_TABLE_EXAMPLES = frozenset({"dataframe", "ndarray", "json_object"})
_SPLIT_KEYS = frozenset({"columns", "data", "index"})
_LAYOUT = (
    "An MLflow model directory holds an MLmodel file (YAML naming the flavors and their files) "
    "next to the model's own files, for example MLmodel, model.skops, conda.yaml and "
    "requirements.txt. mlflow.<flavor>.save_model(model, path) writes one; for a logged model, "
    "`mlflow artifacts download --artifact-uri runs:/<run_id>/<artifact_path>` fetches it."
)


@dataclass
class _Source:
    """The directory being imported and the registry it goes to."""

    registry: Registry
    name: str
    folder: Path
    flavor: str
    conf: Mapping[str, Any]
    tags: dict[str, str] = field(default_factory=dict)

    def load(self, flavor: Flavor, data: bytes) -> Any:
        return flavor.load(data, LoadContext(self.registry.settings))


@dataclass(frozen=True)
class _Artifact:
    data: bytes
    flavor: str
    native: Any


def import_mlflow(
    registry: Registry,
    path: str | Path,
    name: str,
    *,
    tags: Mapping[str, str] | None = None,
    description: str = "",
) -> ModelVersion:
    """Register the MLflow model directory ``path`` as the next version of ``name``.

    The version's flavor is shipyard's own (``sklearn``, ``xgboost``, ``lightgbm`` or ``onnx``);
    pickled models are refused unless the operator set ``allow_pickle``, and are then converted.
    The MLflow facts (run id, model uuid, MLflow version, flavor, creation time, artifact path)
    become ``mlflow.*`` tags next to ``tags``.
    """
    check_name(name)
    user_tags = dict(tags or {})
    if reserved := sorted(k for k in user_tags if str(k).startswith("mlflow.")):
        raise InvalidInputError(
            f"tag key(s) {', '.join(map(repr, reserved))} start with 'mlflow.', which is kept for "
            "the facts read from the MLmodel file; choose other keys"
        )
    folder = _model_folder(Path(path))
    meta = _read_mlmodel(folder)
    found = meta["flavors"]
    chosen = next((f for f in SUPPORTED_FLAVORS if f in found), None)
    if chosen is None:
        listed = ", ".join(map(str, found)) or "(none)"
        raise UnsupportedModelError(
            f"the MLflow model in {folder} has the flavor(s) {listed}; "
            f"shipyard imports {', '.join(SUPPORTED_FLAVORS)}. Export the model to ONNX, or save "
            "it with one of those MLflow flavors, and import that"
        )
    conf = found[chosen]
    if not isinstance(conf, Mapping):
        raise InvalidInputError(f"{folder / 'MLmodel'}: flavors.{chosen} must be a mapping")
    source = _Source(registry, name, folder, chosen, conf)
    artifact = _READERS[chosen](source)
    facts = flavors.get_flavor(artifact.flavor).describe(artifact.native)
    signature = _signature(meta, folder, facts)
    return registry._register_bytes(
        artifact.data,
        artifact.flavor,
        name,
        native=artifact.native,
        signature=signature,
        tags={**user_tags, **_lineage_tags(meta, source)},
        description=description,
    )


# -- the directory -------------------------------------------------------------------------------


def _model_folder(path: Path) -> Path:
    if path.name == "MLmodel" and path.is_file():
        return path.parent
    if not path.exists():
        raise NotFoundError(f"{path} does not exist; pass an MLflow model directory. {_LAYOUT}")
    if not path.is_dir():
        raise InvalidInputError(f"{path} is a file, not an MLflow model directory. {_LAYOUT}")
    if not (path / "MLmodel").is_file():
        nested = sorted(str(p.parent) for p in path.glob("*/MLmodel"))
        hint = f" It has a model in {', '.join(nested)}: pass that directory." if nested else ""
        raise InvalidInputError(f"{path} has no MLmodel file.{hint} {_LAYOUT}")
    return path


def _read_mlmodel(folder: Path) -> dict[str, Any]:
    import yaml

    file = folder / "MLmodel"
    try:
        meta = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read {file}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{file} is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("flavors"), dict):
        raise InvalidInputError(
            f"{file} is not an MLmodel file: it needs a 'flavors' mapping. {_LAYOUT}"
        )
    return meta


def _artifact_file(source: _Source, key: str) -> Path:
    relative = source.conf.get(key)
    where = f"{source.folder / 'MLmodel'}: flavors.{source.flavor}.{key}"
    if not isinstance(relative, str) or not relative:
        raise InvalidInputError(f"{where} must name the model file")
    source.tags["mlflow.artifact"] = relative
    return _file_in(source.folder, relative, where)


def _file_in(folder: Path, relative: str, where: str) -> Path:
    """The file ``relative`` names inside the model directory, which it must not leave."""
    file = folder / relative
    if not file.resolve().is_relative_to(folder.resolve()):
        raise InvalidInputError(
            f"{where} is {relative!r}, which is outside the model directory; refusing to read it"
        )
    if not file.is_file():
        raise InvalidInputError(
            f"{where} names {relative!r}, but {folder} has no such file; the directory is "
            "incomplete: copy or download the whole MLflow model directory again"
        )
    return file


# -- one reader per MLflow flavor ----------------------------------------------------------------


def _sklearn(source: _Source) -> _Artifact:
    file = _artifact_file(source, "pickled_model")
    # MLflow wrote no serialization_format before skops existed: the file is then a pickle.
    fmt = str(source.conf.get("serialization_format") or "pickle")
    source.tags["mlflow.serialization_format"] = fmt
    flavor = flavors.get_flavor("sklearn")
    data = file.read_bytes()
    if fmt == "skops":
        try:
            return _Artifact(data, flavor.name, source.load(flavor, data))
        except UnsafeFormatError as exc:
            if not source.conf.get("skops_trusted_types"):
                raise
            raise UnsafeFormatError(
                f"{exc}. (MLmodel lists skops_trusted_types, but shipyard never takes trust from "
                "the artifact itself.)"
            ) from exc
    if fmt not in _PICKLES:
        raise UnsupportedModelError(
            f"{file}: unknown sklearn serialization_format {fmt!r}; shipyard imports skops, "
            "pickle and cloudpickle"
        )
    return _convert(source, flavor, _unpickle(source, file, data, fmt), "a scikit-learn estimator")


def _xgboost(source: _Source) -> _Artifact:
    file = _artifact_file(source, "data")
    fmt = str(source.conf.get("model_format") or file.suffix.lstrip("."))
    source.tags["mlflow.serialization_format"] = fmt
    flavor = flavors.get_flavor("xgboost")
    data = file.read_bytes()
    try:
        native = source.load(flavor, data)
    except IntegrityError as exc:
        if fmt != "xgb":
            raise
        version = source.conf.get("xgb_version", "that wrote it")
        raise IntegrityError(
            f"{file}: {exc}. A model in XGBoost's old binary format must be loaded with the "
            f"XGBoost version that wrote it ({version}) and saved again as .ubj"
        ) from exc
    if fmt != "ubj":  # keep the flavor's own format, so exports and digests are uniform
        data = flavor.save(native)
    return _Artifact(data, flavor.name, native)


def _lightgbm(source: _Source) -> _Artifact:
    file = _artifact_file(source, "data")
    flavor = flavors.get_flavor("lightgbm")
    data = file.read_bytes()
    model_class = str(source.conf.get("model_class") or "lightgbm.basic.Booster")
    if model_class == "lightgbm.basic.Booster":  # saved with Booster.save_model: native text
        source.tags["mlflow.serialization_format"] = "lightgbm text"
        return _Artifact(data, flavor.name, source.load(flavor, data))
    # A scikit-learn wrapper; MLflow pickled it with cloudpickle before it used skops.
    fmt = str(source.conf.get("serialization_format") or "cloudpickle")
    source.tags["mlflow.serialization_format"] = fmt
    if fmt == "skops":
        model = _skops_lightgbm(source, file, data)
    elif fmt in _PICKLES:
        model = _unpickle(source, file, data, fmt)
    else:
        raise UnsupportedModelError(
            f"{file}: unknown lightgbm serialization_format {fmt!r}; shipyard imports skops, "
            "pickle and cloudpickle"
        )
    return _convert(source, flavor, model, f"a LightGBM model ({model_class})")


def _onnx(source: _Source) -> _Artifact:
    onnx: Any = require("onnx", "onnx")
    file = _artifact_file(source, "data")
    data = file.read_bytes()
    try:
        proto = onnx.load_from_string(data)
        size = proto.ByteSize()
        # MLflow saves tensors over 1 KiB to files beside the model; onnx refuses locations
        # outside the directory. An artifact must be one file, so they are folded in.
        onnx.external_data_helper.load_external_data_for_model(proto, str(file.parent))
        if proto.ByteSize() != size:
            data = proto.SerializeToString()
            source.tags["mlflow.external_data"] = "inlined"
    except Exception as exc:  # protobuf, onnx's checker and file errors alike
        raise IntegrityError(f"{file} is not a readable ONNX model: {exc}") from exc
    flavor = flavors.get_flavor("onnx")
    return _Artifact(data, flavor.name, source.load(flavor, data))


_READERS: dict[str, Callable[[_Source], _Artifact]] = {
    "sklearn": _sklearn,
    "xgboost": _xgboost,
    "lightgbm": _lightgbm,
    "onnx": _onnx,
}


def _unpickle(source: _Source, file: Path, data: bytes, fmt: str) -> Any:
    registry = source.registry
    if not registry.settings.allow_pickle:
        raise UnsafeFormatError(
            f"{file} is a {fmt} file, and unpickling can run arbitrary code, so shipyard refuses "
            "it by default. Save the model again with MLflow's serialization_format='skops' (or "
            "as a native booster) and import that; or, if you trust where this model comes "
            "from, the operator can allow pickle with SHIPYARD_ALLOW_PICKLE=1 (allow_pickle = "
            "true in shipyard.toml): it is then unpickled once, audited, and registered in a "
            "safe format"
        )

    def audit(flavor_name: str) -> None:
        after = {
            "flavor": flavor_name,
            "digest": hashlib.sha256(data).hexdigest(),
            "source": str(file.resolve()),
            "serialization_format": fmt,
            "purpose": "MLflow import, converted to a safe format",
        }
        registry.store.record_event(
            "artifact.unsafe_load", source.name, None, after, registry.actor
        )

    pickle_flavor = flavors.get_flavor("pickle")
    source.tags["mlflow.converted_from"] = fmt
    return pickle_flavor.load(data, LoadContext(registry.settings, on_unsafe_load=audit))


def _skops_lightgbm(source: _Source, file: Path, data: bytes) -> Any:
    import skops.io as sio

    try:
        found = set(sio.get_untrusted_types(data=data))
    except Exception as exc:  # a damaged zip or schema can fail in many ways
        raise IntegrityError(f"{file} is not a readable skops file: {exc}") from exc
    refused = sorted(found - _LIGHTGBM_SKOPS_TYPES - set(source.registry.settings.trusted_types))
    if refused:
        raise UnsafeFormatError(
            f"{file} contains type(s) shipyard does not trust: {', '.join(refused)}. Loading a "
            "type can run its code, so review it first; if you trust it, add its name to the "
            "trusted_types setting (SHIPYARD_TRUSTED_TYPES)"
        )
    try:
        return sio.loads(data, trusted=sorted(found))
    except Exception as exc:
        raise IntegrityError(f"{file}: the skops file could not be rebuilt: {exc}") from exc


def _convert(source: _Source, flavor: Flavor, model: Any, expected: str) -> _Artifact:
    if not flavor.can_save(model):
        raise UnsupportedModelError(
            f"the MLflow {source.flavor} model file holds a {type(model).__module__}."
            f"{type(model).__qualname__}, not {expected}"
        )
    data = flavor.save(model)
    return _Artifact(data, flavor.name, source.load(flavor, data))  # as the registry will load it


# -- signature -----------------------------------------------------------------------------------


def _signature(
    meta: Mapping[str, Any], folder: Path, facts: Mapping[str, Any]
) -> dict[str, Any] | None:
    from shipyard.registry.signature import Signature, infer_signature

    inputs = _mlflow_inputs(meta, folder)
    if inputs is None:
        example = _input_example(meta, folder)
        if example is None:
            return None
        inputs = infer_signature(example).inputs
    return Signature(inputs=inputs, output=_output(facts)).to_dict()


def _mlflow_inputs(meta: Mapping[str, Any], folder: Path) -> tuple[FeatureSpec, ...] | None:
    """The features of MLflow's input schema, or None when it has none we can use."""
    signature = meta.get("signature")
    raw = signature.get("inputs") if isinstance(signature, Mapping) else None
    if not raw:
        return None
    where = f"{folder / 'MLmodel'}: signature.inputs"
    try:
        specs = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as exc:
        raise InvalidInputError(f"{where} is not valid JSON: {exc}") from exc
    if not isinstance(specs, list) or not all(isinstance(s, Mapping) for s in specs):
        raise InvalidInputError(f"{where} must be a list of column or tensor specs")
    try:
        if specs and all(s.get("type") == "tensor" for s in specs):
            return _tensor_features(specs)
        return tuple(_column_feature(i, s) for i, s in enumerate(specs)) or None
    except InvalidInputError as exc:
        raise InvalidInputError(f"{where}: {exc}") from exc


def _column_feature(index: int, spec: Mapping[str, Any]) -> FeatureSpec:
    from shipyard.registry.signature import FeatureSpec

    # Composite types (array, object, map, any) pass through untouched, as object.
    kind, dtype = _COLUMN_TYPES.get(str(spec.get("type")), ("categorical", "object"))
    name = spec.get("name")
    # MLflow's ``required`` says whether a column may be left out, and its type check lets
    # missing values through for every type but long and integer (NaN makes those float): so
    # those two are nullable when not required, and the others always, as in MLflow.
    nullable = spec.get("required", True) is False or spec.get("type") not in _NO_MISSING
    return FeatureSpec(str(name) if name else f"f{index}", dtype, kind, nullable)


def _tensor_features(specs: list[Mapping[str, Any]]) -> tuple[FeatureSpec, ...] | None:
    """Features for a tensor schema that is a table: one [-1, n] matrix, or [-1] columns."""
    from shipyard.registry.signature import FeatureSpec

    def feature(name: str, tensor: Mapping[str, Any]) -> FeatureSpec:
        # Missing values fit a float or object tensor (NaN, None), not an integer or bool one.
        dtype = str(tensor.get("dtype"))
        if dtype in ("bool", "bool_"):
            return FeatureSpec(name, "bool", "boolean", False)
        if dtype in ("int8", "int16", "int32", "int64"):
            return FeatureSpec(name, dtype, "numeric", False)
        if dtype in ("float16", "float32", "float64"):
            return FeatureSpec(name, dtype, "numeric", True)
        text = dtype.startswith(("str", "<U"))
        return FeatureSpec(name, "string" if text else "object", "categorical", True)

    tensors = [s.get("tensor-spec") or {} for s in specs]
    shapes = [list(t.get("shape") or []) for t in tensors]
    if len(specs) == 1 and len(shapes[0]) == 2:
        width = shapes[0][1]
        if isinstance(width, int) and width > 0:
            return tuple(feature(f"f{i}", tensors[0]) for i in range(width))
    if all(s.get("name") for s in specs) and all(shape in ([-1], [-1, 1]) for shape in shapes):
        return tuple(feature(str(s["name"]), t) for s, t in zip(specs, tensors, strict=True))
    return None  # images and other tensors are no table: the version goes without signature


def _input_example(meta: Mapping[str, Any], folder: Path) -> pd.DataFrame | None:
    """MLflow's saved input example as a frame, or None when there is none or it is no table."""
    import pandas as pd

    from shipyard.registry.signature import as_dataframe

    info = meta.get("saved_input_example_info")
    if isinstance(info, Mapping):
        if info.get("type") not in _TABLE_EXAMPLES:  # sparse matrices
            return None
        where = f"{folder / 'MLmodel'}: saved_input_example_info.artifact_path"
        file = _file_in(folder, str(info.get("artifact_path") or "input_example.json"), where)
    else:
        file = folder / "input_example.json"
        if not file.is_file():
            return None
    try:
        content = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"the input example {file} is not readable JSON: {exc}") from exc
    if isinstance(info, Mapping) and info.get("params") and isinstance(content, Mapping):
        content = content.get("inputs")  # saved with inference params: {"inputs":, "params":}
    try:
        if isinstance(content, Mapping) and "data" in content and set(content) <= _SPLIT_KEYS:
            # pandas' "split" orient, MLflow's form for a DataFrame (its index is not wanted)
            columns = content.get("columns")
            frame = (
                as_dataframe(content["data"])  # no "columns": MLflow left out 0, 1, ...
                if columns is None
                else pd.DataFrame(content["data"], columns=columns)
            )
        else:
            frame = as_dataframe(content)
    except (InvalidInputError, TypeError, ValueError):
        return None
    if frame.shape[1] == 0 or not all(isinstance(c, str) for c in frame.columns):
        return None
    return frame


def _output(facts: Mapping[str, Any]) -> OutputSpec | None:
    """A classifier's classes, in the model's order, as ``register`` records them."""
    import numpy as np
    import pandas as pd

    from shipyard.registry.signature import OutputSpec, kind_and_dtype

    classes = facts.get("classes")
    if facts.get("task") != "classification" or not isinstance(classes, list) or not classes:
        return None
    if not all(isinstance(c, str | int | float | bool) for c in classes):
        return None  # multi-output models: one list of classes per output
    _, dtype = kind_and_dtype(pd.Series(np.asarray(classes)))
    return OutputSpec("classification", dtype=dtype, classes=tuple(classes), has_proba=True)


# -- lineage -------------------------------------------------------------------------------------


def _lineage_tags(meta: Mapping[str, Any], source: _Source) -> dict[str, str]:
    conf = source.conf
    facts = {
        "mlflow.flavor": source.flavor,
        "mlflow.run_id": meta.get("run_id"),
        "mlflow.model_uuid": meta.get("model_uuid"),
        "mlflow.model_id": meta.get("model_id"),
        "mlflow.version": meta.get("mlflow_version"),
        "mlflow.utc_time_created": meta.get("utc_time_created"),
        "mlflow.artifact_path": meta.get("artifact_path"),
        "mlflow.source": str(source.folder.resolve()),
        "mlflow.library_version": next(
            (
                conf[k]
                for k in ("sklearn_version", "xgb_version", "lgb_version", "onnx_version")
                if conf.get(k)
            ),
            None,
        ),
        **source.tags,
    }
    return {key: str(value) for key, value in facts.items() if value not in (None, "")}
