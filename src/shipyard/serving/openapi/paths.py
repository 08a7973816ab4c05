"""The model and protocol operations as OpenAPI paths (V2, V1, explanations, MLflow), with each
served endpoint's model routes as concrete paths; the /api/v1 registry ones are in api_paths."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from shipyard.serving.explain_api import MAX_ROWS
from shipyard.serving.openapi.components import MODEL_VERSION, REQUEST_ID, json_content, ref
from shipyard.serving.openapi.model_schemas import (
    GENERIC_MLFLOW,
    GENERIC_RECORD,
    GENERIC_V1,
    ServedModel,
    explain_schema,
)

if TYPE_CHECKING:
    pass

# -- operations --------------------------------------------------------------------------------


class Builder:
    def __init__(self, *, auth: bool, open_paths: Collection[str]) -> None:
        self.auth = auth
        self.open_paths = open_paths
        self.paths: dict[str, dict[str, Any]] = {}

    def add(
        self,
        path: str,
        method: str,
        summary: str,
        tag: str,
        responses: dict[str, Any],
        *,
        errors: Sequence[int] = (),
        mlflow_errors: Sequence[int] = (),
        parameters: Sequence[dict[str, Any]] = (),
        body: dict[str, Any] | None = None,
        description: str = "",
    ) -> None:
        operation: dict[str, Any] = {
            "operationId": _operation_id(method, path),
            "summary": summary,
            "tags": [tag],
            "responses": dict(responses),
        }
        if description:
            operation["description"] = description
        if parameters:
            operation["parameters"] = list(parameters)
        if body is not None:
            operation["requestBody"] = body
        for status in errors:
            operation["responses"][str(status)] = {"$ref": f"#/components/responses/Error{status}"}
        for status in mlflow_errors:
            operation["responses"][str(status)] = {
                "$ref": f"#/components/responses/MlflowError{status}"
            }
        if path in self.open_paths:
            operation["security"] = []
        elif self.auth:
            operation["responses"]["401"] = {"$ref": "#/components/responses/Error401"}
            operation["responses"]["403"] = {"$ref": "#/components/responses/Error403"}
        self.paths.setdefault(path, {})[method.lower()] = operation


def _operation_id(method: str, path: str) -> str:
    words = [w for w in path.replace(":", "/").replace(".", "_").split("/") if w]
    words = [w.strip("{}").replace("-", "_") for w in words]
    return "_".join([method.lower(), *words]) or method.lower()


_VERSION_PARAMETER = {
    "name": "version",
    "in": "path",
    "required": True,
    "description": "A version of the endpoint's model, addressed directly (bypassing routing).",
    "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    "example": 1,
}
_REQUEST_ID_PARAMETER = {
    "name": "x-request-id",
    "in": "header",
    "required": False,
    "description": "The request's id (1-128 printable ASCII characters), returned as given.",
    "schema": {"type": "string", "pattern": "^[!-~]{1,128}$"},
}
_BINARY_LENGTH_PARAMETER = {
    "name": "Inference-Header-Content-Length",
    "in": "header",
    "required": False,
    "description": "Triton's binary tensor data extension: the body is this many bytes of V2 "
    "JSON, then the raw bytes of each input that has `parameters.binary_data_size`.",
    "schema": {"type": "integer", "minimum": 0},
}


def v2_model_paths(b: Builder, model: ServedModel, base: str, versioned: bool) -> None:
    name = model.name
    parameters = [_VERSION_PARAMETER] if versioned else []
    which = f"version {{version}} of {name!r}'s model" if versioned else f"endpoint {name!r}"
    not_found = [404] if versioned else []
    b.add(
        base,
        "GET",
        f"V2 model metadata of {which}",
        "Open Inference Protocol (V2)",
        {"200": json_content(ref("metadata_model_response"), "The model's metadata.")},
        errors=[*not_found, 503],
        parameters=parameters,
    )
    b.add(
        f"{base}/ready",
        "GET",
        f"V2 readiness of {which}",
        "Open Inference Protocol (V2)",
        {"200": json_content(ref("ready"), "Loaded and ready.")},
        errors=[*not_found, 503],
        parameters=parameters,
    )
    schema: Any = ref("inference_request")
    examples: dict[str, Any] = {}
    if model.known and not versioned:
        schema = model.v2_request_schema()
        examples = {
            "one_row": {"summary": "one row, one input per feature", "value": model.v2_example()}
        }
    media: dict[str, Any] = {"schema": schema}
    if examples:
        media["examples"] = examples
    b.add(
        f"{base}/infer",
        "POST",
        f"V2 inference on {which}",
        "Open Inference Protocol (V2)",
        {
            "200": {
                "description": "Outputs `label` and, for classifiers, `probabilities` "
                "([rows, classes]); binary outputs (Triton's extension) come as "
                "`application/octet-stream` with an `Inference-Header-Content-Length` header.",
                "headers": {
                    "x-request-id": REQUEST_ID,
                    "x-shipyard-model-version": MODEL_VERSION,
                },
                "content": {
                    "application/json": {"schema": ref("inference_response")},
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                },
            }
        },
        errors=[400, *not_found, 413, 422, 503],
        parameters=[*parameters, _REQUEST_ID_PARAMETER, _BINARY_LENGTH_PARAMETER],
        body={"required": True, "content": {"application/json": media}},
        description="One input per feature (shape [rows] or [rows, 1], named after it) or one "
        "2-D tensor [rows, features] in signature order, under any name.",
    )


def v1_model_paths(b: Builder, model: ServedModel, base: str, versioned: bool) -> None:
    name = model.name
    parameters = [_VERSION_PARAMETER] if versioned else []
    not_found = [404] if versioned else []
    which = f"version {{version}} of endpoint {name!r}" if versioned else f"endpoint {name!r}"
    b.add(
        base,
        "GET",
        f"KServe V1 status of {which}",
        "KServe V1",
        {"200": json_content(ref("v1_model"), "Loaded and ready.")},
        errors=[*not_found, 503],
        parameters=parameters,
    )
    schema: Any = GENERIC_V1
    media: dict[str, Any] = {}
    if model.known and not versioned:
        schema = model.v1_request_schema()
        media["examples"] = {"records": {"value": {"instances": [model.example_row()]}}}
    b.add(
        f"{base}:predict",
        "POST",
        f"KServe V1 prediction on {which}",
        "KServe V1",
        {
            "200": json_content(
                ref("predictions"),
                "One label per row, or with `parameters.output: probabilities` one array of "
                "class probabilities per row.",
                headers={"x-shipyard-model-version": MODEL_VERSION},
            )
        },
        errors=[400, *not_found, 413, 422, 503],
        parameters=[*parameters, _REQUEST_ID_PARAMETER],
        body={"required": True, "content": {"application/json": {"schema": schema, **media}}},
    )
    b.add(
        f"{base}:explain",
        "POST",
        f"KServe V1 explanation on {which}: predictions with per-feature SHAP attributions",
        "KServe V1",
        {
            "200": json_content(
                ref("explanations"),
                "The predictions and, per row, the base value, the model's raw output and one "
                "attribution per original feature (they sum to the output with the base value).",
            )
        },
        errors=[400, *not_found, 409, 413, 422, 503],
        parameters=[*parameters, _REQUEST_ID_PARAMETER],
        body={"required": True, "content": {"application/json": {"schema": schema, **media}}},
        description=_EXPLAIN_NOTE,
    )


_EXPLAIN_NOTE = (
    "`predict` scope (an explanation is a prediction with its reasons). At most "
    f"{MAX_ROWS} rows per request (more is a 400); values that break the signature are a 422; "
    "a version that cannot be explained (no reference sample, shap not installed) is a 409."
)


def explain_paths(b: Builder, model: ServedModel) -> None:
    """``POST /api/v1/models/{name}/explain`` for one served endpoint: records in, the
    predictions and attributions of the version that answers the endpoint out."""
    schema: Any = explain_schema(GENERIC_RECORD, MAX_ROWS)
    media: dict[str, Any] = {}
    if model.known:
        schema = model.explain_request_schema(MAX_ROWS)
        media["examples"] = {"records": {"value": {"dataframe_records": [model.example_row()]}}}
    b.add(
        f"/api/v1/models/{model.name}/explain",
        "POST",
        f"Explain predictions of endpoint {model.name!r}: per-feature SHAP attributions",
        "Explanations",
        {
            "200": json_content(
                ref("explanations"),
                "The predictions (labels) and, per row, the base value, the model's raw output "
                "and one attribution per original feature; `model` names the version.",
            )
        },
        errors=[400, 409, 413, 422, 503],
        parameters=[_REQUEST_ID_PARAMETER],
        body={"required": True, "content": {"application/json": {"schema": schema, **media}}},
        description="Records (objects keyed by feature name) under exactly one of "
        "`dataframe_records` and `instances`, answered by the version that answers the "
        "endpoint (its routing applies). " + _EXPLAIN_NOTE,
    )


def mlflow_paths(b: Builder, models: Sequence[ServedModel]) -> None:
    first = models[0] if models else None
    names = [m.name for m in models]
    schema: Any = GENERIC_MLFLOW
    media: dict[str, Any] = {}
    if first is not None and first.known:
        # The schema is the default model's; another model (named by x-shipyard-model) may
        # expect other features, so the generic shape stays as the other arm.
        schema = {"anyOf": [first.mlflow_request_schema(), GENERIC_MLFLOW]}
        media["examples"] = {
            "records": {"value": {"dataframe_records": [first.example_row()]}},
        }
    csv: dict[str, Any] = {"schema": {"type": "string"}}
    if first is not None and first.known:
        row = first.example_row()
        csv["example"] = "".join(
            ",".join(_csv_cell(v) for v in line) + "\n" for line in (list(row), row.values())
        )
    header = {
        "name": "x-shipyard-model",
        "in": "header",
        "required": False,
        "description": "The endpoint to score (default: the first one served).",
        "schema": {"type": "string", "enum": names} if names else {"type": "string"},
    }
    b.add(
        "/invocations",
        "POST",
        "MLflow scoring (what `mlflow models serve` answers)",
        "MLflow scoring",
        {
            "200": json_content(
                ref("predictions"),
                "Labels, or with `params.output: probabilities` class probabilities.",
                headers={"x-shipyard-model-version": MODEL_VERSION},
            )
        },
        mlflow_errors=[400, 404, 413, 415, 422, 503],
        parameters=[header, _REQUEST_ID_PARAMETER],
        body={
            "required": True,
            "content": {"application/json": {"schema": schema, **media}, "text/csv": csv},
        },
        description="`application/json` with exactly one of `dataframe_split`, "
        "`dataframe_records`, `instances` or `inputs`, or `text/csv` with a header row (UTF-8).",
    )
    ping = {
        "200": {
            "description": "Every served model is loaded. The body is a newline, with the JSON "
            "content type, exactly as `mlflow models serve` answers.",
            "headers": {"x-request-id": REQUEST_ID},
            "content": {"application/json": {}},
        }
    }
    for path in ("/ping", "/health"):
        b.add(path, "GET", f"MLflow health ({path})", "MLflow scoring", ping, mlflow_errors=[503])
    b.add(
        "/version",
        "GET",
        "The server's version",
        "MLflow scoring",
        {
            "200": {
                "description": "shipyard's version as a bare string (not JSON-quoted), with the "
                "JSON content type, as MLflow answers.",
                "headers": {"x-request-id": REQUEST_ID},
                "content": {"application/json": {}},
            }
        },
    )


def _csv_cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return f'"{text}"' if any(c in text for c in ',"\n') else text
