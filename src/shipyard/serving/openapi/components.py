"""The document's shared pieces: the Open Inference Protocol's shapes (the official OIP REST
schemas, embedded), shipyard's and MLflow's, error responses and small schema helpers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

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
INT64 = {"minimum": -(2**53 - 1), "maximum": 2**53 - 1}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


# -- the component schemas: the official OIP shapes, plus shipyard's and MLflow's -------------

SCALAR = {"type": ["number", "string", "boolean", "null"]}

SCHEMAS: dict[str, Any] = {
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
            "inputs": {"type": "array", "items": ref("metadata_tensor")},
            "outputs": {"type": "array", "items": ref("metadata_tensor")},
            "parameters": {
                "type": "object",
                "description": "shipyard: the registry model and version that answers, and "
                "for classifiers the class order of `probabilities`.",
                "properties": {
                    "model": {"type": "string"},
                    "version": {"type": "integer"},
                    "classes": {"type": "array", "items": SCALAR},
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
                ref("tensor_data"),
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
            "parameters": ref("parameters"),
            "data": ref("tensor_data"),
        },
        "required": ["name", "shape", "datatype", "data"],
    },
    "request_output": {
        "type": "object",
        "properties": {"name": {"type": "string"}, "parameters": ref("parameters")},
        "required": ["name"],
    },
    "inference_request": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "parameters": ref("parameters"),
            "inputs": {"type": "array", "minItems": 1, "items": ref("request_input")},
            "outputs": {"type": "array", "items": ref("request_output")},
        },
        "required": ["inputs"],
    },
    "response_output": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
            "datatype": {"type": "string"},
            "parameters": ref("parameters"),
            "data": ref("tensor_data"),
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
            "parameters": ref("parameters"),
            "outputs": {"type": "array", "items": ref("response_output")},
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
                "items": {"anyOf": [SCALAR, {"type": "array", "items": {"type": "number"}}]},
            }
        },
        "required": ["predictions"],
    },
    "table_rows": {
        "type": "array",
        "minItems": 1,
        "items": {
            "anyOf": [
                {"type": "array", "items": SCALAR},
                {"type": "object", "additionalProperties": SCALAR},
            ]
        },
        "description": "Rows (arrays of feature values in signature order) or records "
        "(objects keyed by feature name; an absent key is a missing value).",
    },
    "table_columns": {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": {"anyOf": [SCALAR, {"type": "array", "items": SCALAR}]},
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
    "variant": {
        "type": "object",
        "description": "One way an endpoint answers: a reference and its share of traffic (a "
        "shadow variant: the share of requests also sent to it).",
        "properties": {
            "name": {"type": "string"},
            "ref": {"type": "string"},
            "weight": {"type": "number"},
            "shadow": {"type": "boolean"},
        },
        "required": ["name", "ref", "weight"],
    },
    "endpoint": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "model": {"type": "string"},
            "policy": {"type": "string", "enum": ["single", "canary", "ab", "shadow"]},
            "key": {
                "type": ["string", "null"],
                "description": "The A/B key (`header:NAME` or `field:NAME`), else null.",
            },
            "variants": {"type": "array", "items": ref("variant")},
            "created_at": {"type": "string"},
            "created_by": {"type": "string"},
            "updated_at": {"type": "string"},
        },
        "required": ["name", "model", "policy", "key", "variants", "created_at", "updated_at"],
    },
    "rollout": {
        "type": "object",
        "description": "A progressive rollout: the candidate's weight (percent) at its step of "
        "the plan, the machine's state and the controller's last decision.",
        "properties": {
            "id": {"type": "integer"},
            "endpoint": {"type": "string"},
            "model": {"type": "string"},
            "baseline_version": {"type": ["integer", "null"]},
            "candidate_version": {"type": "integer"},
            "mode": {"type": "string", "enum": ["canary", "ab", "shadow"]},
            "status": {
                "type": "string",
                "description": "running, paused or stopped while active; then promoted, "
                "rolled_back (or another end state).",
            },
            "weight": {"type": "number"},
            "step": {"type": "integer"},
            "steps": {"type": "array", "items": {"type": "number"}},
            "plan": {"type": "object"},
            "state": {"type": "object"},
            "last_decision": {"type": ["object", "null"]},
            "created_at": {"type": "string"},
            "created_by": {"type": "string"},
            "updated_at": {"type": "string"},
            "ended_at": {"type": ["string", "null"]},
        },
        "required": [
            "id",
            "endpoint",
            "model",
            "candidate_version",
            "mode",
            "status",
            "weight",
            "steps",
            "created_at",
        ],
    },
    "feedback_result": {
        "type": "object",
        "properties": {
            "accepted": {"type": "integer", "minimum": 0},
            "unknown": {
                "type": "array",
                "description": "Labels that match no logged prediction (not stored).",
                "items": {
                    "type": "object",
                    "properties": {
                        "request_id": {"type": "string"},
                        "row_index": {"type": ["integer", "null"]},
                    },
                    "required": ["request_id", "row_index"],
                },
            },
        },
        "required": ["accepted", "unknown"],
    },
    "explanations": {
        "type": "object",
        "description": "The predictions and, per row, the base value, the model's raw output "
        "and one attribution per original feature (they add up with the base value to the "
        "output).",
        "properties": {
            "model": {"type": "string", "description": "The version that answered, as churn/3."},
            "predictions": {
                "type": "array",
                "items": {"anyOf": [SCALAR, {"type": "array", "items": {"type": "number"}}]},
            },
            "explanations": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "base_value": {"type": "number"},
                        "output": {"type": "number"},
                        "output_space": {"type": "string"},
                        "method": {"type": "string"},
                        "class": SCALAR,
                        "attributions": {
                            "type": "object",
                            "additionalProperties": {"type": "number"},
                        },
                    },
                    "required": [
                        "base_value",
                        "output",
                        "output_space",
                        "method",
                        "attributions",
                    ],
                },
            },
        },
        "required": ["model", "predictions", "explanations"],
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

REQUEST_ID = {
    "description": "The request's id: the client's `x-request-id`, else the V2 `id`, else "
    "one the server makes (time-ordered).",
    "schema": {"type": "string"},
}
MODEL_VERSION = {
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
    headers: dict[str, Any] = {"x-request-id": REQUEST_ID}
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
        "content": {"application/json": {"schema": ref(schema)}},
    }


def components_responses() -> dict[str, Any]:
    responses = {f"Error{status}": _error_response(status) for status in _ERROR_TEXT}
    for status in (400, 404, 413, 415, 422, 503):
        responses[f"MlflowError{status}"] = _error_response(status, "mlflow_error")
    return responses


def json_content(schema: Any, description: str, **extra: Any) -> dict[str, Any]:
    headers: dict[str, Any] = {"x-request-id": REQUEST_ID, **extra.pop("headers", {})}
    content: dict[str, Any] = {"schema": schema} if schema is not None else {}
    return {
        "description": description,
        "headers": headers,
        "content": {"application/json": content},
        **extra,
    }
