"""The ``/api/v1`` operations: the registry's models and aliases, endpoints and their
progressive rollouts, and feedback (the explanations sit with the model routes, in
:mod:`paths`, as they are answered per served endpoint)."""

from __future__ import annotations

from typing import Any

from shipyard.serving.feedback_api import MAX_ITEMS
from shipyard.serving.openapi.components import json_content, ref
from shipyard.serving.openapi.paths import Builder


def management_paths(b: Builder, example_model: str | None) -> None:
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
            "200": json_content(
                {
                    "type": "object",
                    "properties": {"models": {"type": "array", "items": ref("registry_model")}},
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
        {"200": json_content(ref("registry_model"), "The model.")},
        errors=[400, 404, 503],
        parameters=[name],
    )
    b.add(
        "/api/v1/models/{name}/versions",
        "GET",
        "A model's versions, oldest first",
        tag,
        {
            "200": json_content(
                {
                    "type": "object",
                    "properties": {"versions": {"type": "array", "items": ref("registry_version")}},
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
        {"200": json_content(ref("alias_move"), "The move.")},
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


_NAME_PATTERN = "^[a-z0-9][a-z0-9._-]{0,62}$"
_VERSION_NUMBER = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}


def endpoint_paths(b: Builder, example_endpoint: str | None) -> None:
    """The endpoints and their progressive rollouts (``/api/v1/endpoints...``)."""
    tag = "Endpoints and rollouts"
    name: dict[str, Any] = {
        "name": "name",
        "in": "path",
        "required": True,
        "description": "An endpoint's name.",
        "schema": {"type": "string", "pattern": _NAME_PATTERN},
    }
    if example_endpoint is not None:
        name["example"] = example_endpoint
    endpoints = {
        "type": "object",
        "properties": {"endpoints": {"type": "array", "items": ref("endpoint")}},
        "required": ["endpoints"],
    }
    b.add(
        "/api/v1/endpoints",
        "GET",
        "List endpoints (those the key reaches; `read` scope)",
        tag,
        {"200": json_content(endpoints, "The endpoints.")},
        errors=[503],
    )
    create_example = {"name": "churn-eu", "model": example_endpoint or "churn"}
    b.add(
        "/api/v1/endpoints",
        "POST",
        "Create an endpoint serving a model (`write` scope; audited with the key's name)",
        tag,
        {"201": json_content(ref("endpoint"), "The new endpoint, with its one main variant.")},
        errors=[400, 404, 409, 413, 503],
        body={
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string", "pattern": _NAME_PATTERN},
                            "model": {"type": "string", "pattern": _NAME_PATTERN},
                            "ref": {
                                "type": "string",
                                "description": "What the main variant serves (default "
                                "`MODEL@champion`).",
                                "examples": ["churn@champion", "churn/3"],
                            },
                        },
                        "required": ["name", "model"],
                    },
                    "example": create_example,
                }
            },
        },
        description="A name that is taken is a 409; a model that is not registered a 404.",
    )
    b.add(
        "/api/v1/endpoints/{name}",
        "GET",
        "One endpoint: its variants, routing policy and active rollout (`read` scope)",
        tag,
        {
            "200": json_content(
                {
                    "allOf": [ref("endpoint")],
                    "properties": {"rollout": {"anyOf": [ref("rollout"), {"type": "null"}]}},
                    "required": ["rollout"],
                },
                "The endpoint, with `rollout` null when none is active.",
            )
        },
        errors=[400, 404, 503],
        parameters=[name],
    )
    b.add(
        "/api/v1/endpoints/{name}/rollout",
        "POST",
        "Start a progressive rollout of a version on the endpoint (`write` scope; audited)",
        tag,
        {"201": json_content(ref("rollout"), "The rollout, started.")},
        errors=[400, 404, 409, 413, 503],
        parameters=[name],
        body={
            "required": True,
            "content": {
                "application/json": {
                    "schema": _ROLLOUT_REQUEST,
                    "example": {"version": 2, "mode": "canary", "share": 10},
                }
            },
        },
        description="One rollout at a time per endpoint (another active one is a 409). The "
        "server's controller then moves it along its plan; the actions below steer it.",
    )
    b.add(
        "/api/v1/endpoints/{name}/rollout",
        "GET",
        "The endpoint's newest rollout and where it stands (`read` scope)",
        tag,
        {"200": json_content(ref("rollout"), "The rollout.")},
        errors=[400, 404, 503],
        parameters=[name],
        description="404 when the endpoint has never had a rollout.",
    )
    for action, summary in _ACTION_SUMMARIES.items():
        b.add(
            f"/api/v1/endpoints/{{name}}/rollout/{action}",
            "POST",
            f"{summary} (`write` scope; audited)",
            tag,
            {"200": json_content(ref("rollout"), "The rollout after the action.")},
            errors=[400, 404, 409, 503],
            parameters=[name],
            description="No body. 404 without a rollout; 409 when the rollout's state does not "
            "allow the action (for example resuming one that is not paused).",
        )


