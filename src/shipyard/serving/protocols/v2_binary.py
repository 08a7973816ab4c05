"""Triton's binary tensor data extension to the V2 REST codec, pure functions.

A request with the ``Inference-Header-Content-Length: N`` header is N bytes of JSON (the V2
request) followed by raw tensor bytes: each input whose ``parameters.binary_data_size`` is given
has no ``data``; its elements are the next that-many bytes, in input order, little-endian, row
major, in the datatype's native size (BOOL one byte 0 or 1; BYTES a 4-byte little-endian length,
then that many bytes of UTF-8 text, per element). Outputs come back binary when asked:
``parameters.binary_data`` on a requested output, else ``parameters.binary_data_output`` on the
request (tritonclient sets that when it names no outputs). A binary answer is the JSON response,
whose binary outputs carry ``parameters.binary_data_size`` and no ``data``, followed by their
bytes; its length is the response's ``Inference-Header-Content-Length``.

Inputs sent as JSON follow :mod:`.v2` exactly (its tensor reader is reused). Malformed headers,
sizes, byte counts or text raise ``InvalidInputError`` (400).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from shipyard.errors import InvalidInputError
from shipyard.serving.frame import Array
from shipyard.serving.predictor import LABEL, PROBABILITIES, Outputs
from shipyard.serving.protocols import v2

__all__ = ["BinaryInferRequest", "decode_infer", "encode_infer", "is_binary"]

_LENGTH = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class BinaryInferRequest:
    request: v2.InferRequest
    binary_outputs: dict[str, bool]
    """Per requested output: whether it asked for binary data (``parameters.binary_data``)."""
    binary_default: bool
    """The request's ``parameters.binary_data_output`` (false when not given)."""

    def binary(self, selected: Sequence[str]) -> frozenset[str]:
        """The outputs, among ``selected``, to return as binary data."""
        return frozenset(
            name for name in selected if self.binary_outputs.get(name, self.binary_default)
        )


def is_binary(body: bytes, header_length: bytes | None) -> bool:
    """Whether a V2 request may use the extension (else the plain V2 codec reads it)."""
    return header_length is not None or b'"binary_data' in body


def decode_infer(
    body: bytes, header_length: bytes | None, features: Sequence[str]
) -> BinaryInferRequest:
    json_part, binary = _split_body(body, header_length)
    try:
        request = orjson.loads(json_part)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(
            f"the JSON header of the request is not valid JSON: {exc}"
        ) from None
    if type(request) is not dict:
        raise InvalidInputError("the request body must be a JSON object with an 'inputs' array")
    request_id = request.get("id")
    if request_id is not None and type(request_id) is not str:
        raise InvalidInputError("'id' must be a string")
    parameters = request.get("parameters", {})
    if type(parameters) is not dict:
        raise InvalidInputError("'parameters' must be a JSON object")
    binary_default = _flag(parameters, "binary_data_output", "the request")
    inputs = request.get("inputs")
    if type(inputs) is not list or not inputs:
        raise InvalidInputError(
            "'inputs' must be a non-empty array of tensors {name, shape, datatype, data}"
        )
    tensors: list[tuple[str, list[int], Array]] = []
    offset = 0
    for index, item in enumerate(inputs):
        size = _binary_size(item)
        if size is None:
            tensors.append(v2._tensor(item, index))
            continue
        if offset + size > len(binary):
            raise InvalidInputError(
                f"input {item.get('name')!r} declares binary_data_size {size}, but only "
                f"{len(binary) - offset} bytes of binary data remain after the JSON header"
            )
        tensors.append(_binary_tensor(item, index, binary[offset : offset + size]))
        offset += size
    if offset != len(binary):
        raise InvalidInputError(
            f"the body has {len(binary) - offset} bytes after the binary data its inputs declare"
        )
    outputs = request.get("outputs")
    selected = v2._requested(outputs)
    binary_outputs = {
        o["name"]: _flag(o.get("parameters") or {}, "binary_data", f"output {o['name']!r}")
        for o in (outputs or ())
        if "binary_data" in (o.get("parameters") or {})
    }
    columns = _columns(tensors, features)
    infer = v2.InferRequest(request_id, columns, selected, parameters)
    return BinaryInferRequest(infer, binary_outputs, binary_default)


def _split_body(body: bytes, header_length: bytes | None) -> tuple[bytes, bytes]:
    if header_length is None:
        return body, b""
    text = header_length.strip()
    if not text.isdigit() or len(text) > 18:
        raise InvalidInputError(
            "the Inference-Header-Content-Length header must be a non-negative integer, got "
            f"{header_length.decode('latin-1')!r}"
        )
    length = int(text)
    if length > len(body):
        raise InvalidInputError(
            f"Inference-Header-Content-Length says the JSON header is {length} bytes, but the "
            f"body has only {len(body)}"
        )
    return body[:length], body[length:]


def _flag(parameters: Any, key: str, owner: str) -> bool:
    if type(parameters) is not dict:
        raise InvalidInputError(f"the parameters of {owner} must be a JSON object")
    value = parameters.get(key, False)
    if type(value) is not bool:
        raise InvalidInputError(f"{owner}: parameters.{key} must be true or false")
    return value


