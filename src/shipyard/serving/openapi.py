"""``GET /openapi.json`` and ``GET /docs``: the server described as an OpenAPI 3.1 document.

The document is generated from what the server serves: every route of the app, with each
served endpoint's model routes as concrete paths (``/v2/models/churn/infer``), so that each
inference operation carries request schemas derived from that endpoint's signature (feature
names, types, nullability) and an example row. A model not loaded yet gets the generic shapes.
The shapes of the Open Inference Protocol follow the official OIP REST schemas (embedded below,
as the package cannot read them at run time), with ``null`` allowed in tensor data where the
server accepts it (a missing value).

``/docs`` is one self-contained HTML page (``static/docs.html``: inline script and style, no
external URL) that fetches ``/openapi.json`` and lists each operation with its schemas and a
"try it" form. Both routes follow the auth rules of any other GET (``read`` scope when auth is
on).
"""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from shipyard.serving.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE

if TYPE_CHECKING:
    from shipyard.registry.signature import FeatureSpec
    from shipyard.serving.hosts import ModelHost
    from shipyard.serving.predictor import Predictor

__all__ = ["DOCS_CONTENT_TYPE", "DOCS_CSP", "build_document", "docs_page", "render"]

OPENAPI_VERSION = "3.1.0"
DOCS_CONTENT_TYPE = b"text/html; charset=utf-8"
DOCS_CSP = (
    b"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    b"connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
    b"frame-ancestors 'none'"
)
_V2_DATATYPES = [
    "BOOL",
    *(f"INT{b}" for b in (8, 16, 32, 64)),
    *(f"UINT{b}" for b in (8, 16, 32, 64)),
    *(f"FP{b}" for b in (16, 32, 64)),
    "BYTES",
]
_MLFLOW_CODES = [
    "BAD_REQUEST",
    "RESOURCE_DOES_NOT_EXIST",
    "REQUEST_LIMIT_EXCEEDED",
    "INVALID_PARAMETER_VALUE",
    "TEMPORARILY_UNAVAILABLE",
    "RESOURCE_CONFLICT",
    "INTERNAL_ERROR",
]
# Integers a JSON number holds exactly next to floats (RFC 8259's interoperable range): a column
# mixing 1.5 and 2**63 - 1 is read as float64, where int64's extremes are not representable.
_INT64 = {"minimum": -(2**53 - 1), "maximum": 2**53 - 1}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


# -- the component schemas: the official OIP shapes, plus shipyard's and MLflow's -------------

_SCALAR = {"type": ["number", "string", "boolean", "null"]}

