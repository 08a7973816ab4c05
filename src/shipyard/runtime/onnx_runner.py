"""The ONNX fast path: onnxruntime on a batch's numpy columns, no pandas.

An :class:`OnnxRunner` is built once per loaded version from the ONNX bytes attached at
registration (see :mod:`shipyard.runtime.onnx_convert`). Everything that does not depend on the
request is decided there: the input layout (one 2-D matrix in signature order, or one ``[rows,
1]`` input per feature), each input's dtype, the output names, and the permutation from the
graph's class order to the signature's. :meth:`OnnxRunner.run` then only copies the columns of
one or more frames into the input buffers and calls ``InferenceSession.run``. A frame that
carries its validated ``[rows, features]`` float64 matrix (see
:func:`~shipyard.serving.frame.validate_matrix`) is fed as it is: a lone one without a copy
when the graph takes float64, a batch of them with one ``concatenate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from shipyard.registry.signature import Scalar, Signature

__all__ = ["OnnxRunner", "UnusableOnnx"]

Array = np.ndarray[Any, Any]
Columns = dict[str, Array]


class UnusableOnnx(Exception):
    """The attached graph does not fit the version's signature (the native path serves)."""


class OnnxRunner:
    """One InferenceSession and the plan to feed it from signature-ordered columns."""

    def __init__(self, data: bytes, signature: Signature) -> None:
        import onnx

        from shipyard.flavors.onnx import _proto_facts
        from shipyard.runtime.onnx_convert import MATRIX_INPUT, new_session

        self.session = new_session(data)
        self.features = tuple(signature.feature_names)
        inputs = self.session.get_inputs()
        self.matrix: np.dtype[Any] | None = None
        self.inputs: tuple[tuple[str, np.dtype[Any], bool], ...] = ()
        if len(inputs) == 1 and inputs[0].name == MATRIX_INPUT:
            self.matrix = np.dtype(np.float32 if inputs[0].type == "tensor(float)" else np.float64)
        else:
            given = {i.name for i in inputs}
            if given != set(self.features):
                raise UnusableOnnx(f"ONNX inputs {sorted(given)} are not the features")
            self.inputs = tuple(
                (
                    i.name,
                    np.dtype(object if i.type == "tensor(string)" else np.float64),
                    i.type == "tensor(string)",
                )
                for i in inputs
            )
        output = signature.output
        self.classification = output is not None and output.task == "classification"
        names = [o.name for o in self.session.get_outputs()]
        self.label_name = next((n for n in names if "label" in n.lower()), names[0])
        self.proba_name = next((n for n in names if "prob" in n.lower()), None)
        self.label_dtype: np.dtype[Any] | None = None
        if output is not None and output.dtype in ("int64", "int32", "float64", "bool"):
            self.label_dtype = np.dtype(output.dtype)
        self.order: Array | None = None
        if self.classification:
            if self.proba_name is None:
                raise UnusableOnnx("the ONNX classifier has no probability output")
            classes = list(output.classes or ()) if output is not None else []
            found = _proto_facts(onnx.load_from_string(data)).get("classes")
            self.order = _order(found, classes)
        self.outputs = [self.label_name] + ([self.proba_name] if self.proba_name else [])

    def accepts(self, frames: Sequence[Any]) -> bool:
        """False when a text column holds a missing value (string tensors have none): those
        batches go to the native model."""
        if self.matrix is not None:
            return True
        for name, _, text in self.inputs:
            if text:
                for frame in frames:
                    column = frame.columns[name]
                    if column.dtype == object and None in column.tolist():
                        return False
        return True

    def _matrix(self, frames: Sequence[Any], n_rows: int) -> Array:
        """The [rows, features] input: the frames' own matrices when they carry them, else one
        concatenate of every column of every frame (frame by frame, feature by feature), which
        for single-row frames is already row-major."""
        dtype = self.matrix
        assert dtype is not None
        if len(frames) == 1:
            whole: Array | None = frames[0].matrix
            if whole is not None:
                return whole if whole.dtype is dtype else whole.astype(dtype)
        elif all(f.matrix is not None for f in frames):
            return np.concatenate([f.matrix for f in frames]).astype(dtype, copy=False)
        elif any(f.matrix is not None for f in frames):
            return np.concatenate([self._matrix((f,), f.n_rows) for f in frames])
        features = self.features
        flat = np.concatenate([f.columns[name] for f in frames for name in features])
        if n_rows == len(frames):  # every frame is one row
            matrix = flat.reshape(n_rows, len(features))
        else:
            blocks, start = [], 0
            for f in frames:
                stop = start + f.n_rows * len(features)
                blocks.append(flat[start:stop].reshape(len(features), f.n_rows).T)
                start = stop
            matrix = np.concatenate(blocks)
        return np.ascontiguousarray(matrix, dtype=dtype)

    def run(self, frames: Sequence[Any], n_rows: int) -> tuple[Array, Array | None]:
        """Labels (n_rows,) and, for classifiers, float64 probabilities (n_rows, classes) in
        the signature's class order, for the frames' rows in order."""
        feeds: dict[str, Array] = {}
        if self.matrix is not None:
            feeds["X"] = self._matrix(frames, n_rows)
        else:
            for name, dtype, _ in self.inputs:
                if len(frames) == 1:
                    column = frames[0].columns[name]
                else:
                    column = np.concatenate([f.columns[name] for f in frames])
                feeds[name] = np.asarray(column, dtype=dtype).reshape(-1, 1)
        result = self.session.run(self.outputs, feeds)
        labels = np.asarray(result[0]).reshape(-1)
        if self.label_dtype is not None and labels.dtype != self.label_dtype:
            labels = labels.astype(self.label_dtype)
        if not self.classification:
            return labels.astype(np.float64, copy=False), None
        proba = np.asarray(result[1], dtype=np.float64)
        if self.order is not None:
            proba = proba[:, self.order]
        return labels, proba


def _order(found: list[Any] | None, classes: list[Scalar]) -> Array | None:
    """Column indices taking the graph's class order to ``classes``; None when they agree."""
    if found is None:
        return None
    graph = [str(c) for c in found]
    wanted = [str(c) for c in classes]
    if graph == wanted:
        return None
    if sorted(graph) != sorted(wanted):
        raise UnusableOnnx(f"ONNX classes {graph} are not the signature's classes {wanted}")
    return np.array([graph.index(c) for c in wanted], dtype=np.intp)