def _binary_size(item: Any) -> int | None:
    if type(item) is not dict:
        return None  # v2's reader explains what an input must be
    parameters = item.get("parameters")
    if type(parameters) is not dict or "binary_data_size" not in parameters:
        return None
    size = parameters["binary_data_size"]
    if type(size) is not int or size < 0:
        raise InvalidInputError(
            f"input {item.get('name')!r}: binary_data_size must be a non-negative integer, "
            f"got {size!r}"
        )
    if "data" in item:
        raise InvalidInputError(
            f"input {item.get('name')!r} has both 'data' and binary_data_size; send one"
        )
    return size


def _binary_tensor(item: dict[str, Any], index: int, raw: bytes) -> tuple[str, list[int], Array]:
    name, datatype, shape = item.get("name"), item.get("datatype"), item.get("shape")
    if type(name) is not str or not name:
        raise InvalidInputError(f"inputs[{index}] needs a 'name' (a string)")
    dtype = v2.DATATYPES.get(datatype) if type(datatype) is str else None
    if dtype is None:
        raise InvalidInputError(
            f"input {name!r}: unknown datatype {datatype!r}; use one of {', '.join(v2.DATATYPES)}"
        )
    if type(shape) is not list or not all(type(d) is int and d >= 0 for d in shape):
        raise InvalidInputError(
            f"input {name!r}: 'shape' must be an array of non-negative integers"
        )
    count = math.prod(shape)
    if datatype == "BYTES":
        return name, shape, _strings(name, raw, count)
    if count * dtype.itemsize != len(raw):
        raise InvalidInputError(
            f"input {name!r}: shape {shape} of {datatype} takes {count * dtype.itemsize} bytes, "
            f"but binary_data_size is {len(raw)}"
        )
    if datatype == "BOOL":
        octets = np.frombuffer(raw, dtype=np.uint8)
        if (octets > 1).any():
            raise InvalidInputError(f"input {name!r}: BOOL bytes must be 0 or 1")
        return name, shape, octets.astype(bool)
    return name, shape, np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype)


def _strings(name: str, raw: bytes, count: int) -> Array:
    out: list[str] = []
    offset, end = 0, len(raw)
    while offset < end:
        if offset + 4 > end:
            raise InvalidInputError(f"input {name!r}: BYTES data ends inside an element length")
        (length,) = _LENGTH.unpack_from(raw, offset)
        offset += 4
        if offset + length > end:
            raise InvalidInputError(
                f"input {name!r}: BYTES element {len(out)} declares {length} bytes, but only "
                f"{end - offset} remain"
            )
        try:
            out.append(raw[offset : offset + length].decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidInputError(
                f"input {name!r}: BYTES element {len(out)} is not valid UTF-8 text"
            ) from None
        offset += length
    if len(out) != count:
        raise InvalidInputError(
            f"input {name!r}: its shape holds {count} elements, but the binary data has {len(out)}"
        )
    array = np.empty(len(out), dtype=object)
    array[:] = out
    return array


def _columns(
    tensors: list[tuple[str, list[int], Array]], features: Sequence[str]
) -> dict[str, Array]:
    """As :func:`v2.decode_infer` assembles them: one 2-D tensor in signature order, or one
    input per feature."""
    if len(tensors) == 1 and tensors[0][0] not in features:
        return v2._split(*tensors[0], features)
    return v2.per_feature_columns(tensors)


def encode_infer(
    model_name: str,
    model_version: str,
    request_id: str,
    outputs: Outputs,
    selected: Sequence[str],
    binary: Collection[str],
) -> tuple[bytes, int | None]:
    """The response body, and the JSON header's length when any output is binary (else None:
    the body is plain V2 JSON)."""
    tensors: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for name in selected:
        if name == LABEL:
            array, datatype = outputs.labels, v2._datatype(outputs.labels)
        elif name == PROBABILITIES and outputs.probabilities is not None:
            array, datatype = outputs.probabilities, "FP64"
        else:
            continue
        tensor: dict[str, Any] = {"name": name, "datatype": datatype, "shape": list(array.shape)}
        if name in binary:
            raw = _raw(array, datatype)
            tensor["parameters"] = {"binary_data_size": len(raw)}
            blobs.append(raw)
        else:
            tensor["data"] = v2._data(array.ravel())
        tensors.append(tensor)
    body = {"model_name": model_name, "model_version": model_version, "id": request_id}
    header = orjson.dumps({**body, "outputs": tensors}, option=orjson.OPT_SERIALIZE_NUMPY)
    if not blobs:
        return header, None
    return header + b"".join(blobs), len(header)


def _raw(array: Array, datatype: str) -> bytes:
    if datatype == "BYTES":
        parts: list[bytes] = []
        for value in array.ravel().tolist():
            data = value if isinstance(value, bytes) else str(value).encode("utf-8")
            parts += (_LENGTH.pack(len(data)), data)
        return b"".join(parts)
    if datatype == "BOOL":
        return array.astype(np.uint8).tobytes()
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