_SCHEMAS: dict[str, Any] = {
    # The Open Inference Protocol REST schemas (open_inference_rest.yaml), as the server uses them.
    "metadata_server_response": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "version": {"type": "string"},
            "extensions": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name", "version", "extensions"],
    },
    "metadata_model_response": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "versions": {"type": "array", "items": {"type": "string"}},
            "platform": {"type": "string"},
            "inputs": {"type": "array", "items": _ref("metadata_tensor")},
            "outputs": {"type": "array", "items": _ref("metadata_tensor")},
            "parameters": {
                "type": "object",
                "description": "shipyard: the registry model and version that answers, and "
                "for classifiers the class order of `probabilities`.",
                "properties": {
                    "model": {"type": "string"},
                    "version": {"type": "integer"},
                    "classes": {"type": "array", "items": _SCALAR},
                },
            },
        },
        "required": ["name", "platform"],
    },
    "metadata_tensor": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "datatype": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
        },
        "required": ["name", "datatype", "shape"],
    },
    "parameters": {"type": "object"},
    "tensor_data": {
        "type": "array",
        "description": "Flat or nested row-major elements; null marks a missing value "
        "(FP*, BOOL and BYTES tensors).",
        "items": {
            "anyOf": [
                _ref("tensor_data"),
                {"type": "number"},
                {"type": "string"},
                {"type": "boolean"},
                {"type": "null"},
            ]
        },
    },
    "request_input": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "datatype": {"type": "string", "enum": _V2_DATATYPES},
            "parameters": _ref("parameters"),
            "data": _ref("tensor_data"),
        },
        "required": ["name", "shape", "datatype", "data"],
    },
    "request_output": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "parameters": _ref("parameters")},
        "required": ["name"],
    },
    "inference_request": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "parameters": _ref("parameters"),
            "inputs": {"type": "array", "minItems": 1, "items": _ref("request_input")},
            "outputs": {"type": "array", "items": _ref("request_output")},
        },
        "required": ["inputs"],
    },
    "response_output": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
            "datatype": {"type": "string"},
            "parameters": _ref("parameters"),
            "data": _ref("tensor_data"),
        },
        "required": ["name", "shape", "datatype"],
        "description": "`data` is absent for an output sent as binary data "
        "(`parameters.binary_data_size` gives its byte count).",
    },
    "inference_response": {
        "type": "object",
        "properties": {
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "parameters": _ref("parameters"),
            "outputs": {"type": "array", "items": _ref("response_output")},
        },
        "required": ["model_name", "outputs"],
    },
    "error": {
        "type": "object",
        "description": "Every error but MLflow's: the OIP error shape.",
        "properties": {"error": {"type": "string"}},
        "required": ["error"],
    },
    "ready": {
        "type": "object",
        "properties": {"ready": {"type": "boolean"}},
        "required": ["ready"],
    },
    "live": {
        "type": "object",
        "properties": {"live": {"type": "boolean"}},
        "required": ["live"],
    },
    # KServe V1 and MLflow scoring
    "v1_models": {
        "type": "object",
        "properties": {"models": {"type": "array", "items": {"type": "string"}}},
        "required": ["models"],
    },
    "v1_model": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}},
        "required": ["name", "ready"],
    },
    "output_choice": {
        "type": "object",
        "description": "`probabilities` returns one array of class probabilities per row (in "
        "the class order of the V2 model metadata) instead of labels.",
        "properties": {"output": {"type": "string", "enum": ["label", "probabilities"]}},
    },
    "predictions": {
        "type": "object",
        "properties": {
            "predictions": {
                "type": "array",
                "items": {"anyOf": [_SCALAR, {"type": "array", "items": {"type": "number"}}]},
            }
        },
        "required": ["predictions"],
    },
    "table_rows": {
        "type": "array",
        "minItems": 1,
        "items": {
            "anyOf": [
                {"type": "array", "items": _SCALAR},
                {"type": "object", "additionalProperties": _SCALAR},
            ]
        },
        "description": "Rows (arrays of feature values in signature order) or records "
        "(objects keyed by feature name; an absent key is a missing value).",
    },
    "table_columns": {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": {"anyOf": [_SCALAR, {"type": "array", "items": _SCALAR}]},
        "description": "Columns: {feature: [values]} (a scalar is a column of one row).",
    },
    "mlflow_error": {
        "type": "object",
        "properties": {
            "error_code": {"type": "string", "enum": _MLFLOW_CODES},
            "message": {"type": "string"},
        },
        "required": ["error_code", "message"],
    },
    # the management API
    "registry_model": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "created_at": {"type": "string"},
            "created_by": {"type": "string"},
            "description": {"type": "string"},
            "tags": {"type": "object", "additionalProperties": {"type": "string"}},
            "aliases": {"type": "object", "additionalProperties": {"type": "integer"}},
            "latest_version": {"type": ["integer", "null"]},
        },
        "required": ["name", "created_at", "created_by", "aliases"],
    },
    "registry_version": {
        "type": "object",
        "properties": {
            "model": {"type": "string"},
            "version": {"type": "integer"},
            "ref": {"type": "string"},
            "flavor": {"type": "string"},
            "status": {"type": "string"},
            "signature": {"type": ["object", "null"]},
            "metrics": {"type": "object"},
            "params": {"type": "object"},
            "tags": {"type": "object"},
            "aliases": {"type": "array", "items": {"type": "string"}},
            "created_at": {"type": "string"},
            "created_by": {"type": "string"},
        },
        "required": ["model", "version", "ref", "flavor", "status", "created_at"],
    },
    "alias_move": {
        "type": "object",
        "properties": {
            "model": {"type": "string"},
            "alias": {"type": "string"},
            "from_version": {"type": ["integer", "null"]},
            "to_version": {"type": ["integer", "null"]},
            "actor": {"type": "string"},
            "at": {"type": "string"},
        },
        "required": ["model", "alias", "from_version", "to_version", "actor", "at"],
    },
}

