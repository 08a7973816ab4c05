"""ONNX conversion at registration: the fast path's artifact, checked before it is trusted.

:func:`convert_and_attach` runs right after a version is recorded. It converts the native model
(scikit-learn through skl2onnx; XGBoost and LightGBM through onnxmltools), runs the converted
graph and the native model on the version's reference sample, and attaches the result:

* ``onnx`` (digest of the ONNX bytes in the artifact store) with ``max_abs_diff``,
  ``rows_checked``, ``opset``, ``layout`` and ``input_dtype``, when labels are identical and
  probabilities (or regression outputs) agree within :data:`TOLERANCE`;
* ``onnx_rejected`` with a ``reason`` otherwise; the version is then served natively.

It never raises: a conversion problem must not fail a registration.

Precision. scikit-learn models are converted with float64 inputs and float64 arithmetic wherever
the converters allow it: ``StandardScaler`` becomes Sub/Div in double; the imputer is replaced by
IsNaN/Where in double (:mod:`shipyard.runtime.onnx_double`); tree classifiers (forests, extra trees, single
trees) are replaced by ``ai.onnx.ml`` opset 5 ``TreeEnsemble`` in double
(:mod:`shipyard.runtime.onnx_double`), which reproduces scikit-learn's float32 comparisons with double
thresholds and sums the per-tree probabilities in tree order as scikit-learn does: a binary
forest's probabilities come out bit-identical, where skl2onnx's float trees drift by ~3e-8.
XGBoost works in float32 itself and its converter only takes float inputs; LightGBM's converter
also takes float only, which the equivalence check covers (~1e-7 measured).

Layouts. A model whose features are all numeric gets one 2-D input ``X`` (``[rows, features]``
in signature order): onnxruntime pays per input, so one input is fastest. A scikit-learn model
that selects columns by name (a ``ColumnTransformer``), or has text features, gets one
``[rows, 1]`` input per feature, named after it: float64 for numbers and booleans, string for
categoricals.
"""

from __future__ import annotations

import logging
import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.runtime import onnx_double

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.registry.client import Registry
    from shipyard.registry.entities import ModelVersion
    from shipyard.registry.signature import Signature

__all__ = [
    "CONVERTIBLE_FLAVORS",
    "TOLERANCE",
    "Conversion",
    "ConversionError",
    "check_equivalence",
    "convert",
    "convert_and_attach",
    "onnx_feeds",
]

log = logging.getLogger("shipyard.runtime")

TOLERANCE = 1e-5
"""Largest allowed absolute difference between native and ONNX probabilities (or regression
outputs, relative to ``max(1, |y|)``); labels must be identical."""
CONVERTIBLE_FLAVORS = frozenset({"sklearn", "xgboost", "lightgbm"})
SKLEARN_OPSET = {"": 18, "ai.onnx.ml": 3}
"""What skl2onnx is asked for (it refuses ``ai.onnx.ml`` 5); a graph using the opset-5
``TreeEnsemble`` op is then stamped ``ai.onnx.ml`` 5 (:func:`_stamp_tree_opset`)."""
BOOSTER_OPSET = 15  # the highest onnxmltools' XGBoost and LightGBM converters accept
MATRIX_INPUT = "X"


class ConversionError(Exception):
    """Why a model was not converted, or why its conversion was not trusted."""


@dataclass(frozen=True)
class Conversion:
    """A converted, checked model: the ONNX bytes and the facts recorded with them."""

    data: bytes
    facts: dict[str, Any] = field(default_factory=dict)


# -- the registration hook -------------------------------------------------------------------


def convert_and_attach(registry: Registry, version: ModelVersion, native: Any) -> bool:
    """Convert ``native`` (the model just registered as ``version``), check it on the
    reference sample and attach ``onnx`` or ``onnx_rejected``. Returns True when something was
    attached (the caller re-reads the version). Never raises."""
    if version.flavor not in CONVERTIBLE_FLAVORS:
        return False  # already ONNX, or a pickle: nothing this step can do
    try:
        kind, digest, data = _attempt(registry, version, native)
    except Exception as exc:  # the attempt itself failed (store trouble): say so in the log
        log.warning("%s: ONNX conversion step failed: %s", version.ref, exc, exc_info=True)
        return False
    try:
        registry.store.attach(version.model, version.version, kind, digest, data, registry.actor)
    except Exception as exc:
        log.warning("%s: cannot record the ONNX conversion: %s", version.ref, exc)
        return False
    return True


