"""KServe V1: routes, the request shapes (rows, records, columns), probabilities on request,
and errors as ``{"error": ...}`` with 400/404/422/503."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import orjson
import pytest
from _v2_helpers import client, lifespan, rows, wait_ready

from shipyard.errors import InvalidInputError, SignatureError
from shipyard.serving.protocols import v1
from shipyard.serving.server import build_app

Test = Callable[[Any], Awaitable[None]]


def serve(registry: Any, test: Test, *, start: bool = True) -> None:
    app = build_app(registry, ["churn@champion", "numeric@champion"])

    async def main() -> None:
        async with client(app) as http:
            if not start:
                await test(http)
                return
            async with lifespan(app):
                await wait_ready(http)
                await test(http)

    asyncio.run(main())


def _records(X: Any) -> list[dict[str, Any]]:
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
        for r in X.to_dict("records")
    ]


def test_routes_and_request_shapes(registry_with_models: Any, churn_data: Any) -> None:
    X = rows(churn_data, 6)
    champion = registry_with_models.load("churn@champion")
    forest = registry_with_models.load("churn/2")
    labels = champion.predict(X).tolist()
    records = _records(X)
    as_rows = [list(r.values()) for r in records]
    columns = {name: [r[name] for r in records] for name in X.columns}

    async def test(http: Any) -> None:
        assert (await http.get("/v1/models")).json() == {"models": ["churn", "numeric"]}
        assert (await http.get("/v1/models/churn")).json() == {"name": "churn", "ready": True}
        assert (await http.get("/v1/models/churn/versions/2")).json()["ready"] is True
        predict = "/v1/models/churn:predict"
        for body in (
            {"instances": as_rows},
            {"instances": records},
            {"inputs": as_rows},
            {"inputs": records},
            {"inputs": columns},
        ):
            response = await http.post(predict, json=body)
            assert response.status_code == 200, response.text
            assert response.json() == {"predictions": labels}
            assert response.headers["x-shipyard-model-version"] == "churn/1"
            assert len(response.headers["x-request-id"]) == 32
        one = await http.post(predict, json={"inputs": {k: v[0] for k, v in columns.items()}})
        assert one.json() == {"predictions": labels[:1]}  # scalars: a column of one row
        pinned = await http.post("/v1/models/churn/versions/2:predict", json={"instances": records})
        assert pinned.json() == {"predictions": forest.predict(X).tolist()}
        assert pinned.headers["x-shipyard-model-version"] == "churn/2"
        asked = {"instances": records, "parameters": {"output": "probabilities"}}
        proba = (await http.post(predict, json=asked)).json()["predictions"]
        np.testing.assert_allclose(proba, champion.predict_proba(X), atol=1e-5)
        labelled = {"instances": records, "parameters": {"output": "label"}}
        assert (await http.post(predict, json=labelled)).json()["predictions"] == labels
        given = await http.post(
            predict, json={"instances": records}, headers={"x-request-id": "v1-a"}
        )
        assert given.headers["x-request-id"] == "v1-a"

    serve(registry_with_models, test)


def test_errors(registry_with_models: Any, churn_data: Any) -> None:
    X = rows(churn_data, 2)
    records = _records(X)
    predict = "/v1/models/churn:predict"
    wrong = [{**r, "tenure_months": "long"} for r in records]
    short = [list(r.values())[:-1] for r in records]
    cases: list[tuple[str, str, Any, int, str]] = [
        ("POST", predict, b"{nope", 400, "not valid JSON"),
        ("POST", predict, b"\xff\xfe\x00", 400, "not valid UTF-8"),
        ("POST", predict, b"", 400, "not valid JSON"),
        ("POST", predict, b"[1, 2]", 400, "JSON object"),
        ("POST", predict, b'"text"', 400, "JSON object"),
        ("POST", predict, b"{}", 400, "neither"),
        ("POST", predict, orjson.dumps({"instances": records, "inputs": records}), 400, "both"),
        ("POST", predict, orjson.dumps({"instances": []}), 400, "non-empty array"),
        ("POST", predict, orjson.dumps({"instances": {"a": 1}}), 400, "non-empty array"),
        ("POST", predict, orjson.dumps({"instances": [1, 2]}), 400, "a row (an array)"),
        ("POST", predict, orjson.dumps({"instances": [records[0], [1]]}), 400, "must be an object"),
        (
            "POST",
            predict,
            orjson.dumps({"instances": [[1] * 10, {"a": 1}]}),
            400,
            "an array of values",
        ),
        ("POST", predict, orjson.dumps({"inputs": {}}), 400, "at least one feature"),
        (
            "POST",
            predict,
            orjson.dumps({"instances": [{**records[0], "age": [1, 2]}]}),
            400,
            "'age' at row 0",
        ),
        (
            "POST",
            predict,
            orjson.dumps({"instances": [{**records[0], "age": {"x": 1}}]}),
            400,
            "an object",
        ),
        (
            "POST",
            predict,
            orjson.dumps({"instances": records, "parameters": []}),
            400,
            "JSON object",
        ),
        (
            "POST",
            predict,
            orjson.dumps({"instances": records, "parameters": {"output": "x"}}),
            400,
            "output must be",
        ),
        (
            "POST",
            predict,
            b'{"instances": ' + b"[" * 5000 + b"]" * 5000 + b"}",
            400,
            "not valid JSON",
        ),
        (
            "POST",
            predict,
            orjson.dumps({"instances": short}),
            422,
            "has 9 values, but the model expects 10",
        ),
        (
            "POST",
            predict,
            orjson.dumps({"instances": wrong}),
            422,
            "'tenure_months' expects numbers",
        ),
        (
            "POST",
            predict,
            orjson.dumps({"instances": [{**r, "x": 1} for r in records]}),
            422,
            "unknown input 'x'",
        ),
        (
            "POST",
            predict,
            orjson.dumps(
                {"instances": [{k: v for k, v in r.items() if k != "age"} for r in records]}
            ),
            422,
            "missing feature 'age'",
        ),
        (
            "POST",
            predict,
            orjson.dumps({"instances": [records[0], {**records[1], "age": None}]}),
            422,
            "'age' is missing at row 1",
        ),
        (
            "POST",
            predict,
            orjson.dumps({"instances": [{**r, "age": True} for r in records]}),
            422,
            "'age' expects",
        ),
        ("POST", predict, b'{"instances": [[NaN, 1]]}', 422, "has 2 values"),
        (
            "POST",
            "/v1/models/fraud:predict",
            orjson.dumps({"instances": records}),
            404,
            "no model named 'fraud'",
        ),
        ("POST", "/v1/models/churn:transmogrify", b"{}", 404, "no route"),
        ("POST", "/v1/models/churn/versions/0:predict", b"{}", 404, "positive integers"),
        ("GET", "/v1/models/fraud", None, 404, "no model named 'fraud'"),
        ("GET", predict, None, 405, "use POST"),
        ("POST", "/v1/models", b"", 405, "use GET"),
    ]

    async def test(http: Any) -> None:
        for method, path, content, status, message in cases:
            response = await http.request(method, path, content=content)
            assert response.status_code == status, (path, content, response.text)
            assert message in response.json()["error"], (content, response.text)
        ok = await http.post(predict, json={"instances": records})
        assert ok.status_code == 200

    serve(registry_with_models, test)


def test_not_ready_is_503(registry_with_models: Any, churn_data: Any) -> None:
    async def test(http: Any) -> None:
        assert (await http.get("/v1/models")).status_code == 200
        assert (await http.get("/v1/models/churn")).status_code == 503
        response = await http.post("/v1/models/churn:predict", json={"instances": [[1] * 10]})
        assert response.status_code == 503 and "not ready" in response.json()["error"]

    serve(registry_with_models, test, start=False)


def test_codec() -> None:
    request = v1.decode_predict(
        b'{"instances": [[1, "a", true], [2.5, null, false]]}', ("x", "y", "z")
    )
    assert request.columns["x"].dtype == np.float64
    assert request.columns["y"].tolist() == ["a", None]
    assert request.columns["z"].dtype == bool and not request.proba
    mixed = v1.decode_predict(b'{"instances": [[true], [2]]}', ("x",)).columns["x"]
    assert (
        mixed.dtype == object
    )  # numpy would read [true, 2] as [1, 2]: validation must see the bool
    assert v1.decode_predict(b'{"instances": [1, 2, 3]}', ("x",)).columns["x"].tolist() == [1, 2, 3]
    nan = v1.decode_predict(b'{"inputs": {"x": [NaN, 1]}}', ("x",)).columns["x"]
    assert np.isnan(nan[0])
    with pytest.raises(SignatureError, match="in this order: x, y"):
        v1.decode_predict(b'{"instances": [[1]]}', ("x", "y"))
    with pytest.raises(InvalidInputError, match="must be a number, string, boolean or null"):
        v1.decode_predict(b'{"instances": [[[1, 2]]]}', ("x",))
    huge = v1.decode_predict(b'{"instances": [[123456789012345678901234567890]]}', ("x",))
    assert huge.columns["x"].tolist() == [1.2345678901234568e29]  # orjson reads it as a float


def test_many_unknown_keys_stay_cheap() -> None:
    records = [{f"k{i}_{j}": 1 for j in range(50)} for i in range(2000)]  # 100,000 distinct keys
    columns = v1.decode_predict(orjson.dumps({"instances": records}), ("x", "y")).columns
    assert len(columns) == 8  # enough for validation to name the unknown inputs


def _mutate(body: bytes, rng: random.Random) -> bytes:
    out = bytearray(body)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(out) + 1)
        op = rng.randrange(5)
        if op == 0:
            del out[at:]
        elif op == 1 and at < len(out):
            out[at] = rng.randrange(256)
        elif op == 2:
            out.insert(at, rng.choice(b'[]{}",:0123456789-.eEntrufalsNI\xff\x00'))
        elif op == 3:
            del out[at : at + rng.randint(1, 8)]
        else:
            out[at:at] = out[at : at + rng.randint(1, 20)]
    return bytes(out)


def test_mutated_bodies_never_get_a_5xx(registry_with_models: Any, churn_data: Any) -> None:
    """Valid V1, MLflow and Triton binary bodies, cut, flipped and spliced at random."""
    import tritonclient.http as triton

    X = rows(churn_data, 3)
    records = _records(X)
    inputs = []
    for name in X.columns:
        kind = "FP64" if X[name].dtype.kind in "iuf" else "BYTES"
        values = X[name].to_numpy(dtype=np.float64 if kind == "FP64" else object)
        tensor = triton.InferInput(name, [3], kind)
        tensor.set_data_from_numpy(values)
        inputs.append(tensor)
    binary, json_size = triton.InferenceServerClient.generate_request_body(inputs)
    seeds: list[tuple[str, dict[str, str], bytes]] = [
        ("/v1/models/churn:predict", {}, orjson.dumps({"instances": records})),
        (
            "/v1/models/churn:predict",
            {},
            orjson.dumps({"instances": [list(r.values()) for r in records]}),
        ),
        (
            "/invocations",
            {"content-type": "application/json"},
            X.to_json(orient="split").join(['{"dataframe_split": ', "}"]).encode(),
        ),
        ("/invocations", {"content-type": "text/csv"}, X.to_csv().encode()),
        ("/v2/models/churn/infer", {"inference-header-content-length": str(json_size)}, binary),
    ]

    async def test(http: Any) -> None:
        rng = random.Random(3)
        for _ in range(600):
            path, headers, body = rng.choice(seeds)
            response = await http.post(path, content=_mutate(body, rng), headers=headers)
            assert response.status_code < 500, (path, response.text)

    serve(registry_with_models, test)