_REQUEST_ID = {
    "description": "The request's id: the client's `x-request-id`, else the V2 `id`, else "
    "one the server makes (time-ordered).",
    "schema": {"type": "string"},
}
_MODEL_VERSION = {
    "description": "The model and version that answered, as `churn/3`.",
    "schema": {"type": "string"},
}
_CHALLENGE = {
    "description": '`Bearer realm="shipyard"` and the error',
    "schema": {"type": "string"},
}

_ERROR_TEXT = {
    400: "The body cannot be parsed or breaks the protocol.",
    401: "No API key, a malformed `Authorization` header, or an unknown or revoked key.",
    403: "The key lacks the scope this route needs, or is restricted to other models.",
    404: "No such endpoint, version or route.",
    405: "The path exists, but not with this method (see the `Allow` header).",
    409: "The change conflicts with the registry's state.",
    413: "The body is over the size limit (10 MB by default).",
    415: "The content type is not one the route accepts.",
    422: "A well-formed request that breaks the model's signature; the message names the "
    "feature and what was expected.",
    503: "Not ready: the model is still loading (or the store is unreachable).",
}


def _error_response(status: int, schema: str = "error") -> dict[str, Any]:
    headers: dict[str, Any] = {"x-request-id": _REQUEST_ID}
    if status in (401, 403):
        headers["www-authenticate"] = _CHALLENGE
    if status == 405:
        headers["allow"] = {
            "description": "The methods the path allows.",
            "schema": {"type": "string"},
        }
    return {
        "description": _ERROR_TEXT[status],
        "headers": headers,
        "content": {"application/json": {"schema": _ref(schema)}},
    }


def _components_responses() -> dict[str, Any]:
    responses = {f"Error{status}": _error_response(status) for status in _ERROR_TEXT}
    for status in (400, 404, 413, 415, 422, 503):
        responses[f"MlflowError{status}"] = _error_response(status, "mlflow_error")
    return responses


def _json(schema: Any, description: str, **extra: Any) -> dict[str, Any]:
    headers: dict[str, Any] = {"x-request-id": _REQUEST_ID, **extra.pop("headers", {})}
    content: dict[str, Any] = {"schema": schema} if schema is not None else {}
    return {
        "description": description,
        "headers": headers,
        "content": {"application/json": content},
        **extra,
    }


# -- per-model schemas from the signature ------------------------------------------------------


def _value_schema(spec: FeatureSpec) -> dict[str, Any]:
    """What a JSON value of this feature may be in a record, row or column."""
    schema: dict[str, Any]
    if spec.kind == "numeric":
        whole = spec.dtype.startswith(("int", "uint"))
        schema = {"type": "integer", **_INT64} if whole else {"type": "number"}
    elif spec.kind == "boolean":
        schema = {"type": "boolean"}
    elif spec.kind == "datetime":
        schema = {"type": "string", "description": "ISO 8601 date-time"}
        if "," in spec.dtype:
            schema["format"] = "date-time"
    elif spec.dtype == "object":
        schema = {"type": ["number", "string", "boolean"]}
    else:
        schema = {"type": "string"}
        if spec.levels:
            schema["examples"] = list(spec.levels[:10])
    if spec.nullable:
        return _nullable(schema)
    return schema


def _v2_datatype(spec: FeatureSpec) -> str:
    if spec.kind == "numeric":
        return "INT64" if spec.dtype.startswith(("int", "uint")) else "FP64"
    return "BOOL" if spec.kind == "boolean" else "BYTES"


