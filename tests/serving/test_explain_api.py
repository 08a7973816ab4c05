"""The explain handlers: V1 and records bodies in, predictions with attributions out."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipyard.serving.explain_api import MAX_ROWS, explain_records, explain_v1
from shipyard.serving.predictor import Predictor


@pytest.fixture
def forest(serving_registry: Any, churn_data: Any, churn_models: Any) -> Predictor:
    version = serving_registry.register(
        churn_models["forest"],
        "churn",
        reference=churn_data.X,
        target=churn_data.y,
        convert_onnx=False,
    )
    return Predictor(serving_registry.load(version.ref))


def _call(handler: Any, predictor: Predictor, body: Any) -> tuple[int, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, answer = asyncio.run(handler(predictor, raw))
    return status, json.loads(answer)


def _check_sums(answer: dict[str, Any], model: Any, rows: pd.DataFrame) -> None:
    proba = model.predict_proba(rows)[:, 1]
    for explanation, expected in zip(answer["explanations"], proba, strict=True):
        total = explanation["base_value"] + sum(explanation["attributions"].values())
        assert total == pytest.approx(expected, abs=1e-6)
        assert explanation["output"] == pytest.approx(expected, abs=1e-6)


def test_v1_rows_and_records(forest: Predictor, churn_data: Any, churn_models: Any) -> None:
    rows = churn_data.X.iloc[:3]
    model = churn_models["forest"]
    records = json.loads(rows.to_json(orient="records"))
    instances = [[r[name] for name in forest.features] for r in records]
    for body in ({"instances": instances}, {"instances": records}):
        status, answer = _call(explain_v1, forest, body)
        assert status == 200, answer
        assert answer["predictions"] == model.predict(rows).tolist()
        assert len(answer["explanations"]) == 3
        first = answer["explanations"][0]
        assert set(first["attributions"]) == set(churn_data.X.columns)
        assert (first["method"], first["output_space"], first["class"]) == (
            "tree",
            "probability",
            1,
        )
        _check_sums(answer, model, rows)


def test_v1_probabilities_on_request(forest: Predictor, churn_data: Any, churn_models: Any) -> None:
    rows = churn_data.X.iloc[:2]
    records = json.loads(rows.to_json(orient="records"))
    body = {"instances": records, "parameters": {"output": "probabilities"}}
    status, answer = _call(explain_v1, forest, body)
    assert status == 200
    np.testing.assert_allclose(
        answer["predictions"], churn_models["forest"].predict_proba(rows), atol=1e-12
    )


def test_records_endpoint(forest: Predictor, churn_data: Any, churn_models: Any) -> None:
    rows = churn_data.X.iloc[5:9]
    records = json.loads(rows.to_json(orient="records"))
    for key in ("dataframe_records", "instances"):
        status, answer = _call(explain_records, forest, {key: records})
        assert status == 200, answer
        assert answer["model"] == forest.ref
        assert answer["predictions"] == churn_models["forest"].predict(rows).tolist()
        _check_sums(answer, churn_models["forest"], rows)


@pytest.mark.parametrize(
    ("handler", "body", "status", "message"),
    [
        (explain_v1, b"not json", 400, "not valid JSON"),
        (explain_v1, {"rows": []}, 400, "exactly one of 'instances'"),
        (explain_v1, {"instances": []}, 400, "'instances' must be a non-empty array"),
        (explain_v1, {"instances": [[1, 2]]}, 422, "instances[0] has 2 values"),
        (explain_records, [1, 2], 400, "must be a JSON object"),
        (explain_records, {"records": []}, 400, "exactly one of 'dataframe_records'"),
        (explain_records, {"dataframe_records": {}}, 400, "'dataframe_records' must be a non"),
        (explain_records, {"dataframe_records": [[1]]}, 400, "dataframe_records[0] must be an"),
        (explain_records, {"instances": [{"age": "old"}]}, 422, "age"),
    ],
)
def test_bad_bodies_name_the_field(
    forest: Predictor, handler: Any, body: Any, status: int, message: str
) -> None:
    got, answer = _call(handler, forest, body)
    assert got == status
    assert message in answer["error"]


def test_too_many_rows_is_refused(forest: Predictor, churn_data: Any) -> None:
    record = json.loads(churn_data.X.iloc[:1].to_json(orient="records"))[0]
    status, answer = _call(explain_records, forest, {"instances": [record] * (MAX_ROWS + 1)})
    assert status == 400
    assert f"at most {MAX_ROWS} rows" in answer["error"]


def test_a_version_without_reference_data_is_a_409(
    serving_registry: Any, churn_data: Any, churn_models: Any
) -> None:
    version = serving_registry.register(
        churn_models["forest"], "bare", input_example=churn_data.X.head(5), convert_onnx=False
    )
    predictor = Predictor(serving_registry.load(version.ref))
    records = json.loads(churn_data.X.iloc[:1].to_json(orient="records"))
    status, answer = _call(explain_records, predictor, {"instances": records})
    assert status == 409
    assert "no reference sample" in answer["error"]
