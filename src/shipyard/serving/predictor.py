"""A loaded version behind one call: :class:`Frame` in, :class:`Outputs` out.

Two paths. When the version carries a checked ONNX conversion (attachment ``onnx``, loaded
through the artifact store, so digest-verified), an :class:`~shipyard.runtime.onnx_runner.
OnnxRunner` runs onnxruntime straight on the frames' numpy columns: no pandas. Otherwise (and
for a batch the graph cannot take, such as a missing text value) the flavor predicts, and the
frame's columns become a pandas DataFrame here, at the model boundary and nowhere earlier.

``predict_batch`` takes several frames (a micro-batch) and answers for their rows in order;
callers split the result by row offsets. Both paths are synchronous and thread-safe; the server
calls them off the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.errors import InvalidInputError
from shipyard.serving.frame import Array, Frame

if TYPE_CHECKING:
    from shipyard.registry.entities import ModelVersion
    from shipyard.registry.signature import Scalar, Signature
    from shipyard.runtime.loaded import LoadedModel
    from shipyard.runtime.onnx_runner import OnnxRunner

__all__ = ["LABEL", "PROBABILITIES", "Outputs", "Predictor", "TensorSpec"]

log = logging.getLogger("shipyard.serving")

LABEL = "label"
PROBABILITIES = "probabilities"


@dataclass(frozen=True, slots=True)
class Outputs:
    """What a version answered for a frame: one label per row and, for classifiers with
    probabilities (when asked for), a (rows, classes) float array in ``classes`` order."""

    labels: Array
    probabilities: Array | None = None
    classes: tuple[Scalar, ...] | None = None


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """A named input or output for model metadata. ``dtype`` is a numpy dtype name, or
    ``string`` / ``datetime`` (text on the wire); -1 in ``shape`` means any size."""

    name: str
    dtype: str
    shape: tuple[int, ...]


class Predictor:
    """One loaded, signed version; ``onnx`` is its checked ONNX conversion, if any."""

    def __init__(self, model: LoadedModel, onnx: bytes | None = None) -> None:
        if model.signature is None:
            raise InvalidInputError(
                f"{model.ref} has no signature, so the server cannot check its input; register "
                "it with reference data (or input_example) to serve it"
            )
        self.model = model
        self.version: ModelVersion = model.version
        self.signature: Signature = model.signature
        self.ref = model.ref
        self.version_text = str(self.version.version)
        """The version number as the protocols' bodies give it."""
        self.answered_by = (b"x-shipyard-model-version", self.ref.encode())
        """The response header naming the version that answered."""
        self.features: tuple[str, ...] = tuple(self.signature.feature_names)
        output = self.signature.output
        self.classes: tuple[Scalar, ...] | None = output.classes if output is not None else None
        self.has_proba = bool(output is not None and output.has_proba and self.classes is not None)
        categorical = [f for f in self.signature.inputs if f.kind == "categorical"]
        self._text = [f.name for f in categorical if f.dtype == "string"]
        self._objects = [f.name for f in categorical if f.dtype == "object"]
        self._zoned = {
            f.name: f.dtype
            for f in self.signature.inputs
            if f.kind == "datetime" and "," in f.dtype
        }
        self.memory_bytes = 0
        """The measured load footprint (set by the host that loaded it; serving/usage.py)."""
        self.fast: OnnxRunner | None = None
        if onnx is not None:
            from shipyard.runtime.onnx_runner import OnnxRunner

            try:
                self.fast = OnnxRunner(onnx, self.signature)
            except Exception as exc:  # a graph this build cannot run: serve natively, say why
                log.warning("%s: not using its ONNX conversion: %s", self.ref, exc)

    @property
    def path(self) -> str:
        """``onnx`` or ``native``: which path answers (a batch the graph cannot take still
        goes native)."""
        return "native" if self.fast is None else "onnx"

    def predict(self, frame: Frame, *, proba: bool = True) -> Outputs:
        """Labels for every row, and probabilities when ``proba`` and the model has them."""
        return self._predict((frame,), frame.n_rows, proba)

    def predict_batch(self, frames: Sequence[Frame], *, proba: bool = True) -> Outputs:
        """One prediction over the rows of ``frames``, in order (a micro-batch)."""
        if len(frames) == 1:
            return self.predict(frames[0], proba=proba)
        return self._predict(frames, sum(f.n_rows for f in frames), proba)

    def _predict(self, frames: Sequence[Frame], n_rows: int, proba: bool) -> Outputs:
        fast = self.fast
        if fast is not None and fast.accepts(frames):
            labels, probabilities = fast.run(frames, n_rows)
            if proba and self.has_proba and probabilities is not None:
                return Outputs(labels, probabilities, self.classes)
            return Outputs(labels)
        return self._native(frames[0] if len(frames) == 1 else _concat(frames), proba)

    def _native(self, frame: Frame, proba: bool) -> Outputs:
        table = self._dataframe(frame)
        flavor, native = self.model.flavor, self.model.native
        labels = np.asarray(flavor.predict(native, table))
        if not (proba and self.has_proba):
            return Outputs(labels)
        probabilities = flavor.predict_proba(native, table)
        if probabilities is None:
            return Outputs(labels)
        return Outputs(labels, np.asarray(probabilities, dtype=np.float64), self.classes)

    def _dataframe(self, frame: Frame) -> Any:
        import pandas as pd

        from shipyard.registry.coerce import _TEXT_DTYPE

        table = pd.DataFrame(frame.columns, copy=False)
        for name in self._text:  # the text dtype the model was fitted on (str on pandas 3)
            if table[name].dtype == object:
                table[name] = table[name].astype(_TEXT_DTYPE)
        for name in self._objects:  # passed through untouched, as to_frame does
            table[name] = table[name].astype(object)
        for name, dtype in self._zoned.items():
            table[name] = table[name].dt.tz_localize("UTC").astype(dtype)
        return table

    @property
    def output_names(self) -> tuple[str, ...]:
        return (LABEL, PROBABILITIES) if self.has_proba else (LABEL,)

    def inputs(self) -> list[TensorSpec]:
        return [
            TensorSpec(f.name, _wire_dtype(f.kind, f.dtype), (-1,)) for f in self.signature.inputs
        ]

    def outputs(self) -> list[TensorSpec]:
        output = self.signature.output
        label_dtype = "float64" if output is None else _wire_dtype("numeric", output.dtype)
        specs = [TensorSpec(LABEL, label_dtype, (-1,))]
        if self.has_proba and self.classes is not None:
            specs.append(TensorSpec(PROBABILITIES, "float64", (-1, len(self.classes))))
        return specs

    def __repr__(self) -> str:
        return f"<Predictor {self.ref}>"


def _concat(frames: Sequence[Frame]) -> Frame:
    first = frames[0].columns
    columns = {name: np.concatenate([f.columns[name] for f in frames]) for name in first}
    return Frame(columns, sum(f.n_rows for f in frames), frames[0].request_id)


def _wire_dtype(kind: str, dtype: str) -> str:
    if kind == "datetime":
        return "datetime"
    if dtype in ("string", "object"):
        return "string"
    try:
        return np.dtype(dtype).name
    except TypeError:
        return "string"