def _v2_value_schema(spec: FeatureSpec) -> dict[str, Any]:
    """A V2 tensor element: integers tensors hold no null, FP, BOOL and BYTES may."""
    schema = _value_schema(spec)
    if spec.kind == "numeric" and _v2_datatype(spec) == "INT64":
        return {"type": "integer", **_INT64}
    return schema


def _example_value(spec: FeatureSpec) -> Any:
    if spec.kind == "numeric":
        low = spec.min if spec.min is not None else 0
        return int(low) if spec.dtype.startswith(("int", "uint")) else float(low)
    if spec.kind == "boolean":
        return False
    if spec.kind == "datetime":
        return "2024-05-01T12:00:00" + ("+00:00" if "," in spec.dtype else "")
    return spec.levels[0] if spec.levels else "a"


class _Model:
    """What the document says about one served endpoint's current version."""

    def __init__(self, name: str, predictor: Predictor | None) -> None:
        self.name = name
        self.predictor = predictor
        self.specs: tuple[FeatureSpec, ...] = (
            tuple(predictor.signature.inputs) if predictor is not None else ()
        )
        self.outputs: tuple[str, ...] = predictor.output_names if predictor is not None else ()

    @property
    def known(self) -> bool:
        return self.predictor is not None

    def example_row(self) -> dict[str, Any]:
        return {spec.name: _example_value(spec) for spec in self.specs}

    def record_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {spec.name: _value_schema(spec) for spec in self.specs},
            "required": [spec.name for spec in self.specs],
            "additionalProperties": False,
        }

    def row_schema(self) -> dict[str, Any]:
        n = len(self.specs)
        return {
            "type": "array",
            "description": "the values in signature order: "
            + ", ".join(s.name for s in self.specs),
            "prefixItems": [_value_schema(spec) for spec in self.specs],
            "minItems": n,
            "maxItems": n,
        }

    def columns_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {
                spec.name: {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 1,
                    "items": _value_schema(spec),
                }
                for spec in self.specs
            },
            "required": [spec.name for spec in self.specs],
            "additionalProperties": False,
        }

    def table_schema(self) -> dict[str, Any]:
        """Rows or records, one to a few of them."""
        return {
            "anyOf": [
                {"type": "array", "minItems": 1, "maxItems": 4, "items": self.record_schema()},
                {"type": "array", "minItems": 1, "maxItems": 4, "items": self.row_schema()},
            ]
        }

    def v2_request_schema(self) -> dict[str, Any]:
        """One input per feature, one row: what generators can fill in meaningfully; the
        generic OIP request (for example one 2-D tensor in signature order) is the other arm."""
        tensors = [
            {
                "type": "object",
                "properties": {
                    "name": {"const": spec.name},
                    "datatype": {"const": _v2_datatype(spec)},
                    "shape": {"const": [1]},
                    "data": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 1,
                        "items": _v2_value_schema(spec),
                    },
                },
                "required": ["name", "datatype", "shape", "data"],
                "additionalProperties": False,
            }
            for spec in self.specs
        ]
        n = len(tensors)
        per_feature = {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "inputs": {
                    "type": "array",
                    "prefixItems": tensors,
                    "minItems": n,
                    "maxItems": n,
                },
                "outputs": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"name": {"enum": list(self.outputs)}},
                        "required": ["name"],
                        "additionalProperties": False,
                    },
                },
            },
            "required": ["inputs"],
            "additionalProperties": False,
        }
        return {"anyOf": [per_feature, _ref("inference_request")]}

    def v2_example(self) -> dict[str, Any]:
        return {
            "id": "example-1",
            "inputs": [
                {
                    "name": spec.name,
                    "datatype": _v2_datatype(spec),
                    "shape": [1],
                    "data": [_example_value(spec)],
                }
                for spec in self.specs
            ],
        }

    def v1_request_schema(self) -> dict[str, Any]:
        parameters = _ref("output_choice")
        return {
            "anyOf": [
                {
                    "type": "object",
                    "properties": {"instances": self.table_schema(), "parameters": parameters},
                    "required": ["instances"],
                    "additionalProperties": False,
                },
                {
                    "type": "object",
                    "properties": {
                        "inputs": {"anyOf": [self.table_schema(), self.columns_schema()]},
                        "parameters": parameters,
                    },
                    "required": ["inputs"],
                    "additionalProperties": False,
                },
            ]
        }

    def mlflow_request_schema(self) -> dict[str, Any]:
        params = _ref("output_choice")
        names = [spec.name for spec in self.specs]

        def form(key: str, schema: dict[str, Any]) -> dict[str, Any]:
            return {
                "type": "object",
                "properties": {key: schema, "params": params},
                "required": [key],
                "additionalProperties": False,
            }

        split = {
            "type": "object",
            "properties": {
                "columns": {"const": names},
                "data": {"type": "array", "minItems": 1, "maxItems": 4, "items": self.row_schema()},
            },
            "required": ["columns", "data"],
        }
        records = {"type": "array", "minItems": 1, "maxItems": 4, "items": self.record_schema()}
        return {
            "anyOf": [
                form("dataframe_records", records),
                form("dataframe_split", split),
                form("instances", self.table_schema()),
                form("inputs", {"anyOf": [self.table_schema(), self.columns_schema()]}),
            ]
        }


