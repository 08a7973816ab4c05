"""Per-endpoint schemas derived from a served version's signature: feature names, types,
nullability and an example row, for the V2, V1 and MLflow request shapes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shipyard.serving.openapi.components import INT64, SCALAR, nullable, ref

if TYPE_CHECKING:
    from shipyard.registry.signature import FeatureSpec
    from shipyard.serving.predictor import Predictor

# -- per-model schemas from the signature ------------------------------------------------------


def _value_schema(spec: FeatureSpec) -> dict[str, Any]:
    """What a JSON value of this feature may be in a record, row or column."""
    schema: dict[str, Any]
    if spec.kind == "numeric":
        whole = spec.dtype.startswith(("int", "uint"))
        schema = {"type": "integer", **INT64} if whole else {"type": "number"}
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
        return nullable(schema)
    return schema


def _v2_datatype(spec: FeatureSpec) -> str:
    if spec.kind == "numeric":
        return "INT64" if spec.dtype.startswith(("int", "uint")) else "FP64"
    return "BOOL" if spec.kind == "boolean" else "BYTES"


def _v2_value_schema(spec: FeatureSpec) -> dict[str, Any]:
    """A V2 tensor element: integers tensors hold no null, FP, BOOL and BYTES may."""
    schema = _value_schema(spec)
    if spec.kind == "numeric" and _v2_datatype(spec) == "INT64":
        return {"type": "integer", **INT64}
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


class ServedModel:
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
        return {"anyOf": [per_feature, ref("inference_request")]}

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
        parameters = ref("output_choice")
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
        params = ref("output_choice")
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

    def explain_request_schema(self, max_rows: int) -> dict[str, Any]:
        """``/api/v1/models/{name}/explain``: records under exactly one of two keys."""
        return explain_schema(self.record_schema(), max_rows)


def explain_schema(record: dict[str, Any], max_rows: int) -> dict[str, Any]:
    """Exactly one of ``dataframe_records`` and ``instances``: 1 to ``max_rows`` records."""
    records = {"type": "array", "minItems": 1, "maxItems": max_rows, "items": record}
    return {
        "oneOf": [
            {
                "type": "object",
                "properties": {key: records},
                "required": [key],
                "additionalProperties": False,
            }
            for key in ("dataframe_records", "instances")
        ]
    }


GENERIC_RECORD = {"type": "object", "additionalProperties": SCALAR}
GENERIC_V1 = {
    "type": "object",
    "description": "Exactly one of `instances` (rows or records) and `inputs` (rows, records "
    "or columns).",
    "properties": {
        "instances": ref("table_rows"),
        "inputs": {"anyOf": [ref("table_rows"), ref("table_columns")]},
        "parameters": ref("output_choice"),
    },
}
GENERIC_MLFLOW = {
    "type": "object",
    "description": "Exactly one of `dataframe_split`, `dataframe_records`, `instances`, "
    "`inputs`; `params.output` as in V1.",
    "properties": {
        "dataframe_split": {
            "type": "object",
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "items": {"type": "array", "items": SCALAR}},
                "index": {"type": "array"},
            },
            "required": ["data"],
        },
        "dataframe_records": {
            "type": "array",
            "items": {"type": "object", "additionalProperties": SCALAR},
        },
        "instances": ref("table_rows"),
        "inputs": {"anyOf": [ref("table_rows"), ref("table_columns")]},
        "params": ref("output_choice"),
    },
}
