"""Helpers for the deploy-target tests: a Dockerfile reader, offline schema validation of
Kubernetes and KServe manifests, V2 request bodies."""

from __future__ import annotations

import json
import shlex
from functools import cache
from pathlib import Path
from typing import Any

import yaml

KUBERNETES_VERSION = "1.33"
KSERVE_CRD = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "schemas"
    / "kserve"
    / "serving.kserve.io_inferenceservices.yaml"
)


# -- Dockerfile -------------------------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` in order, continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    assert not pending, "a continuation line at the end of the Dockerfile"
    return result


def dockerfile_env(instructions: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in instructions:
        if keyword == "ENV":
            for item in shlex.split(rest):
                key, sep, value = item.partition("=")
                assert sep, f"ENV in the legacy 'KEY VALUE' form: {rest!r}"
                env[key] = value
    return env


def exec_form(instructions: list[tuple[str, str]], keyword: str) -> list[str]:
    found = [rest for k, rest in instructions if k == keyword]
    assert len(found) == 1, f"expected one {keyword}"
    argv = json.loads(found[0])
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv)
    return argv


def copies(instructions: list[tuple[str, str]]) -> dict[str, str]:
    """Destination in the image -> source in the build context, from the COPY lines."""
    mapping = {}
    for keyword, rest in instructions:
        if keyword == "COPY":
            parts = [p for p in shlex.split(rest) if not p.startswith("--")]
            *sources, dest = parts
            assert len(sources) == 1
            mapping[dest.rstrip("/")] = sources[0].rstrip("/")
    return mapping


# -- Kubernetes and KServe schemas -----------------------------------------------------------


def validate_kubernetes(document: dict[str, Any]) -> None:
    """Strict validation against the official schemas that kubernetes-validate ships (offline):
    unknown fields are errors."""
    import kubernetes_validate

    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


@cache
def kserve_schema() -> dict[str, Any]:
    """The CRD's v1beta1 openAPIV3Schema, closed: every object with ``properties`` rejects
    unknown fields, as the API server's pruning would drop them."""
    crd = yaml.load(KSERVE_CRD.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1beta1"]
    return _closed(version["schema"]["openAPIV3Schema"])


def _closed(node: Any) -> Any:
    if isinstance(node, list):
        return [_closed(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _closed(value) for key, value in node.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def validate_inference_service(document: dict[str, Any]) -> None:
    import jsonschema

    schema = kserve_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(
        jsonschema.Draft7Validator(schema).iter_errors(document), key=lambda e: list(e.path)
    )
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


# -- V2 bodies -------------------------------------------------------------------------------


def per_feature(X: Any) -> dict[str, Any]:
    inputs = []
    for name in X.columns:
        column = X[name]
        if column.dtype.kind == "f":
            datatype, data = "FP64", [float(v) for v in column]
        elif column.dtype.kind in "iu":
            datatype, data = "INT64", [int(v) for v in column]
        else:
            datatype, data = "BYTES", [str(v) for v in column]
        inputs.append({"name": name, "datatype": datatype, "shape": [len(X)], "data": data})
    return {"inputs": inputs}