_GENERIC_V1 = {
    "type": "object",
    "description": "Exactly one of `instances` (rows or records) and `inputs` (rows, records "
    "or columns).",
    "properties": {
        "instances": _ref("table_rows"),
        "inputs": {"anyOf": [_ref("table_rows"), _ref("table_columns")]},
        "parameters": _ref("output_choice"),
    },
}
_GENERIC_MLFLOW = {
    "type": "object",
    "description": "Exactly one of `dataframe_split`, `dataframe_records`, `instances`, "
    "`inputs`; `params.output` as in V1.",
    "properties": {
        "dataframe_split": {
            "type": "object",
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "items": {"type": "array", "items": _SCALAR}},
                "index": {"type": "array"},
            },
            "required": ["data"],
        },
        "dataframe_records": {
            "type": "array",
            "items": {"type": "object", "additionalProperties": _SCALAR},
        },
        "instances": _ref("table_rows"),
        "inputs": {"anyOf": [_ref("table_rows"), _ref("table_columns")]},
        "params": _ref("output_choice"),
    },
}


# -- operations --------------------------------------------------------------------------------


class _Builder:
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


def _v2_model_paths(b: _Builder, model: _Model, base: str, versioned: bool) -> None:
    name = model.name
    parameters = [_VERSION_PARAMETER] if versioned else []
    which = f"version {{version}} of {name!r}'s model" if versioned else f"endpoint {name!r}"
    not_found = [404] if versioned else []
    b.add(
        base,
        "GET",
        f"V2 model metadata of {which}",
        "Open Inference Protocol (V2)",
        {"200": _json(_ref("metadata_model_response"), "The model's metadata.")},
        errors=[*not_found, 503],
        parameters=parameters,
    )
    b.add(
        f"{base}/ready",
        "GET",
        f"V2 readiness of {which}",
        "Open Inference Protocol (V2)",
        {"200": _json(_ref("ready"), "Loaded and ready.")},
        errors=[*not_found, 503],
        parameters=parameters,
    )
    schema: Any = _ref("inference_request")
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
                    "x-request-id": _REQUEST_ID,
                    "x-shipyard-model-version": _MODEL_VERSION,
                },
                "content": {
                    "application/json": {"schema": _ref("inference_response")},
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


def _v1_model_paths(b: _Builder, model: _Model, base: str, versioned: bool) -> None:
    name = model.name
    parameters = [_VERSION_PARAMETER] if versioned else []
    not_found = [404] if versioned else []
    which = f"version {{version}} of endpoint {name!r}" if versioned else f"endpoint {name!r}"
    b.add(
        base,
        "GET",
        f"KServe V1 status of {which}",
        "KServe V1",
        {"200": _json(_ref("v1_model"), "Loaded and ready.")},
        errors=[*not_found, 503],
        parameters=parameters,
    )
    schema: Any = _GENERIC_V1
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
            "200": _json(
                _ref("predictions"),
                "One label per row, or with `parameters.output: probabilities` one array of "
                "class probabilities per row.",
                headers={"x-shipyard-model-version": _MODEL_VERSION},
            )
        },
        errors=[400, *not_found, 413, 422, 503],
        parameters=[*parameters, _REQUEST_ID_PARAMETER],
        body={"required": True, "content": {"application/json": {"schema": schema, **media}}},
    )


