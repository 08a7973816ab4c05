"""The binary tensor data codec: request bodies as tritonclient builds them, responses as it
parses them, and garbage of every kind answered with a 400 that names the problem."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import orjson
import pytest
from _v2_helpers import client, lifespan, per_feature, rows, wait_ready

from shipyard.errors import InvalidInputError, SignatureError
from shipyard.serving.predictor import Outputs
from shipyard.serving.protocols import v2_binary
from shipyard.serving.server import build_app

FEATURES = ("a", "b", "c")


def _triton_body(arrays: dict[str, np.ndarray[Any, Any]], **options: Any) -> tuple[bytes, int]:
    import tritonclient.http as triton
    from tritonclient.utils import np_to_triton_dtype

    inputs = []
    for name, array in arrays.items():
        tensor = triton.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    body, json_size = triton.InferenceServerClient.generate_request_body(inputs, **options)
    return body, json_size


def test_decodes_what_tritonclient_sends() -> None:
    arrays = {
        "a": np.array([1.5, -2.0, np.nan]),
        "b": np.array([1, 2, 3], dtype=np.int32).reshape(3, 1),
        "c": np.array(["x", "ü", ""], dtype=object),
    }
    body, size = _triton_body(arrays, request_id="r1")
    decoded = v2_binary.decode_infer(body, str(size).encode(), FEATURES)
    columns = decoded.request.columns
    np.testing.assert_array_equal(columns["a"], arrays["a"])
    assert columns["b"].dtype == np.int32 and columns["b"].tolist() == [1, 2, 3]
    assert columns["c"].tolist() == ["x", "ü", ""]
    assert decoded.request.id == "r1"
    assert decoded.binary(("label", "probabilities")) == {
        "label",
        "probabilities",
    }  # all: no outputs named

    bools = {
        "a": np.array([True, False]),
        "b": np.array([0, 1], dtype=np.uint8),
        "c": np.array([1.0, 2.0], dtype=np.float16),
    }
    body, size = _triton_body(bools)
    columns = v2_binary.decode_infer(body, str(size).encode(), FEATURES).request.columns
    assert columns["a"].tolist() == [True, False] and columns["c"].dtype == np.float16

    table = np.arange(6, dtype=np.float64).reshape(2, 3)  # one 2-D tensor in signature order
    body, size = _triton_body({"input": table})
    columns = v2_binary.decode_infer(body, str(size).encode(), FEATURES).request.columns
    assert columns["c"].tolist() == [2.0, 5.0]
    with pytest.raises(SignatureError, match="4 columns"):
        body, size = _triton_body({"input": np.zeros((2, 4))})
        v2_binary.decode_infer(body, str(size).encode(), FEATURES)


def test_output_choice() -> None:
    import tritonclient.http as triton

    tensor = triton.InferInput("a", [1], "FP64")
    tensor.set_data_from_numpy(np.array([1.0]), binary_data=False)
    body, size = triton.InferenceServerClient.generate_request_body(
        [tensor],
        outputs=[
            triton.InferRequestedOutput("label", binary_data=False),
            triton.InferRequestedOutput("probabilities"),
        ],
    )
    assert size is None  # all JSON in, so no header: the body alone says what to return
    decoded = v2_binary.decode_infer(body, None, FEATURES)
    assert decoded.binary(("label", "probabilities")) == {"probabilities"}
    plain = {"inputs": [{"name": "a", "datatype": "FP64", "shape": [1], "data": [1.0]}]}
    decoded = v2_binary.decode_infer(orjson.dumps(plain), None, FEATURES)
    assert decoded.binary(("label",)) == frozenset()


@pytest.mark.parametrize(
    "labels",
    [
        np.array([0, 1, 1]),
        np.array(["no", "yes", "ü"], dtype=object),
        np.array([True, False, True]),
    ],
)
def test_responses_parse_with_tritonclient(labels: np.ndarray[Any, Any]) -> None:
    import tritonclient.http as triton

    proba = np.array([[0.25, 0.75], [0.5, 0.5], [1 / 3, 2 / 3]])
    outputs = Outputs(labels, proba, (0, 1))
    for binary in ({"label", "probabilities"}, {"label"}, {"probabilities"}, set()):
        body, size = v2_binary.encode_infer(
            "m", "1", "id", outputs, ("label", "probabilities"), binary
        )
        assert (size is None) == (not binary)
        result = triton.InferenceServerClient.parse_response_body(body, header_length=size)
        expected = labels.tolist()
        if labels.dtype == object and "label" in binary:  # binary BYTES come back as bytes
            expected = [v.encode() for v in expected]
        assert result.as_numpy("label").tolist() == expected
        np.testing.assert_array_equal(result.as_numpy("probabilities"), proba)  # bit for bit


def _header(body: bytes) -> bytes:
    return str(len(body)).encode()


def _binary_input(name: str, datatype: str, shape: list[int], size: Any) -> dict[str, Any]:
    return {
        "name": name,
        "datatype": datatype,
        "shape": shape,
        "parameters": {"binary_data_size": size},
    }


def _body(inputs: list[dict[str, Any]], raw: bytes = b"", **extra: Any) -> tuple[bytes, bytes]:
    header = json.dumps({"inputs": inputs, **extra}).encode()  # orjson refuses 10**30
    return header + raw, str(len(header)).encode()


FP64_2 = struct.pack("<2d", 1.0, 2.0)
GARBAGE: list[tuple[str, bytes, bytes | None, str]] = [
    ("header not a number", b"{}", b"abc", "must be a non-negative integer"),
    ("header negative", b"{}", b"-1", "must be a non-negative integer"),
    ("header longer than body", b"{}", b"99", "the body has only 2"),
    ("header huge", b"{}", b"9" * 40, "must be a non-negative integer"),
    ("header splits the JSON", b'{"inputs": []}', b"5", "not valid JSON"),
    ("header not UTF-8", b"\xff\xfe{}", b"4", "not valid JSON"),
    ("JSON header is a list", b"[1]", b"3", "JSON object"),
    (
        "size negative",
        *_body([_binary_input("a", "FP64", [2], -16)], FP64_2),
        "non-negative integer",
    ),
    (
        "size a string",
        *_body([_binary_input("a", "FP64", [2], "16")], FP64_2),
        "non-negative integer",
    ),
    (
        "size a bool",
        *_body([_binary_input("a", "FP64", [1], True)], FP64_2),
        "non-negative integer",
    ),
    ("size huge", *_body([_binary_input("a", "FP64", [2], 2**62)], FP64_2), "only 16 bytes"),
    ("size past 64 bits", *_body([_binary_input("a", "FP64", [2], 10**30)], FP64_2), "non-neg"),
    ("size past the end", *_body([_binary_input("a", "FP64", [2], 17)], FP64_2), "only 16 bytes"),
    ("truncated binary", *_body([_binary_input("a", "FP64", [2], 16)], FP64_2[:9]), "only 9 bytes"),
    ("bytes left over", *_body([_binary_input("a", "FP64", [1], 8)], FP64_2), "8 bytes after"),
    (
        "size not the shape's",
        *_body([_binary_input("a", "FP64", [3], 16)], FP64_2),
        "takes 24 bytes",
    ),
    (
        "huge shape",
        *_body([_binary_input("a", "FP64", [10**12, 10**12], 16)], FP64_2),
        "but binary_data_size is 16",
    ),
    (
        "negative shape",
        *_body([_binary_input("a", "FP64", [-2], 16)], FP64_2),
        "non-negative integers",
    ),
    (
        "unknown datatype",
        *_body([_binary_input("a", "FP128", [2], 16)], FP64_2),
        "unknown datatype",
    ),
    ("no name", *_body([_binary_input("", "FP64", [2], 16)], FP64_2), "needs a 'name'"),
    (
        "data and binary",
        *_body([{**_binary_input("a", "FP64", [2], 16), "data": [1, 2]}], FP64_2),
        "both 'data' and binary_data_size",
    ),
    ("BOOL byte 2", *_body([_binary_input("a", "BOOL", [2], 2)], b"\x01\x02"), "0 or 1"),
    (
        "BYTES cut in a length",
        *_body([_binary_input("a", "BYTES", [1], 3)], b"\x05\x00\x00"),
        "ends inside an element length",
    ),
    (
        "BYTES length past the end",
        *_body([_binary_input("a", "BYTES", [1], 6)], b"\xff\xff\xff\xffab"),
        "declares 4294967295 bytes",
    ),
    (
        "BYTES not UTF-8",
        *_body([_binary_input("a", "BYTES", [1], 6)], b"\x02\x00\x00\x00\xff\xfe"),
        "not valid UTF-8",
    ),
    (
        "BYTES count not the shape's",
        *_body([_binary_input("a", "BYTES", [2], 5)], b"\x01\x00\x00\x00x"),
        "holds 2 elements, but the binary data has 1",
    ),
    (
        "binary_data_output not a bool",
        *_body(
            [_binary_input("a", "FP64", [2], 16)], FP64_2, parameters={"binary_data_output": "yes"}
        ),
        "true or false",
    ),
    (
        "binary_data not a bool",
        *_body(
            [_binary_input("a", "FP64", [2], 16)],
            FP64_2,
            outputs=[{"name": "label", "parameters": {"binary_data": 1}}],
        ),
        "true or false",
    ),
    (
        "id not a string",
        *_body([_binary_input("a", "FP64", [2], 16)], FP64_2, id=7),
        "'id' must be a string",
    ),
    ("inputs missing", *_body([], b""), "'inputs' must be a non-empty array"),
    ("input not an object", *_body([7], b""), "must be an object"),  # type: ignore[list-item]
]


@pytest.mark.parametrize(("why", "body", "header", "message"), GARBAGE, ids=[g[0] for g in GARBAGE])
def test_codec_rejects_garbage(why: str, body: bytes, header: bytes | None, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as caught:
        v2_binary.decode_infer(body, header, FEATURES)
    assert not isinstance(caught.value, SignatureError), why  # 400, not 422


Test = Callable[[Any], Awaitable[None]]


def _serve(registry: Any, test: Test) -> None:
    app = build_app(registry, ["churn@champion", "numeric@champion"])

    async def main() -> None:
        async with client(app) as http, lifespan(app):
            await wait_ready(http)
            await test(http)

    asyncio.run(main())


def test_the_server_answers_garbage_with_400(registry_with_models: Any, churn_data: Any) -> None:
    X = rows(churn_data, 2)

    async def test(http: Any) -> None:
        infer = "/v2/models/churn/infer"
        for why, body, header, message in GARBAGE:
            headers = {} if header is None else {"inference-header-content-length": header.decode()}
            response = await http.post(infer, content=body, headers=headers)
            assert response.status_code == 400, (why, response.text)
            assert message.split("'")[0] in response.json()["error"], why
            assert response.headers["content-type"] == "application/json"
        # A signature violation in binary form is a 422 naming the feature.
        inputs = per_feature(X.drop(columns=["age"]))["inputs"]
        first = inputs[0]  # tenure_months, sent as binary FP64
        raw = struct.pack("<2d", *map(float, first.pop("data")))
        inputs[0] = {**first, "datatype": "FP64", "parameters": {"binary_data_size": 16}}
        body, header = _body(inputs, raw)
        response = await http.post(
            infer, content=body, headers={"inference-header-content-length": header.decode()}
        )
        assert response.status_code == 422 and "missing feature 'age'" in response.json()["error"]
        # Binary outputs from a JSON request: octet-stream, with the JSON header's length.
        request = per_feature(X, parameters={"binary_data_output": True})
        response = await http.post(infer, json=request)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/octet-stream"
        length = int(response.headers["inference-header-content-length"])
        head = orjson.loads(response.content[:length])
        assert [o["parameters"]["binary_data_size"] for o in head["outputs"]] == [16, 32]
        assert len(response.content) == length + 48
        # Plain V2 is untouched: JSON in, JSON out.
        plain = await http.post(infer, json=per_feature(X))
        assert plain.headers["content-type"] == "application/json"
        assert "inference-header-content-length" not in plain.headers
        assert "binary_tensor_data" in (await http.get("/v2")).json()["extensions"]

    _serve(registry_with_models, test)
