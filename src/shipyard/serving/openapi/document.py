"""The whole document, rendered once per set of served versions, and the ``/docs`` page."""

from __future__ import annotations

import functools
import importlib.resources
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

import orjson

from shipyard.serving.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from shipyard.serving.openapi.api_paths import endpoint_paths, feedback_paths, management_paths
from shipyard.serving.openapi.components import (
    OPENAPI_VERSION,
    REQUEST_ID,
    SCHEMAS,
    components_responses,
    json_content,
    ref,
)
from shipyard.serving.openapi.model_schemas import ServedModel
from shipyard.serving.openapi.paths import (
    Builder,
    explain_paths,
    mlflow_paths,
    v1_model_paths,
    v2_model_paths,
)

if TYPE_CHECKING:
    from shipyard.serving.hosts import ModelHost


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
    models = [ServedModel(name, host.current) for name, host in hosts.items()]
    b = Builder(auth=auth, open_paths=open_paths)
    v2 = "Open Inference Protocol (V2)"
    b.add(
        "/v2",
        "GET",
        "V2 server metadata",
        v2,
        {"200": json_content(ref("metadata_server_response"), "Name, version and extensions.")},
    )
    b.add("/v2/health/live", "GET", "V2 liveness", v2, {"200": json_content(ref("live"), "Alive.")})
    b.add(
        "/v2/health/ready",
        "GET",
        "V2 readiness: every served model loaded",
        v2,
        {"200": json_content(ref("ready"), "Every endpoint has a loaded version.")},
        errors=[503],
    )
    for model in models:
        base = f"/v2/models/{model.name}"
        v2_model_paths(b, model, base, versioned=False)
        v2_model_paths(b, model, f"{base}/versions/{{version}}", versioned=True)
    b.add(
        "/v1/models",
        "GET",
        "KServe V1: the served endpoints",
        "KServe V1",
        {"200": json_content(ref("v1_models"), "Endpoint names.")},
    )
    for model in models:
        base = f"/v1/models/{model.name}"
        v1_model_paths(b, model, base, versioned=False)
        v1_model_paths(b, model, f"{base}/versions/{{version}}", versioned=True)
    mlflow_paths(b, models)
    b.add(
        "/metrics",
        "GET",
        "Prometheus metrics",
        "Operations",
        {
            "200": {
                "description": "Prometheus text format (" + METRICS_CONTENT_TYPE.decode() + ").",
                "headers": {"x-request-id": REQUEST_ID},
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    b.add(
        "/openapi.json",
        "GET",
        "This document",
        "Operations",
        {"200": json_content({"type": "object"}, "The OpenAPI document.")},
    )
    b.add(
        "/docs",
        "GET",
        "A page rendering this document (self-contained: no external asset)",
        "Operations",
        {
            "200": {
                "description": "HTML.",
                "headers": {"x-request-id": REQUEST_ID},
                "content": {"text/html": {"schema": {"type": "string"}}},
            }
        },
    )
    for model in models:  # answered with or without the management API
        explain_paths(b, model)
    if management:
        management_paths(b, next((host.model for host in hosts.values()), None))
        endpoint_paths(b, next(iter(hosts), None))
        feedback_paths(b)
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
            "schemas": SCHEMAS,
            "responses": components_responses(),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "shp_...",
                    "description": "An API key (shipyard keys create). Scopes: `read` for "
                    "GET routes, `predict` for inference, explanations and feedback, `write` "
                    "for the management API's changes, `admin` for all. Health probes need no "
                    "key.",
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
                "Explanations",
                *(["Management", "Endpoints and rollouts", "Feedback"] if management else []),
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
