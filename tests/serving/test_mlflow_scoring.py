"""The MLflow scoring protocol: bodies exactly as MLflow's client builds them, CSV, the model
header, health and version routes, and errors in MLflow's shape."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import orjson
import pytest
from _v2_helpers import client, lifespan, rows, wait_ready

from shipyard import __version__
from shipyard.errors import InvalidInputError
from shipyard.serving.background import BackgroundServer
from shipyard.serving.protocols import mlflow as codec
from shipyard.serving.server import build_app

Test = Callable[[Any], Awaitable[None]]
JSON = {"content-type": "application/json"}
CSV = {"content-type": "text/csv"}


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


def test_every_request_format(registry_with_models: Any, churn_data: Any) -> None:
    from mlflow.utils.proto_json_utils import dump_input_data

    X = rows(churn_data, 6)
    champion = registry_with_models.load("churn@champion")
    labels = champion.predict(X).tolist()
    records = json.loads(X.to_json(orient="records"))
    split = json.loads(X.to_json(orient="split"))
    bodies: list[tuple[dict[str, str], Any]] = [
        (JSON, dump_input_data(X)),  # what mlflow's clients send: dataframe_split with an index
        (JSON, json.dumps({"dataframe_split": {k: split[k] for k in ("columns", "data")}})),
        (JSON, json.dumps({"dataframe_split": {"data": split["data"]}})),  # signature order
        (JSON, json.dumps({"dataframe_records": records})),
        (JSON, json.dumps({"instances": records})),
        (JSON, json.dumps({"instances": split["data"]})),
        (JSON, json.dumps({"inputs": {c: X[c].tolist() for c in X.columns}})),
        (JSON, json.dumps({"inputs": records})),
        ({"content-type": "application/json; charset=utf-8"}, json.dumps({"instances": records})),
        (CSV, X.to_csv()),  # with the unnamed index column first
        (CSV, X.to_csv(index=False)),
        ({"content-type": "text/csv; charset=UTF-8"}, X.to_csv(index=False, lineterminator="\r\n")),
        (CSV, "\ufeff" + X.to_csv(index=False) + "\n\n"),  # a BOM, blank lines at the end
    ]

    async def test(http: Any) -> None:
        for headers, body in bodies:
            response = await http.post("/invocations", content=body, headers=headers)
            assert response.status_code == 200, (body, response.text)
            assert response.json() == {"predictions": labels}
            assert response.headers["x-shipyard-model-version"] == "churn/1"
        asked = dump_input_data(X, params={"output": "probabilities"})
        proba = (await http.post("/invocations", content=asked, headers=JSON)).json()
        np.testing.assert_allclose(proba["predictions"], champion.predict_proba(X), atol=1e-5)
        numeric = registry_with_models.load("numeric@champion")
        Xn = X[churn_data.numeric]
        named = {**JSON, "x-shipyard-model": "numeric"}
        response = await http.post("/invocations", content=dump_input_data(Xn), headers=named)
        assert response.json() == {"predictions": numeric.predict(Xn).tolist()}
        assert response.headers["x-shipyard-model-version"] == "numeric/1"

    serve(registry_with_models, test)


def test_missing_values_as_mlflow_writes_them(registry_with_models: Any, churn_data: Any) -> None:
    X = churn_data.X.head(200)
    holes = X[X.isna().any(axis=1)].head(3)
    assert len(holes), "the churn set has missing values"
    champion = registry_with_models.load("churn@champion")
    nullable = {f.name for f in champion.signature.inputs if f.nullable}
    assert set(holes.columns[holes.isna().any()]) <= nullable

    async def test(http: Any) -> None:
        from mlflow.utils.proto_json_utils import dump_input_data

        for headers, body in ((JSON, dump_input_data(holes)), (CSV, holes.to_csv(index=False))):
            assert "NaN" in body or ",," in body
            response = await http.post("/invocations", content=body, headers=headers)
            assert response.status_code == 200, response.text
            assert response.json()["predictions"] == champion.predict(holes).tolist()

    serve(registry_with_models, test)


def test_health_version_and_errors(registry_with_models: Any, churn_data: Any) -> None:
    X = rows(churn_data, 2)
    records = json.loads(X.to_json(orient="records"))
    good = json.dumps({"dataframe_records": records})
    csv_text = X.to_csv(index=False)
    cases: list[tuple[dict[str, str], Any, int, str, str]] = [
        (JSON, b"{nope", 400, "BAD_REQUEST", "not valid JSON"),
        (JSON, b"\xff\xfe", 400, "BAD_REQUEST", "not valid UTF-8"),
        (JSON, b"[1, 2]", 400, "BAD_REQUEST", "received a list"),
        (JSON, b"{}", 400, "BAD_REQUEST", "exactly one of the fields"),
        (
            JSON,
            json.dumps({"instances": records, "inputs": records}),
            400,
            "BAD_REQUEST",
            "exactly one",
        ),
        (
            JSON,
            json.dumps({"dataframe_split": {"columns": ["a"]}}),
            400,
            "BAD_REQUEST",
            "at least one row",
        ),
        (
            JSON,
            json.dumps({"dataframe_split": {"columns": [1], "data": [[1]]}}),
            400,
            "BAD_REQUEST",
            "names (strings)",
        ),
        (
            JSON,
            json.dumps({"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}),
            400,
            "BAD_REQUEST",
            "'a' twice",
        ),
        (
            JSON,
            json.dumps({"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}}),
            400,
            "BAD_REQUEST",
            "1 columns are named",
        ),
        (
            JSON,
            json.dumps({"dataframe_split": {"data": [[1]]}}),
            422,
            "INVALID_PARAMETER_VALUE",
            "expects 10 features",
        ),
        (JSON, json.dumps({"dataframe_records": [1]}), 400, "BAD_REQUEST", "array of objects"),
        (
            JSON,
            json.dumps({"dataframe_records": records, "params": {"output": "x"}}),
            400,
            "BAD_REQUEST",
            "params.output",
        ),
        (
            JSON,
            json.dumps({"dataframe_records": records, "params": [1]}),
            400,
            "BAD_REQUEST",
            "JSON object",
        ),
        (
            JSON,
            json.dumps({"dataframe_records": [{**records[0], "age": "old"}]}),
            422,
            "INVALID_PARAMETER_VALUE",
            "'age' expects",
        ),
        (
            JSON,
            json.dumps({"dataframe_records": [{**records[0], "x": 1}]}),
            422,
            "INVALID_PARAMETER_VALUE",
            "unknown input 'x'",
        ),
        (CSV, b"", 400, "BAD_REQUEST", "CSV body is empty"),
        (CSV, b"\xff\xfe", 400, "BAD_REQUEST", "not valid UTF-8"),
        (CSV, b'a,b\n"1,2\n', 400, "BAD_REQUEST", "cannot be parsed"),
        (CSV, b"a,,b\n1,2,3\n", 400, "BAD_REQUEST", "name each column once"),
        (CSV, b"a,a\n1,2\n", 400, "BAD_REQUEST", "name each column once"),
        (CSV, csv_text + "1,2,3,4,5,6,7,8,9,10,11\n", 400, "BAD_REQUEST", "row 4 has 11 fields"),
        (
            CSV,
            X.assign(x=1).to_csv(index=False),
            422,
            "INVALID_PARAMETER_VALUE",
            "unknown input",
        ),
        (
            CSV,
            csv_text + "abc," + csv_text.splitlines()[1].partition(",")[2] + "\n",
            422,
            "INVALID_PARAMETER_VALUE",
            "'tenure_months' expects numbers, got 'abc' at row 2",
        ),
        (CSV, csv_text.splitlines()[0] + "\n", 422, "INVALID_PARAMETER_VALUE", "empty input"),
        (CSV, b"a\n" + b"x" * 200_000 + b"\n", 400, "BAD_REQUEST", "cannot be parsed"),
        ({}, good, 415, "BAD_REQUEST", "only supports the content types"),
        (
            {"content-type": "application/x-www-form-urlencoded"},
            good,
            415,
            "BAD_REQUEST",
            "content types",
        ),
        (
            {"content-type": "application/json; charset=latin-1"},
            good,
            415,
            "BAD_REQUEST",
            "only supports UTF-8",
        ),
        (
            {"content-type": "application/json; format=pandas-split"},
            good,
            415,
            "BAD_REQUEST",
            "'format'",
        ),
        (
            {**JSON, "x-shipyard-model": "fraud"},
            good,
            404,
            "RESOURCE_DOES_NOT_EXIST",
            "no model named 'fraud'",
        ),
        (
            {**JSON, "x-shipyard-model": "numeric"},
            good,
            422,
            "INVALID_PARAMETER_VALUE",
            "unknown input",
        ),
    ]

    async def test(http: Any) -> None:
        for path in ("/ping", "/health"):
            response = await http.get(path)
            assert response.status_code == 200 and response.text == "\n"
        assert (await http.get("/version")).text == __version__
        for headers, body, status, code, message in cases:
            response = await http.post("/invocations", content=body, headers=headers)
            assert response.status_code == status, (body, response.text)
            error = response.json()
            assert set(error) == {"error_code", "message"} and error["error_code"] == code
            assert message in error["message"], (body, error)
        assert (await http.get("/invocations")).status_code == 405
        assert (await http.post("/invocations", content=good, headers=JSON)).status_code == 200

    serve(registry_with_models, test)


def test_not_ready(registry_with_models: Any) -> None:
    async def test(http: Any) -> None:
        for path in ("/ping", "/health"):
            response = await http.get(path)
            assert response.status_code == 503
            assert response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
        body = json.dumps({"instances": [[1] * 10]})
        response = await http.post("/invocations", content=body, headers=JSON)
        assert response.status_code == 503 and "not ready" in response.json()["message"]

    serve(registry_with_models, test, start=False)


def test_bodies_over_the_limit(registry_with_models: Any, churn_data: Any) -> None:
    app = build_app(registry_with_models, ["churn@champion"], max_body_bytes=1000)
    body = rows(churn_data, 50).to_csv(index=False)

    async def main() -> None:
        async with client(app) as http, lifespan(app):
            await wait_ready(http)
            response = await http.post("/invocations", content=body, headers=CSV)
            assert response.status_code == 413
            assert response.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"

    asyncio.run(main())


def test_csv_reads_values_by_feature_kind() -> None:
    kinds = {"n": "numeric", "b": "boolean", "c": "categorical"}
    body = b"n,b,c\n1,true,01\n2.5,False,NA\n,1,x\nabc,maybe,\n"
    columns = codec.decode_invocation(body, "text/csv", ("n", "b", "c"), kinds).columns
    assert columns["n"].tolist() == [1, 2.5, None, "abc"]
    assert columns["b"].tolist() == [True, False, 1, "maybe"]
    assert columns["c"].tolist() == ["01", None, "x", None]  # text stays text
    short = codec.decode_invocation(b"n,c\n1\n", "text/csv", ("n", "c"), kinds).columns
    assert short["c"].tolist() == [None]  # as pandas: a short row is missing its last values
    with pytest.raises(codec.UnsupportedMediaTypeError):
        codec.decode_invocation(b"", "application/vnd.apache.parquet", ("n",), kinds)
    with pytest.raises(InvalidInputError, match="received a str"):
        codec.decode_invocation(orjson.dumps("x"), "application/json", ("n",), kinds)


# Importing mlflow.pyfunc (for its client) makes mlflow infer schemas for its own chat types,
# which warns about an `Any` hint inside mlflow; the message starts with a colour escape.
@pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning")
def test_mlflows_own_client(registry_with_models: Any, churn_data: Any) -> None:
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient

    X = rows(churn_data, 5)
    champion = registry_with_models.load("churn@champion")
    app = build_app(registry_with_models, ["churn@champion"])
    with BackgroundServer(app, loop="uvloop") as url:
        scoring = ScoringServerClient("127.0.0.1", int(url.rpartition(":")[2]))
        scoring.wait_server_ready(timeout=60)
        assert scoring.get_version() == __version__
        labels = scoring.invoke(X).get_predictions(predictions_format="ndarray")
        assert labels.tolist() == champion.predict(X).tolist()
        proba = scoring.invoke(X, params={"output": "probabilities"})
        expected = champion.predict_proba(X)
        np.testing.assert_allclose(proba.get_predictions("ndarray"), expected, atol=1e-5)
        with pytest.raises(Exception, match=r"error code 422.*missing feature 'age'"):
            scoring.invoke(X.drop(columns=["age"]))