def _attempt(
    registry: Registry, version: ModelVersion, native: Any
) -> tuple[str, str | None, dict[str, Any]]:
    from shipyard import flavors
    from shipyard.registry.signature import Signature

    try:
        if not version.signature:
            raise ConversionError("the version has no signature to name the ONNX inputs")
        if version.sample_digest is None:
            raise ConversionError(
                "registered without reference data: there is no sample to check the "
                "converted model against"
            )
        signature = Signature.from_dict(version.signature)
        sample = registry.reference_sample(version.ref)
        flavor = flavors.get_flavor(version.flavor)
        conversion = convert(native, version.flavor, signature)
        conversion.facts.update(
            check_equivalence(conversion.data, native, flavor, signature, sample)
        )
    except ConversionError as exc:
        return "onnx_rejected", None, {"reason": str(exc)}
    except Exception as exc:  # converters raise anything: RuntimeError, NotImplementedError...
        reason = f"conversion failed: {type(exc).__name__}: {exc}"
        return "onnx_rejected", None, {"reason": reason[:2000]}
    digest = registry.artifacts.put(conversion.data)
    return "onnx", digest, conversion.facts


# -- conversion ------------------------------------------------------------------------------


def convert(native: Any, flavor_name: str, signature: Signature) -> Conversion:
    """The ONNX bytes for ``native`` with inputs laid out for ``signature``; raises
    :class:`ConversionError` (or the converter's own exception) when it cannot."""
    unsupported = [f.name for f in signature.inputs if f.kind == "datetime"]
    if unsupported:
        raise ConversionError(
            f"date-time features ({', '.join(unsupported)}) have no ONNX conversion"
        )
    with warnings.catch_warnings(record=True) as caught:
        # Converter warnings (deprecations inside skl2onnx/onnxmltools) are facts about this
        # conversion, recorded with it; they must not escape into the caller's warning filters.
        warnings.simplefilter("always")
        if flavor_name == "sklearn":
            proto, layout, dtype = _convert_sklearn(native, signature)
            opset = {(o.domain or ""): int(o.version) for o in proto.opset_import}
        elif flavor_name in ("xgboost", "lightgbm"):
            proto, layout, dtype = _convert_booster(native, flavor_name, signature)
            opset = {"": BOOSTER_OPSET}
        else:
            raise ConversionError(f"flavor {flavor_name!r} has no ONNX converter")
    facts: dict[str, Any] = {
        "opset": opset,
        "layout": layout,
        "input_dtype": dtype,
        "producer": f"{proto.producer_name} {proto.producer_version}".strip(),
    }
    notes = sorted({f"{w.category.__name__}: {w.message}"[:300] for w in caught})
    if notes:
        facts["converter_warnings"] = notes[:5]
    data: bytes = proto.SerializeToString()
    return Conversion(data, facts)


def _convert_sklearn(model: Any, signature: Signature) -> tuple[Any, str, str]:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

    onnx_double.install()
    features = signature.inputs
    options = _classifier_options(model)
    by_name = _selects_by_name(model)

    def run(initial: list[tuple[str, Any]]) -> Any:
        proto = convert_sklearn(
            model, initial_types=initial, options=options, target_opset=SKLEARN_OPSET
        )
        if _stamp_tree_opset(proto):
            return proto
        # TreeEnsemble next to the deprecated tree ops: the float trees
        with onnx_double.float_trees():
            return convert_sklearn(
                model, initial_types=initial, options=options, target_opset=SKLEARN_OPSET
            )

    if not by_name and all(f.kind in ("numeric", "boolean") for f in features):
        return run([(MATRIX_INPUT, DoubleTensorType([None, len(features)]))]), "matrix", "float64"
    types: list[tuple[str, Any]] = []
    for f in features:
        if f.kind == "categorical":
            if f.dtype != "string":
                raise ConversionError(
                    f"feature {f.name!r} holds arbitrary objects; only text categoricals convert"
                )
            types.append((f.name, StringTensorType([None, 1])))
        else:
            types.append((f.name, DoubleTensorType([None, 1])))
    return run(types), "columns", "float64"