def _mlflow_paths(b: _Builder, models: Sequence[_Model]) -> None:
    first = models[0] if models else None
    names = [m.name for m in models]
    schema: Any = _GENERIC_MLFLOW
    media: dict[str, Any] = {}
    if first is not None and first.known:
        # The schema is the default model's; another model (named by x-shipyard-model) may
        # expect other features, so the generic shape stays as the other arm.
        schema = {"anyOf": [first.mlflow_request_schema(), _GENERIC_MLFLOW]}
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
            "200": _json(
                _ref("predictions"),
                "Labels, or with `params.output: probabilities` class probabilities.",
                headers={"x-shipyard-model-version": _MODEL_VERSION},
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
            "headers": {"x-request-id": _REQUEST_ID},
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
                "headers": {"x-request-id": _REQUEST_ID},
                "content": {"application/json": {}},
            }
        },
    )


def _csv_cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return f'"{text}"' if any(c in text for c in ',"\n') else text


def _management_paths(b: _Builder, example_model: str | None) -> None:
    tag = "Management"
    name: dict[str, Any] = {
        "name": "name",
        "in": "path",
        "required": True,
        "description": "A registered model's name.",
        "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,62}$"},
    }
    if example_model is not None:
        name["example"] = example_model
    b.add(
        "/api/v1/models",
        "GET",
        "List registered models (those the key reaches)",
        tag,
        {
            "200": _json(
                {
                    "type": "object",
                    "properties": {"models": {"type": "array", "items": _ref("registry_model")}},
                    "required": ["models"],
                },
                "The models.",
            )
        },
        errors=[503],
    )
    b.add(
        "/api/v1/models/{name}",
        "GET",
        "One registered model, with its aliases and tags",
        tag,
        {"200": _json(_ref("registry_model"), "The model.")},
        errors=[400, 404, 503],
        parameters=[name],
    )
    b.add(
        "/api/v1/models/{name}/versions",
        "GET",
        "A model's versions, oldest first",
        tag,
        {
            "200": _json(
                {
                    "type": "object",
                    "properties": {
                        "versions": {"type": "array", "items": _ref("registry_version")}
                    },
                    "required": ["versions"],
                },
                "The versions.",
            )
        },
        errors=[400, 404, 503],
        parameters=[name],
    )
    b.add(
        "/api/v1/models/{name}/aliases/{alias}",
        "PUT",
        "Move (or set) an alias (`write` scope; audited with the key's name)",
        tag,
        {"200": _json(_ref("alias_move"), "The move.")},
        errors=[400, 404, 409, 413, 422, 503],
        parameters=[
            name,
            {
                "name": "alias",
                "in": "path",
                "required": True,
                "example": "champion",
                "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,62}$"},
            },
        ],
        body={
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"version": {"type": "integer", "minimum": 1}},
                        "required": ["version"],
                    },
                    "example": {"version": 1},
                }
            },
        },
    )


