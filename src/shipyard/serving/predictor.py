"""A loaded version behind one call: :class:`Frame` in, :class:`Outputs` out.

The flavor API takes a pandas DataFrame, so the frame's columns become one here, at the model
boundary and nowhere earlier (a later slice adds the ONNX fast path that skips pandas).
``Predictor.predict`` is synchronous and thread-safe for scikit-learn models; the server calls it
off the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.errors import InvalidInputError
from shipyard.serving.frame import Array, Frame

if TYPE_CHECKING:
    from shipyard.registry.entities import ModelVersion
    from shipyard.registry.signature import Scalar, Signature
    from shipyard.runtime.loaded import LoadedModel

__all__ = ["LABEL", "PROBABILITIES", "Outputs", "Predictor", "TensorSpec"]

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
    """One loaded, signed version."""

    def __init__(self, model: LoadedModel) -> None:
        if model.signature is None:
            raise InvalidInputError(
                f"{model.ref} has no signature, so the server cannot check its input; register "
                "it with reference data (or input_example) to serve it"
            )
        self.model = model
        self.version: ModelVersion = model.version
        self.signature: Signature = model.signature
        self.ref = model.ref
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

    def predict(self, frame: Frame, *, proba: bool = True) -> Outputs:
        """Labels for every row, and probabilities when ``proba`` and the model has them."""
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


def _wire_dtype(kind: str, dtype: str) -> str:
    if kind == "datetime":
        return "datetime"
    if dtype in ("string", "object"):
        return "string"
    try:
        return np.dtype(dtype).name
    except TypeError:
        return "string"