_LEGACY_TREES = frozenset({"TreeEnsembleClassifier", "TreeEnsembleRegressor"})


def _stamp_tree_opset(proto: Any) -> bool:
    """Declare ``ai.onnx.ml`` 5 when the graph uses ``TreeEnsemble``; False when it also uses
    the tree ops that opset 5 deprecates (then the graph must be made without TreeEnsemble)."""
    ops = {n.op_type for n in proto.graph.node if n.domain == "ai.onnx.ml"}
    if "TreeEnsemble" not in ops:
        return True
    if ops & _LEGACY_TREES:
        return False
    for entry in proto.opset_import:
        if entry.domain == "ai.onnx.ml":
            entry.version = 5
    return True


def _classifier_options(model: Any) -> dict[int, dict[str, Any]]:
    """No ZipMap (a plain [rows, classes] tensor is far cheaper) on the final classifier."""
    final = model
    steps = getattr(model, "steps", None)
    if steps:
        final = steps[-1][1]
    if hasattr(final, "classes_"):
        return {id(final): {"zipmap": False}}
    return {}


def _selects_by_name(model: Any) -> bool:
    """True when the model (or a step of it) picks DataFrame columns by name."""
    from sklearn.compose import ColumnTransformer

    if isinstance(model, ColumnTransformer):
        return True
    return any(_selects_by_name(step) for _, step in getattr(model, "steps", []) or [])


def _convert_booster(model: Any, flavor_name: str, signature: Signature) -> tuple[Any, str, str]:
    import importlib

    # onnxmltools ships no type information: reach it as Any.
    tools: Any = importlib.import_module("onnxmltools")
    types: Any = importlib.import_module("onnxmltools.convert.common.data_types")
    FloatTensorType = types.FloatTensorType
    not_numeric = [f.name for f in signature.inputs if f.kind not in ("numeric", "boolean")]
    if not_numeric:
        raise ConversionError(
            f"{flavor_name} models convert with numeric features only; "
            f"not numeric: {', '.join(not_numeric)}"
        )
    initial = [(MATRIX_INPUT, FloatTensorType([None, len(signature.inputs)]))]
    if flavor_name == "xgboost":
        # The native flavor serves the Booster (class indices), so convert the same object.
        proto = tools.convert_xgboost(model, initial_types=initial, target_opset=BOOSTER_OPSET)
    else:
        booster = getattr(model, "booster_", model)  # served as the Booster: class indices
        proto = tools.convert_lightgbm(
            booster, initial_types=initial, target_opset=BOOSTER_OPSET, zipmap=False
        )
    return proto, "matrix", "float32"


# -- running and checking ----------------------------------------------------------------------