_ACTION_SUMMARIES = {
    "promote": "Promote the candidate now: it takes all traffic and the champion alias",
    "rollback": "Roll back: the endpoint returns to its baseline",
    "pause": "Pause the rollout at its current weight",
    "resume": "Resume a paused rollout",
}
_ROLLOUT_REQUEST: dict[str, Any] = {
    "type": "object",
    "properties": {
        "version": {**_VERSION_NUMBER, "description": "The candidate version of the model."},
        "mode": {"type": "string", "enum": ["canary", "ab", "shadow"], "default": "canary"},
        "share": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 100,
            "description": "Percent: canary, the first step's weight; ab, the candidate's "
            "share of users (default 50); shadow, the share of requests mirrored (default 100; "
            "below 100 for the other modes).",
        },
        "key": {
            "type": "string",
            "description": "A/B only: `header:NAME` or `field:NAME`, what keeps a user on one "
            "variant.",
            "examples": ["header:x-user-id"],
        },
        "plan": {
            "type": "object",
            "description": "The rollout plan (steps, min_bake, min_samples, "
            "inconclusive_limit, alpha, guardrails, metric); unknown keys are a 400.",
            "examples": [{"steps": [5, 25, 50, 100], "min_bake": "5m", "min_samples": 1000}],
        },
    },
    "required": ["version"],
}


def feedback_paths(b: Builder) -> None:
    """``POST /api/v1/feedback``: the actual outcomes of logged predictions."""
    label = {
        "type": "object",
        "properties": {
            "request_id": {
                "type": "string",
                "minLength": 1,
                "description": "The request id the server answered with (`x-request-id`).",
            },
            "row_index": {
                "type": ["integer", "null"],
                "minimum": 0,
                "description": "The row within that request (optional for a one-row request).",
            },
            "value": {"description": 'The true outcome, as in 1 or "churned".'},
        },
        "required": ["request_id", "value"],
        "additionalProperties": False,
    }
    batch = {
        "type": "object",
        "properties": {"items": {"type": "array", "maxItems": MAX_ITEMS, "items": label}},
        "required": ["items"],
        "additionalProperties": False,
    }
    b.add(
        "/api/v1/feedback",
        "POST",
        "Report actual outcomes (ground truth) of logged predictions (`predict` scope)",
        "Feedback",
        {
            "200": json_content(
                ref("feedback_result"),
                "How many labels were stored; those matching no logged prediction are listed "
                "in `unknown`.",
            )
        },
        errors=[400, 404, 413, 503],
        body={
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"oneOf": [label, batch]},
                    "examples": {
                        "one": {"value": {"request_id": "example-1", "row_index": 0, "value": 1}},
                        "batch": {"value": {"items": [{"request_id": "example-1", "value": 0}]}},
                    },
                }
            },
        },
        description=f"One label, or a batch of up to {MAX_ITEMS} under `items`. A label for a "
        "row that already has one replaces it. 404 while the prediction log is off.",
    )
