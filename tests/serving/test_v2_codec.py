"""The V2 codec as pure functions: bytes in, columns out; outputs in, bytes out."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from shipyard.errors import InvalidInputError, SignatureError
from shipyard.serving.predictor import Outputs
from shipyard.serving.protocols import v2

FEATURES = ("a", "b", "c")


def decode(body: Any, features: tuple[str, ...] = FEATURES) -> v2.InferRequest:
    return v2.decode_infer(orjson.dumps(body), features)


def one(datatype: str, data: list[Any], shape: list[int] | None = None) -> Any:
    request = decode(
        {
            "inputs": [
                {"name": "a", "datatype": datatype, "shape": shape or [len(data)], "data": data}
            ]
        },
        ("a",),
    )
    return request.columns["a"]


@pytest.mark.parametrize(
    ("datatype", "data", "dtype"),
    [
        ("BOOL", [True, False], np.bool_),
        ("INT8", [-128, 127], np.int8),
        ("INT16", [-5, 300], np.int16),
        ("INT32", [7, 2**31 - 1], np.int32),
        ("INT64", [-(2**63), 2**63 - 1], np.int64),
        ("UINT8", [0, 255], np.uint8),
        ("UINT16", [1, 65535], np.uint16),
        ("UINT32", [1, 2**32 - 1], np.uint32),
        ("UINT64", [1, 2**64 - 1], np.uint64),
        ("FP16", [0.5, 1.5], np.float16),
        ("FP32", [0.25, 3], np.float32),
        ("FP64", [0.1, -2], np.float64),
        ("BYTES", ["x", "y"], object),
    ],
)
def test_every_datatype_decodes_to_its_numpy_type(
    datatype: str, data: list[Any], dtype: Any
) -> None:
    column = one(datatype, data)
    assert column.dtype == np.dtype(dtype)
    assert column.tolist() == data


def test_request_fields_and_nested_data() -> None:
    flat = decode(
        {
            "id": "r-1",
            "parameters": {"k": 1},
            "outputs": [{"name": "label"}],
            "inputs": [
                {"name": "t", "datatype": "FP64", "shape": [2, 3], "data": [1, 2, 3, 4, 5, 6]}
            ],
        }
    )
    nested = decode(
        {
            "inputs": [
                {"name": "t", "datatype": "FP64", "shape": [2, 3], "data": [[1, 2, 3], [4, 5, 6]]}
            ]
        }
    )
    assert flat.id == "r-1" and flat.parameters == {"k": 1} and flat.outputs == ("label",)
    assert nested.id is None and nested.outputs is None
    for request in (flat, nested):  # one 2-D tensor: its columns are the features, in order
        assert {k: v.tolist() for k, v in request.columns.items()} == {
            "a": [1, 4],
            "b": [2, 5],
            "c": [3, 6],
        }


def test_per_feature_inputs_take_rows_or_rows_by_one() -> None:
    request = decode(
        {
            "inputs": [
                {"name": "a", "datatype": "INT64", "shape": [2], "data": [1, 2]},
                {"name": "b", "datatype": "BYTES", "shape": [2, 1], "data": [["x"], ["y"]]},
                {"name": "zzz", "datatype": "FP32", "shape": [2], "data": [1, 2]},
            ]
        }
    )
    assert request.columns["b"].tolist() == ["x", "y"]
    assert "zzz" in request.columns  # unknown inputs are for validation to name (422)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"{}", "'inputs' must be a non-empty array"),
        (b'{"inputs": [], "id": 5}', "'id' must be a string"),
        (b'{"inputs": [1]}', "inputs[0] must be an object"),
        (b'{"inputs": [{"datatype": "FP64", "shape": [1], "data": [1]}]}', "needs a 'name'"),
        (
            b'{"inputs": [{"name": "a", "datatype": "FP8", "shape": [1], "data": [1]}]}',
            "unknown datatype 'FP8'",
        ),
        (
            b'{"inputs": [{"name": "a", "datatype": "FP64", "shape": [-1], "data": [1]}]}',
            "non-negative integers",
        ),
        (
            b'{"inputs": [{"name": "a", "datatype": "FP64", "shape": [1], "data": 1}]}',
            "'data' must be an array",
        ),
        (
            b'{"inputs": [{"name": "a", "datatype": "FP64", "shape": [2, 3], "data": [1, 2]}]}',
            "shape [2, 3] holds 6 elements, but 'data' has 2",
        ),
        (
            b'{"inputs": [{"name": "a", "datatype": "FP64", "shape": [2], "data": ["1", "2"]}]}',
            "must be numbers, got text",
        ),
        (
            b'{"inputs": [{"name": "a", "datatype": "FP64", "shape": [1], "data": [{}]}]}',
            "must be numbers or null",
        ),
        (
            b'{"inputs": [{"name": "a", "datatype": "INT64", "shape": [2], "data": [true, false]}]}',
            "must be numbers, got booleans",
        ),
        (
            b'{"inputs": [{"name": "a", "datatype": "INT64", "shape": [1], "data": [1.5]}]}',
            "must be whole numbers",
        ),
        (
            b'{"inputs": [{"name": "a", "datatype": "INT8", "shape": [1], "data": [128]}]}',
            "must lie in [-128, 127]",
        ),
        (
            b'{"inputs": [{"name": "a", "datatype": "UINT8", "shape": [1], "data": [-1]}]}',
            "must lie in [0, 255]",
        ),
        (
            b'{"inputs": [{"name": "a", "datatype": "INT64", "shape": [1], "data": [null]}]}',
            "use an FP datatype",
        ),
        (
            b'{"inputs": [{"name": "a", "datatype": "INT64", "shape": [1], "data": [99999999999999999999999]}]}',
            "must lie in [-9223372036854775808",
        ),
        (
            b'{"inputs": [{"name": "a", "datatype": "BOOL", "shape": [1], "data": [1]}]}',
            "true, false or null",
        ),
        (
            b'{"inputs": [{"name": "a", "datatype": "BYTES", "shape": [1], "data": [1]}]}',
            "must be strings, got 1",
        ),
        (
            b'{"inputs": [{"name": "t", "datatype": "FP64", "shape": [3], "data": [1, 2, 3]}]}',
            "must be one 2-D tensor",
        ),
        (
            b'{"inputs": [{"name": "a", "datatype": "FP64", "shape": [1, 2], "data": [1, 2]}, {"name": "b", "datatype": "FP64", "shape": [1], "data": [1]}]}',
            "has shape [1, 2]; a per-feature input",
        ),
        (
            b'{"inputs": [{"name": "a", "datatype": "FP64", "shape": [1], "data": [1]}, {"name": "a", "datatype": "FP64", "shape": [1], "data": [1]}]}',
            "given twice",
        ),
        (
            b'{"inputs": [{"name": "a", "datatype": "FP64", "shape": [1], "data": [1]}], "outputs": ["label"]}',
            "'outputs' must be an array of objects",
        ),
        (
            b'{"inputs": [{"name": "a", "datatype": "FP64", "shape": [1], "data": [1]}], "parameters": []}',
            "'parameters' must be a JSON object",
        ),
    ],
)
def test_protocol_errors_are_invalid_input_with_a_message(body: bytes, message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        v2.decode_infer(body, FEATURES)
    assert not isinstance(info.value, SignatureError)
    assert message in str(info.value)


def test_a_tensor_of_the_wrong_width_is_a_signature_error() -> None:
    with pytest.raises(SignatureError, match="2 columns, but the model expects 3 features"):
        decode({"inputs": [{"name": "t", "datatype": "FP64", "shape": [1, 2], "data": [1, 2]}]})


def test_nulls_and_overflow_reach_validation() -> None:
    assert np.isnan(one("FP64", [1.0, None])[1])
    assert one("BOOL", [True, None]).tolist() == [True, None]
    assert one("BYTES", ["x", None]).tolist() == ["x", None]
    assert np.isinf(one("FP16", [1e10])[0])  # no warning: validation refuses the infinity
    assert one("FP64", []).shape == (0,)


def test_output_selection() -> None:
    available = ("label", "probabilities")
    assert v2.select_outputs(None, available) == available
    assert v2.select_outputs(("probabilities",), available) == ("probabilities",)
    with pytest.raises(InvalidInputError, match=r"unknown output 'score'; .* label, probabilities"):
        v2.select_outputs(("score",), available)


def test_encoded_bodies_follow_the_oip_schema(oip: Any) -> None:
    outputs = Outputs(np.array([0, 1]), np.array([[0.75, 0.25], [0.5, 0.5]]), (0, 1))
    body = orjson.loads(v2.encode_infer("churn", "3", "abc", outputs, ("label", "probabilities")))
    oip("inference_response", body)
    assert body["model_version"] == "3" and body["id"] == "abc"
    assert body["outputs"][0] == {
        "name": "label",
        "datatype": "INT64",
        "shape": [2],
        "data": [0, 1],
    }
    assert body["outputs"][1]["shape"] == [2, 2]
    assert body["outputs"][1]["data"] == [0.75, 0.25, 0.5, 0.5]
    text = Outputs(np.array(["yes", "no"], dtype=object))
    body = orjson.loads(v2.encode_infer("m", "1", "x", text, ("label",)))
    assert body["outputs"] == [
        {"name": "label", "datatype": "BYTES", "shape": [2], "data": ["yes", "no"]}
    ]
    oip("metadata_server_response", orjson.loads(v2.server_metadata("1.0")))
    oip("inference_error_response", orjson.loads(v2.encode_error("bad")))


# -- the one-2-D-tensor fast path: the matrix kept whole, converted by one np.asarray ----------


def _general(datatype: str, shape: list[int], data: list[Any]) -> Any:
    """What the element-by-element path makes of a tensor (flatten, count, convert), or the
    error it raises: the reference the fast conversion must match."""
    import math

    flat = v2._flatten(data)
    if len(flat) != math.prod(shape):
        raise InvalidInputError("count")
    return v2._array("t", datatype, v2.DATATYPES[datatype], flat)


@pytest.mark.parametrize(
    ("datatype", "shape", "data"),
    [
        ("FP64", [2, 3], [1.5, 2, 3, 4, 5, 6.25]),  # flat, ints and floats mixed
        ("FP64", [2, 3], [[1.5, 2, 3], [4, 5, 6.25]]),  # a list of rows
        ("FP64", [2, 3], [[1, 2], [3, 4], [5, 6]]),  # regular, but not the shape: row-major
        ("FP64", [1, 3], [1, 2, 3]),  # all integers
        ("FP64", [1, 3], [1.0, True, 3.0]),  # numpy reads a bool among numbers as one
        ("FP32", [1, 3], [1e39, 2.0, 3.0]),  # overflow to inf: validation refuses it
        ("FP16", [2, 3], [[1, 2, 3], [4, 5, 6]]),
        ("FP64", [1, 3], [1.0, None, 3.0]),  # null: the element path (NaN)
        ("FP64", [2, 3], [[[1, 2, 3]], [[4, 5, 6]]]),  # deeper nesting: the element path
        ("FP64", [1, 3], [1.0, [2.0], 3.0]),  # mixed nesting: the element path
        ("FP64", [1, 3], [2**70, 1, 2]),  # beyond uint64: the element path
        ("FP64", [1, 0], [[]]),
    ],
)
def test_fast_conversion_equals_the_element_path(
    datatype: str, shape: list[int], data: list[Any]
) -> None:
    item = {"name": "t", "datatype": datatype, "shape": shape, "data": data}
    _, _, fast = v2._tensor(item, 0)
    expected = _general(datatype, shape, data)
    assert fast.dtype == expected.dtype and fast.shape == expected.shape
    np.testing.assert_array_equal(fast, expected)


@pytest.mark.parametrize(
    ("datatype", "shape", "data", "taken"),
    [
        ("FP64", [2, 3], [1.5, 2, 3, 4, 5, 6.25], True),  # flat, ints and floats mixed
        ("FP64", [2, 3], [[1.5, 2, 3], [4, 5, 6.25]], True),  # a list of rows
        ("FP64", [2, 3], [[1, 2], [3, 4], [5, 6]], True),  # regular, but not the shape
        ("FP64", [1, 3], [1, 2, 3], True),  # all integers
        ("FP64", [1, 3], [1.0, True, 3.0], True),  # numpy reads a bool among numbers as one
        ("FP64", [1, 3], [1e308, 1e308, -1e308], True),  # huge, but finite
        ("FP32", [1, 3], [1.0, 2.0, 3.0], False),  # not FP64: a cast may overflow
        ("FP64", [1, 3], [1.0, None, 3.0], False),  # null
        ("FP64", [2, 3], [[[1, 2, 3]], [[4, 5, 6]]], False),  # deeper nesting
        ("FP64", [1, 3], [1.0, [2.0], 3.0], False),  # mixed nesting
        ("FP64", [1, 3], [2**64 - 1, -1, 2], True),  # uint64's top and a negative: float64
        ("FP64", [1, 3], [True, False, True], False),  # booleans
        ("FP64", [1, 3], ["1", "2", "3"], False),  # text
        ("FP64", [2, 3], [1, 2, 3, 4, 5], False),  # too few
        ("FP64", [1, 4], [1, 2, 3, 4], False),  # the wrong width: a signature error
        ("FP64", [3], [1, 2, 3], False),  # one dimension
    ],
)
def test_the_dense_shortcut_takes_only_what_the_general_path_decodes_the_same(
    datatype: str, shape: list[int], data: list[Any], taken: bool
) -> None:
    """One FP64 [rows, features] tensor is decoded by a shortcut and marked finite; it must
    take nothing the general path would refuse or decode differently."""
    item = {"name": "t", "datatype": datatype, "shape": shape, "data": data}
    dense = v2._dense(item, FEATURES)
    assert (dense is not None) == taken
    try:  # the shortcut when it takes it, else the general path (which may refuse it)
        request = decode({"inputs": [item]})
    except InvalidInputError:
        assert not taken
        return
    assert request.finite == taken
    if dense is not None:
        _, _, flat = v2._tensor(item, 0)
        expected = v2._matrix("t", shape, flat, FEATURES)
        assert dense.dtype == expected.dtype == np.float64 and dense.shape == expected.shape
        np.testing.assert_array_equal(dense, expected)
        np.testing.assert_array_equal(request.matrix, expected)
        assert np.isfinite(dense).all()


def test_a_tensor_named_after_a_feature_is_never_the_dense_shortcut() -> None:
    item = {"name": "b", "datatype": "FP64", "shape": [1, 3], "data": [1.0, 2.0, 3.0]}
    assert v2._dense(item, FEATURES) is None
    with pytest.raises(InvalidInputError, match="input 'b' has shape \\[1, 3\\]"):
        decode({"inputs": [item]})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([[1.0, 2.0, 3.0], [4.0, 5.0]], "shape [2, 3] holds 6 elements, but 'data' has 5"),
        ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], "holds 6 elements, but 'data' has 7"),
        ([[1.0, 2.0], [3.0, 4.0]], "holds 6 elements, but 'data' has 4"),
        (["1.0", "2", "3", "4", "5", "6"], "FP64 elements must be numbers, got text"),
        ([True, False, True, False, True, False], "FP64 elements must be numbers, got booleans"),
        ([1.0, 2.0, 3.0, 4.0, 5.0, "6"], "FP64 elements must be numbers, got text"),
        ([[1.0, 2.0, 3.0], [4.0, 5.0, {"x": 1}]], "must be numbers or null"),
    ],
)
def test_bad_matrix_data_gets_the_element_paths_error(data: list[Any], message: str) -> None:
    body = {"inputs": [{"name": "t", "datatype": "FP64", "shape": [2, 3], "data": data}]}
    with pytest.raises(InvalidInputError) as info:
        decode(body)
    assert not isinstance(info.value, SignatureError)
    assert message in str(info.value)


def test_one_2d_tensor_is_kept_as_a_matrix_with_column_views() -> None:
    request = decode(
        {"inputs": [{"name": "t", "datatype": "FP64", "shape": [2, 3], "data": [1, 2, 3, 4, 5, 6]}]}
    )
    assert request.matrix is not None
    assert request.matrix.shape == (2, 3) and request.matrix.dtype == np.float64
    assert request.matrix.flags.c_contiguous
    assert list(request.columns) == list(FEATURES)
    assert request.columns["b"].tolist() == [2.0, 5.0]
    per_feature = decode(
        {"inputs": [{"name": "a", "datatype": "FP64", "shape": [1], "data": [1.0]}]}, ("a",)
    )
    assert per_feature.matrix is None  # one tensor named after a feature is a column
    assert per_feature.columns["a"].tolist() == [1.0]


def test_the_matrix_path_still_refuses_what_validation_refuses() -> None:
    """decode + validate on one 2-D tensor: non-finite values and types fail naming the
    feature, as they do for per-feature columns."""
    from shipyard.registry.signature import FeatureSpec, Signature
    from shipyard.serving.frame import validate_columns

    signature = Signature(
        inputs=tuple(FeatureSpec(f, "float64", "numeric", False) for f in FEATURES)
    )
    body = {
        "inputs": [
            {"name": "t", "datatype": "FP64", "shape": [2, 3], "data": [1, 2, 3, 4, None, 6]}
        ]
    }
    request = decode(body)
    assert request.matrix is not None
    with pytest.raises(SignatureError) as info:
        validate_columns(signature, request.matrix)
    assert info.value.feature == "b" and "'b' is missing at row 1" in str(info.value)
    body["inputs"][0]["datatype"] = "FP16"
    body["inputs"][0]["data"] = [1, 2, 3, 4, 5, 1e6]  # FP16 overflow: infinity
    overflowed = decode(body).matrix
    assert overflowed is not None
    with pytest.raises(SignatureError, match="'c' is not finite at row 1"):
        validate_columns(signature, overflowed)


def test_encoding_picks_wire_datatypes_by_dtype() -> None:
    outputs = Outputs(np.array(["yes", "no"]), np.array([[0.25, 0.75], [0.5, 0.5]]), ("no", "yes"))
    for _ in range(2):  # the second time from the remembered '<U3'
        body = orjson.loads(v2.encode_infer("m", "1", "r", outputs, ("label", "probabilities")))
        label, proba = body["outputs"]
        assert label == {"name": "label", "datatype": "BYTES", "shape": [2], "data": ["yes", "no"]}
        assert proba["datatype"] == "FP64" and proba["data"] == [0.25, 0.75, 0.5, 0.5]
    ints = orjson.loads(v2.encode_infer("m", "1", "r", Outputs(np.array([1, 0])), ("label",)))
    assert ints["outputs"][0]["datatype"] == "INT64" and ints["outputs"][0]["data"] == [1, 0]
