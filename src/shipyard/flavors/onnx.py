"""ONNX models, run on the CPU by onnxruntime.

An artifact is one self-contained ``.onnx`` file: models that point at external tensor files are
refused, since those paths would be resolved on the serving machine. Loading returns an
:class:`OnnxModel` (the session plus facts read from the graph).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipyard.errors import (
    IntegrityError,
    InvalidInputError,
    SignatureError,
    UnsupportedModelError,
    require,
)
from shipyard.flavors.base import LoadContext

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["OnnxFlavor", "OnnxModel"]

_ELEMENT_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(bool)": "bool",
    "tensor(string)": "object",
}


@dataclass(frozen=True)
class OnnxModel:
    """A loaded ONNX model: the onnxruntime session and what the ModelProto said about itself."""

    session: Any
    facts: dict[str, Any]


class OnnxFlavor:
    """``onnx.ModelProto`` objects, for example from skl2onnx, ``torch.onnx`` or tf2onnx."""

    name = "onnx"
    file_suffix = ".onnx"
    accepted_suffixes: tuple[str, ...] = (".onnx",)
    safe = True

    def can_save(self, model: Any) -> bool:
        onnx = sys.modules.get("onnx")
        return onnx is not None and isinstance(model, onnx.ModelProto)

    def can_load_file(self, filename: str, head: bytes) -> bool:
        return filename.lower().endswith(".onnx") and bool(head)

    def save(self, model: Any) -> bytes:
        data: bytes = model.SerializeToString()
        return data

    def load(self, data: bytes, context: LoadContext) -> OnnxModel:
        onnx: Any = require("onnx", "onnx")
        try:
            proto = onnx.load_from_string(data)
            onnx.checker.check_model(proto)
        except Exception as exc:  # protobuf's DecodeError or the checker's ValidationError
            raise IntegrityError(f"the artifact is not a valid ONNX model: {exc}") from exc
        if any(t.data_location == onnx.TensorProto.EXTERNAL for t in _tensors(proto)):
            raise IntegrityError(
                "the ONNX model refers to external tensor files, which an artifact cannot carry; "
                "re-save it with onnx.save_model(model, path, save_as_external_data=False)"
            )
        return OnnxModel(_session(data), _proto_facts(proto))

    def predict(self, model: Any, frame: pd.DataFrame) -> np.ndarray:
        import numpy as np

        session = self._loaded(model).session
        label, _ = _pick_outputs(session.get_outputs())
        if label is None:  # only probabilities: the label is the likeliest class
            scores = self.predict_proba(model, frame)
            assert scores is not None
            return np.asarray(np.argmax(scores, axis=1))
        result = np.asarray(session.run([label], _feeds(session.get_inputs(), frame))[0])
        return result.ravel() if result.ndim == 2 and result.shape[1] == 1 else result

    def predict_proba(self, model: Any, frame: pd.DataFrame) -> np.ndarray | None:
        import numpy as np

        session = self._loaded(model).session
        _, proba = _pick_outputs(session.get_outputs())
        if proba is None:
            return None
        result = session.run([proba], _feeds(session.get_inputs(), frame))[0]
        if isinstance(result, list):  # skl2onnx's ZipMap: one {class: probability} per row
            classes = list(result[0]) if result else []
            return np.array([[row[c] for c in classes] for row in result], dtype=float)
        return np.asarray(result, dtype=float)

    def describe(self, model: Any) -> dict[str, Any]:
        import onnxruntime

        loaded = self._loaded(model)
        session = loaded.session
        _, proba = _pick_outputs(session.get_outputs())
        facts = {
            "library": "onnxruntime",
            "library_version": onnxruntime.__version__,
            "format": "onnx",
            **loaded.facts,
            "task": "classification" if proba is not None else "regression",
            "inputs": [_io_facts(i) for i in session.get_inputs()],
            "outputs": [_io_facts(o) for o in session.get_outputs()],
        }
        widths = [_width(i) for i in session.get_inputs()]
        if None not in widths:  # a symbolic feature dimension leaves the count unknown
            facts["n_features"] = sum(w for w in widths if w is not None)
        return facts

    def _loaded(self, model: Any) -> OnnxModel:
        if isinstance(model, OnnxModel):
            return model
        if self.can_save(model):  # an in-memory ModelProto
            return OnnxModel(_session(model.SerializeToString()), _proto_facts(model))
        raise InvalidInputError(f"expected an ONNX model, got {type(model).__name__}")


def _session(data: bytes) -> Any:
    ort: Any = require("onnxruntime", "onnx")
    try:
        return ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise InvalidInputError(f"onnxruntime cannot run this model: {exc}") from exc


def _proto_facts(proto: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "ir_version": int(proto.ir_version),
        "opset": {(o.domain or "ai.onnx"): int(o.version) for o in proto.opset_import},
        "producer": proto.producer_name,
        "producer_version": proto.producer_version,
    }
    # ai.onnx.ml classifiers (and skl2onnx's ZipMap) name their classes; the last one wins.
    for node in proto.graph.node:
        for attr in node.attribute:
            if attr.name == "classlabels_int64s" and attr.ints:
                facts["classes"] = [int(c) for c in attr.ints]
            elif attr.name == "classlabels_strings" and attr.strings:
                facts["classes"] = [c.decode("utf-8", "replace") for c in attr.strings]
    return facts


def _tensors(proto: Any) -> Iterator[Any]:
    yield from _graph_tensors(proto.graph)
    for function in proto.functions:
        yield from _node_tensors(function.node)


def _graph_tensors(graph: Any) -> Iterator[Any]:
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield from (sparse.values, sparse.indices)
    yield from _node_tensors(graph.node)


def _node_tensors(nodes: Iterable[Any]) -> Iterator[Any]:
    for node in nodes:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _graph_tensors(attr.g)
            for graph in attr.graphs:
                yield from _graph_tensors(graph)


def _pick_outputs(outputs: list[Any]) -> tuple[str | None, str | None]:
    """The label output and the probability output, either of which may be missing."""
    proba = next(
        (o.name for o in outputs if o.type.startswith("seq(map") or "prob" in o.name.lower()),
        None,
    )
    others = [o.name for o in outputs if o.name != proba]
    label = next((n for n in others if "label" in n.lower()), others[0] if others else None)
    return label, proba


def _feeds(inputs: list[Any], frame: pd.DataFrame) -> dict[str, Any]:
    if len(inputs) == 1:  # one matrix of all features
        return {inputs[0].name: _array(frame, inputs[0], "all features")}
    names = [i.name for i in inputs]
    if set(names) <= set(frame.columns):
        columns = names
    elif len(names) == frame.shape[1]:  # same count, different names: go by position
        columns = list(frame.columns)
    else:
        raise SignatureError(
            f"the ONNX model takes inputs {names}, but the data has columns "
            f"{list(frame.columns)}; send one column per input"
        )
    return {i.name: _array(frame[[c]], i, str(c)) for i, c in zip(inputs, columns, strict=True)}


def _array(frame: pd.DataFrame, spec: Any, what: str) -> Any:
    dtype = _ELEMENT_TYPES.get(spec.type)
    if dtype is None:
        raise UnsupportedModelError(f"ONNX input {spec.name!r} has unsupported type {spec.type}")
    try:
        if dtype == "object":
            array = frame.astype(str).to_numpy(dtype=object)
        else:
            array = frame.to_numpy(dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise SignatureError(
            f"{what} cannot be converted to {spec.type} for ONNX input {spec.name!r}: {exc}",
            feature=None if what == "all features" else what,
        ) from exc
    return array.ravel() if len(spec.shape) == 1 else array


def _width(spec: Any) -> int | None:
    last = spec.shape[-1] if len(spec.shape) >= 2 else 1
    return last if isinstance(last, int) else None


def _io_facts(spec: Any) -> dict[str, Any]:
    shape = [d if isinstance(d, int) else None if d is None else str(d) for d in spec.shape]
    return {"name": spec.name, "type": spec.type, "shape": shape}