def build_document(
    hosts: Mapping[str, ModelHost],
    *,
    server_version: str,
    auth: bool,
    open_paths: Collection[str],
    management: bool,
) -> dict[str, Any]:
    """The OpenAPI document of a server over ``hosts``. ``auth`` says whether requests may
    need a key (then every route outside ``open_paths`` documents 401 and 403)."""
    models = [_Model(name, host.current) for name, host in hosts.items()]
    b = _Builder(auth=auth, open_paths=open_paths)
    v2 = "Open Inference Protocol (V2)"
    b.add(
        "/v2",
        "GET",
        "V2 server metadata",
        v2,
        {"200": _json(_ref("metadata_server_response"), "Name, version and extensions.")},
    )
    b.add("/v2/health/live", "GET", "V2 liveness", v2, {"200": _json(_ref("live"), "Alive.")})
    b.add(
        "/v2/health/ready",
        "GET",
        "V2 readiness: every served model loaded",
        v2,
        {"200": _json(_ref("ready"), "Every endpoint has a loaded version.")},
        errors=[503],
    )
    for model in models:
        base = f"/v2/models/{model.name}"
        _v2_model_paths(b, model, base, versioned=False)
        _v2_model_paths(b, model, f"{base}/versions/{{version}}", versioned=True)
    b.add(
        "/v1/models",
        "GET",
        "KServe V1: the served endpoints",
        "KServe V1",
        {"200": _json(_ref("v1_models"), "Endpoint names.")},
    )
    for model in models:
        base = f"/v1/models/{model.name}"
        _v1_model_paths(b, model, base, versioned=False)
        _v1_model_paths(b, model, f"{base}/versions/{{version}}", versioned=True)
    _mlflow_paths(b, models)
    b.add(
        "/metrics",
        "GET",
        "Prometheus metrics",
        "Operations",
        {
            "200": {
                "description": "Prometheus text format (" + METRICS_CONTENT_TYPE.decode() + ").",
                "headers": {"x-request-id": _REQUEST_ID},
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    b.add(
        "/openapi.json",
        "GET",
        "This document",
        "Operations",
        {"200": _json({"type": "object"}, "The OpenAPI document.")},
    )
    b.add(
        "/docs",
        "GET",
        "A page rendering this document (self-contained: no external asset)",
        "Operations",
        {
            "200": {
                "description": "HTML.",
                "headers": {"x-request-id": _REQUEST_ID},
                "content": {"text/html": {"schema": {"type": "string"}}},
            }
        },
    )
    if management:
        _management_paths(b, next((host.model for host in hosts.values()), None))
    document: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "shipyard model server",
            "version": server_version,
            "description": "Open Inference Protocol (KServe V2) with Triton's binary tensor "
            "extension, KServe V1, MLflow scoring, metrics and the management API. Errors are "
            '`{"error": "..."}` (MLflow routes: `{"error_code", "message"}`); any path answers '
            "404 when unknown and 405 (with `Allow`) for a method it does not take. Served: "
            + (", ".join(m.name for m in models) or "nothing"),
        },
        "paths": b.paths,
        "components": {
            "schemas": _SCHEMAS,
            "responses": _components_responses(),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "shp_...",
                    "description": "An API key (shipyard keys create). Scopes: `read` for "
                    "GET routes, `predict` for inference, `write` for the management API's "
                    "changes, `admin` for all. Health probes need no key.",
                }
            },
        },
        "tags": [
            {"name": name}
            for name in (
                "Open Inference Protocol (V2)",
                "KServe V1",
                "MLflow scoring",
                "Operations",
                *(["Management"] if management else []),
            )
        ],
    }
    if auth:
        document["security"] = [{"bearer": []}]
    return document


def render(
    hosts: Mapping[str, ModelHost],
    *,
    server_version: str,
    auth: bool,
    open_paths: Collection[str],
    management: bool,
) -> bytes:
    """The document as JSON bytes, built on each call (a few milliseconds; it follows the
    versions as they load and swap)."""
    document = build_document(
        hosts,
        server_version=server_version,
        auth=auth,
        open_paths=open_paths,
        management=management,
    )
    return orjson.dumps(document)


@functools.cache
def docs_page() -> bytes:
    """The ``/docs`` page (``static/docs.html``), read once from the package."""
    return (importlib.resources.files("shipyard.serving") / "static" / "docs.html").read_bytes()