def session_options() -> Any:
    """onnxruntime options for a small server: one thread, sequential, quiet."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: the tree ops warn about declared label shapes
    return options


def new_session(data: bytes) -> Any:
    import onnxruntime as ort

    return ort.InferenceSession(data, session_options(), providers=["CPUExecutionProvider"])


def onnx_feeds(session: Any, signature: Signature, columns: dict[str, Any]) -> dict[str, Any]:
    """Inputs for ``session`` from 1-D feature columns (signature names); numpy only."""
    inputs = session.get_inputs()
    if len(inputs) == 1 and inputs[0].name == MATRIX_INPUT:
        dtype = np.float32 if inputs[0].type == "tensor(float)" else np.float64
        matrix = np.column_stack(
            [np.asarray(columns[f.name], dtype=dtype) for f in signature.inputs]
        )
        return {MATRIX_INPUT: matrix}
    feeds: dict[str, Any] = {}
    for spec in inputs:
        values = columns[spec.name]
        if spec.type == "tensor(string)":
            feeds[spec.name] = np.asarray(values, dtype=object).reshape(-1, 1)
        else:
            feeds[spec.name] = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    return feeds


def check_equivalence(
    data: bytes, native: Any, flavor: Any, signature: Signature, sample: pd.DataFrame
) -> dict[str, Any]:
    """Run both on ``sample``; the facts (``max_abs_diff``, ``rows_checked``) or
    :class:`ConversionError` naming the disagreement."""
    from shipyard.registry.coerce import to_frame

    if not len(sample):
        raise ConversionError("the reference sample is empty: nothing to check against")
    frame = to_frame(signature, sample[list(signature.feature_names)])
    columns = {name: _column(frame[name]) for name in signature.feature_names}
    if any(_has_missing_text(c) for c in columns.values()):
        frame = frame.dropna(subset=[n for n, c in columns.items() if _has_missing_text(c)])
        columns = {name: _column(frame[name]) for name in signature.feature_names}
        if not len(frame):
            raise ConversionError("every sample row has a missing text value")
    session = new_session(data)
    outputs = session.run(None, onnx_feeds(session, signature, columns))
    names = [o.name for o in session.get_outputs()]
    output = signature.output
    task = output.task if output is not None else None
    native_labels = np.asarray(flavor.predict(native, frame))
    rows = len(frame)
    if task == "classification":
        labels, proba = _classifier_outputs(names, outputs)
        if labels is None or proba is None:
            raise ConversionError(f"the ONNX graph has no label/probability outputs ({names})")
        onnx_classes = _onnx_classes(data)
        classes = list(output.classes or []) if output is not None else []
        if onnx_classes is not None and [str(c) for c in onnx_classes] != [str(c) for c in classes]:
            raise ConversionError(
                f"the ONNX classes {onnx_classes} are not the model's classes {classes}"
            )
        mismatched = int(np.sum(_as_text(labels) != _as_text(native_labels)))
        if mismatched:
            raise ConversionError(
                f"the ONNX labels differ from the native model's on {mismatched} of {rows} "
                "sample rows"
            )
        native_proba = flavor.predict_proba(native, frame)
        if native_proba is None:
            diff = 0.0
        else:
            diff = float(np.max(np.abs(np.asarray(native_proba, np.float64) - proba)))
    else:
        values: Any = np.asarray(outputs[0], dtype=np.float64).reshape(rows, -1)
        values = values.ravel() if values.shape[1] == 1 else values
        expected = native_labels.astype(np.float64)
        diff = float(np.max(np.abs(expected - values) / np.maximum(1.0, np.abs(expected))))
    if not math.isfinite(diff) or diff > TOLERANCE:
        raise ConversionError(
            f"the ONNX outputs differ from the native model's by up to {diff:.3g} on the "
            f"reference sample (allowed {TOLERANCE:g})"
        )
    return {"max_abs_diff": diff, "rows_checked": rows}


def _column(series: Any) -> Any:
    if series.dtype.kind in "iufb":
        return series.to_numpy()
    if str(series.dtype).startswith("datetime"):
        return series.to_numpy()
    return series.astype(object).where(series.notna(), None).to_numpy(dtype=object)


def _has_missing_text(column: Any) -> bool:
    return bool(column.dtype == object and any(v is None for v in column.tolist()))


def _classifier_outputs(names: list[str], outputs: list[Any]) -> tuple[Any, Any]:
    labels = proba = None
    for name, value in zip(names, outputs, strict=True):
        if "prob" in name.lower():
            proba = np.asarray(value, dtype=np.float64)
        elif "label" in name.lower():
            labels = np.asarray(value).ravel()
    return labels, proba


def _onnx_classes(data: bytes) -> list[Any] | None:
    import onnx

    from shipyard.flavors.onnx import _proto_facts

    classes = _proto_facts(onnx.load_from_string(data)).get("classes")
    return None if classes is None else list(classes)


def _as_text(values: Any) -> Any:
    array = np.asarray(values)
    if array.dtype.kind == "f" and np.all(array == np.round(array)):
        array = array.astype(np.int64)
    return array.astype(str)
