"""The Open Inference Protocol (KServe V2) REST codec: pure functions of bytes and arrays.

A request's inputs are either one tensor per feature (named after it, shape ``[n]`` or
``[n, 1]``) or one 2-D tensor ``[n, n_features]`` whose columns are the features in signature
order (any name). Data is flat or nested row-major, and must hold exactly the elements its shape
says. A tensor holds one datatype: BYTES elements are strings, BOOL elements booleans, numeric
elements numbers; ``null`` marks a missing value (FP*, BOOL and BYTES tensors). A body that breaks
these rules raises ``InvalidInputError`` (400); a count of features that does not fit the model
raises ``SignatureError`` (422). The codec knows nothing of models beyond feature names.

One 2-D tensor is kept whole, as :attr:`InferRequest.matrix` (``[rows, features]``), for
:func:`~shipyard.serving.frame.validate_matrix`; its columns are views made on first use. FP
tensor data that numpy reads as one regular numeric array of at most two levels (flat, or a list
of rows) is converted by one ``np.asarray``; anything else takes the element-by-element path, which
decides every error. The commonest request of all, one FP64 ``[rows, features]`` tensor, is
recognised first (:func:`_dense`) and marked :attr:`InferRequest.finite`: JSON has no NaN or
infinity and orjson refuses numbers beyond float64's range, so validation can skip that check.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from shipyard.errors import InvalidInputError, SignatureError
from shipyard.serving.frame import Array
from shipyard.serving.predictor import LABEL, PROBABILITIES, Outputs, Predictor, TensorSpec

__all__ = [
    "DATATYPES",
    "InferRequest",
    "decode_infer",
    "encode_error",
    "encode_infer",
    "model_metadata",
    "select_outputs",
    "server_metadata",
]

DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(bool),
    **{f"INT{b}": np.dtype(f"int{b}") for b in (8, 16, 32, 64)},
    **{f"UINT{b}": np.dtype(f"uint{b}") for b in (8, 16, 32, 64)},
    **{f"FP{b}": np.dtype(f"float{b}") for b in (16, 32, 64)},
    "BYTES": np.dtype(object),
}
_KNOWN = ", ".join(DATATYPES)
_WIRE = {dtype.name: name for name, dtype in DATATYPES.items() if name != "BYTES"}
_WIRE_DTYPES: dict[np.dtype[Any], str] = {d: n for n, d in DATATYPES.items()}
"""Wire datatypes by numpy dtype (``dtype.name`` costs microseconds, a dict lookup does not)."""
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


class InferRequest:
    """A decoded infer request: ``columns`` by input name, or for one 2-D tensor, ``matrix``
    (``[rows, features]``, columns in signature order; ``columns`` are then views of it, named
    after the features, made on first use). ``outputs`` names the requested outputs, or is None
    for all of them."""

    __slots__ = ("_columns", "_features", "finite", "id", "matrix", "outputs", "parameters")

    def __init__(
        self,
        id: str | None,
        columns: dict[str, Array] | None,
        outputs: tuple[str, ...] | None,
        parameters: dict[str, Any],
        *,
        matrix: Array | None = None,
        features: Sequence[str] = (),
        finite: bool = False,
    ) -> None:
        if columns is None and matrix is None:
            raise ValueError("an infer request needs its columns or a matrix")
        self.finite = finite
        """Every value of ``matrix`` is known to be finite (float64 numbers from JSON)."""
        self.id = id
        self._columns = columns
        self.outputs = outputs
        self.parameters = parameters
        self.matrix = matrix
        self._features = features

    @property
    def columns(self) -> dict[str, Array]:
        columns = self._columns
        if columns is None:
            matrix = self.matrix
            assert matrix is not None
            columns = self._columns = {f: matrix[:, j] for j, f in enumerate(self._features)}
        return columns

    def __repr__(self) -> str:
        inputs = list(self.columns) if self.matrix is None else f"matrix {self.matrix.shape}"
        return f"<InferRequest id={self.id!r} {inputs} outputs={self.outputs}>"


def decode_infer(body: bytes, features: Sequence[str]) -> InferRequest:
    """Decode an infer request body into columns named after ``features``."""
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"the request body is not valid JSON: {exc}") from None
    if type(request) is not dict:
        raise InvalidInputError("the request body must be a JSON object with an 'inputs' array")
    request_id = request.get("id")
    if request_id is not None and type(request_id) is not str:
        raise InvalidInputError("'id' must be a string")
    parameters = request.get("parameters", {})
    if type(parameters) is not dict:
        raise InvalidInputError("'parameters' must be a JSON object")
    inputs = request.get("inputs")
    if type(inputs) is not list or not inputs:
        raise InvalidInputError(
            "'inputs' must be a non-empty array of tensors {name, shape, datatype, data}"
        )
    if len(inputs) == 1:
        dense = _dense(inputs[0], features)
        if dense is not None:
            selected = _requested(request.get("outputs"))
            return InferRequest(
                request_id, None, selected, parameters, matrix=dense, features=features, finite=True
            )
        name, shape, array = _tensor(inputs[0], 0)
        if name not in features:
            matrix = _matrix(name, shape, array, features)
            selected = _requested(request.get("outputs"))
            return InferRequest(
                request_id, None, selected, parameters, matrix=matrix, features=features
            )
        tensors = [(name, shape, array)]
    else:
        tensors = [_tensor(item, i) for i, item in enumerate(inputs)]
    selected = _requested(request.get("outputs"))
    return InferRequest(request_id, per_feature_columns(tensors), selected, parameters)


def per_feature_columns(tensors: Sequence[tuple[str, list[int], Array]]) -> dict[str, Array]:
    """One column per per-feature input tensor (shape ``[rows]`` or ``[rows, 1]``), by name; the
    JSON and the binary decoders share it."""
    columns: dict[str, Array] = {}
    for name, shape, array in tensors:
        if len(shape) not in (1, 2) or (len(shape) == 2 and shape[1] != 1):
            raise InvalidInputError(
                f"input {name!r} has shape {shape}; a per-feature input has shape [rows] or "
                "[rows, 1] (or send one 2-D tensor [rows, features] in signature order)"
            )
        if name in columns:
            raise InvalidInputError(f"input {name!r} is given twice; send it once")
        columns[name] = array.reshape(-1)
    return columns


def _requested(outputs: Any) -> tuple[str, ...] | None:
    if outputs is None:
        return None
    if type(outputs) is not list or not all(
        type(o) is dict and type(o.get("name")) is str for o in outputs
    ):
        raise InvalidInputError("'outputs' must be an array of objects with a 'name'")
    return tuple(o["name"] for o in outputs)


def _tensor(item: Any, index: int) -> tuple[str, list[int], Array]:
    if type(item) is not dict:
        raise InvalidInputError(
            f"inputs[{index}] must be an object {{name, shape, datatype, data}}"
        )
    name, datatype, shape = item.get("name"), item.get("datatype"), item.get("shape")
    if type(name) is not str or not name:
        raise InvalidInputError(f"inputs[{index}] needs a 'name' (a string)")
    dtype = DATATYPES.get(datatype) if type(datatype) is str else None
    if dtype is None:
        raise InvalidInputError(
            f"input {name!r}: unknown datatype {datatype!r}; use one of {_KNOWN}"
        )
    if type(shape) is not list:
        raise _bad_shape(name)
    for d in shape:
        if type(d) is not int or d < 0:
            raise _bad_shape(name)
    data = item.get("data")
    if type(data) is not list:
        raise InvalidInputError(f"input {name!r}: 'data' must be an array (flat or nested)")
    count = math.prod(shape)
    if dtype.kind == "f" and data:
        fast = _float_array(data, count, dtype)
        if fast is not None:
            return name, shape, fast
    flat = _flatten(data) if any(type(v) is list for v in data) else data
    if len(flat) != count:
        raise InvalidInputError(
            f"input {name!r}: shape {shape} holds {count} elements, but 'data' has {len(flat)}"
        )
    return name, shape, _array(name, str(datatype), dtype, flat)


_FLOAT64 = np.dtype(np.float64)


def _dense(item: Any, features: Sequence[str]) -> Array | None:
    """One FP64 tensor ``[rows, len(features)]`` not named after a feature, whose data numpy
    reads as that many numbers (flat or as rows), as a float64 ``[rows, features]`` matrix;
    None for anything else, which the general path then decodes, or names what is wrong. It
    accepts exactly what that path accepts for such a tensor, with the same values."""
    if type(item) is not dict or item.get("datatype") != "FP64":
        return None
    shape, data, name = item.get("shape"), item.get("data"), item.get("name")
    if type(shape) is not list or len(shape) != 2 or type(data) is not list or not data:
        return None
    rows, width = shape
    if type(rows) is not int or type(width) is not int or rows < 1 or width != len(features):
        return None
    if type(name) is not str or not name or name in features:
        return None
    try:
        array = np.asarray(data)
    except (ValueError, TypeError, OverflowError):  # ragged, mixed nesting, huge integers
        return None
    if array.dtype is not _FLOAT64:
        if array.dtype.kind not in "iu":  # null, text, booleans: the general path says so
            return None
        array = array.astype(_FLOAT64)
    if array.ndim > 2 or array.size != rows * width:
        return None
    return array.reshape(rows, width)  # flat, rows, or any regular 2-D data: row-major


def _bad_shape(name: str) -> InvalidInputError:
    return InvalidInputError(f"input {name!r}: 'shape' must be an array of non-negative integers")


def _float_array(data: list[Any], count: int, dtype: np.dtype[Any]) -> Array | None:
    """FP tensor data as a flat array in one ``np.asarray``, when numpy reads it as one regular
    array of numbers, flat or a list of rows, holding ``count`` elements; else None (the
    element-by-element path then converts it, or names what is wrong). What it accepts, it
    converts exactly as that path would."""
    try:
        array = np.asarray(data)
    except (ValueError, TypeError, OverflowError):  # ragged, mixed nesting, huge integers
        return None
    if array.ndim > 2 or array.size != count or array.dtype.kind not in "iuf":
        return None  # deeper nesting, a count that does not fit, null, text, booleans
    if array.ndim == 2:
        array = array.reshape(-1)
    if array.dtype is dtype:
        return array
    with np.errstate(over="ignore"):  # FP16/FP32 overflow becomes inf; validation judges it
        return array.astype(dtype)


def _flatten(data: list[Any]) -> list[Any]:
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for value in stack[-1]:
            if type(value) is list:
                if len(stack) > 32:
                    raise InvalidInputError("'data' is nested more deeply than any tensor shape")
                stack.append(iter(value))
                break
            flat.append(value)
        else:
            stack.pop()
    return flat


def _array(name: str, datatype: str, dtype: np.dtype[Any], flat: list[Any]) -> Array:
    if not flat:
        return np.empty(0, dtype=dtype)
    if datatype == "BYTES":
        if not all(type(v) is str or v is None for v in flat):
            bad = next(v for v in flat if type(v) is not str and v is not None)
            raise InvalidInputError(f"input {name!r}: BYTES elements must be strings, got {bad!r}")
        return np.array(flat, dtype=object)
    try:
        array = np.asarray(flat)
    except (ValueError, TypeError, OverflowError):
        array = np.array(flat, dtype=object)
    kind = array.dtype.kind
    if datatype == "BOOL":
        if kind == "b":
            return array
        if all(type(v) is bool or v is None for v in flat):
            return array.astype(object)
        raise InvalidInputError(f"input {name!r}: BOOL elements must be true, false or null")
    if kind == "O":
        array = _numbers_with_nulls(name, datatype, flat)
        kind = array.dtype.kind
    if kind not in "iuf":
        what = {"b": "booleans", "U": "text"}.get(kind, "non-numbers")
        raise InvalidInputError(f"input {name!r}: {datatype} elements must be numbers, got {what}")
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if kind == "f" and all(type(v) is int for v in flat):
            # Integers beyond int64 (UINT64's upper half) made numpy pick float64: be exact.
            if min(flat) < info.min or max(flat) > info.max:
                raise _out_of_range(name, datatype, info)
            return np.array(flat, dtype=dtype)
        if kind == "f" and not (array == np.round(array)).all():
            raise InvalidInputError(f"input {name!r}: {datatype} elements must be whole numbers")
        if array.min() < info.min or array.max() > info.max:
            raise _out_of_range(name, datatype, info)
    with np.errstate(over="ignore"):  # FP16/FP32 overflow becomes inf; validation judges it
        return array.astype(dtype)


def _out_of_range(name: str, datatype: str, info: np.iinfo[Any]) -> InvalidInputError:
    return InvalidInputError(
        f"input {name!r}: {datatype} elements must lie in [{info.min}, {info.max}]"
    )


def _numbers_with_nulls(name: str, datatype: str, flat: list[Any]) -> Array:
    if not datatype.startswith("FP"):
        raise InvalidInputError(
            f"input {name!r}: {datatype} elements must be numbers in range (use an FP datatype "
            "with null for missing values)"
        )
    out = np.empty(len(flat), dtype=np.float64)
    for i, value in enumerate(flat):
        if value is None:
            out[i] = np.nan
        elif type(value) in (int, float):
            out[i] = value
        else:
            raise InvalidInputError(f"input {name!r}: {datatype} elements must be numbers or null")
    return out


def _split(name: str, shape: list[int], array: Array, features: Sequence[str]) -> dict[str, Array]:
    table = _matrix(name, shape, array, features)
    return {feature: table[:, j] for j, feature in enumerate(features)}


def _matrix(name: str, shape: list[int], array: Array, features: Sequence[str]) -> Array:
    """One non-feature tensor as the ``[rows, features]`` matrix, checked for its rank and
    width."""
    if len(shape) != 2:
        raise InvalidInputError(
            f"input {name!r} is not a feature, so it must be one 2-D tensor [rows, features] with "
            f"the features in this order: {', '.join(features)}; it has shape {shape}"
        )
    if shape[1] != len(features):
        raise SignatureError(
            f"input {name!r} has {shape[1]} columns, but the model expects {len(features)} "
            f"features, in this order: {', '.join(features)}"
        )
    return array.reshape(shape)


def select_outputs(requested: tuple[str, ...] | None, available: Sequence[str]) -> tuple[str, ...]:
    """The outputs to return, in request order; an unknown name is a 400."""
    if requested is None:
        return tuple(available)
    if unknown := [n for n in requested if n not in available]:
        raise InvalidInputError(
            f"unknown output {unknown[0]!r}; this model's outputs are: {', '.join(available)}"
        )
    return requested


def encode_infer(
    model_name: str,
    model_version: str,
    request_id: str,
    outputs: Outputs,
    selected: Sequence[str],
) -> bytes:
    tensors: list[dict[str, Any]] = []
    for name in selected:
        if name == LABEL:
            labels = outputs.labels
            tensors.append(
                {
                    "name": LABEL,
                    "datatype": _datatype(labels),
                    "shape": [len(labels)],
                    "data": _data(labels),
                }
            )
        elif name == PROBABILITIES and outputs.probabilities is not None:
            proba = outputs.probabilities
            tensors.append(
                {
                    "name": PROBABILITIES,
                    "datatype": "FP64",
                    "shape": list(proba.shape),
                    "data": proba.ravel(),
                }
            )
    body = {
        "model_name": model_name,
        "model_version": model_version,
        "id": request_id,
        "outputs": tensors,
    }
    return orjson.dumps(body, option=_NUMPY)


def _datatype(array: Array) -> str:
    dtype = array.dtype
    found = _WIRE_DTYPES.get(dtype)
    if found is None:
        found = _WIRE.get(dtype.name, "BYTES")
        if len(_WIRE_DTYPES) < 64:  # e.g. text labels' '<U5': remembered, within a bound
            _WIRE_DTYPES[dtype] = found
    return found


def _data(array: Array) -> Any:
    if _datatype(array) != "BYTES":
        return np.ascontiguousarray(array)
    return [
        v if isinstance(v, str | bool | int | float) or v is None else str(v)
        for v in array.tolist()
    ]


def _tensor_metadata(spec: TensorSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "datatype": _WIRE.get(spec.dtype, "BYTES"),
        "shape": list(spec.shape),
    }


def model_metadata(name: str, predictor: Predictor) -> bytes:
    version = predictor.version
    body: dict[str, Any] = {
        "name": name,
        "versions": [str(version.version)],
        "platform": f"shipyard-{version.flavor}",
        "inputs": [_tensor_metadata(s) for s in predictor.inputs()],
        "outputs": [_tensor_metadata(s) for s in predictor.outputs()],
        "parameters": {"model": version.model, "version": version.version},
    }
    if predictor.has_proba:
        body["parameters"]["classes"] = list(predictor.classes or ())
    return orjson.dumps(body)


def server_metadata(version: str, extensions: Sequence[str] = ("binary_tensor_data",)) -> bytes:
    return orjson.dumps({"name": "shipyard", "version": version, "extensions": list(extensions)})


def encode_error(message: str) -> bytes:
    return orjson.dumps({"error": message})
