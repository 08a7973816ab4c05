"""schemathesis against ``/openapi.json``: the server under uvicorn on loopback, with auth on,
every operation fuzzed from the document (bounded, deterministic), and every response checked:
no 5xx, a documented status, the documented content type, headers and body schema."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shipyard.registry.keys import KeyStore  # noqa: E402
from shipyard.serving.background import BackgroundServer  # noqa: E402
from shipyard.serving.server import build_app  # noqa: E402

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 30
NEGATIVE_EXAMPLES = 15
# A version addressed directly (/versions/{version}) is decoded by the same code as its
# endpoint's route, with the generic request schemas: fewer cases there keep the whole run
# within its budget (about 90 s on 2 cores, server start included; timed outside pass/fail).
VERSIONED_EXAMPLES = 10
VERSIONED_NEGATIVE_EXAMPLES = 5


def _csv_bodies(features: list[str]) -> st.SearchStrategy[bytes]:
    """CSV with the model's header row (sometimes another) and a few rows of odd cells."""
    cell = st.one_of(
        st.integers(-(10**6), 10**6).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.sampled_from(["", "NA", "nan", "true", "False", "monthly", "one-year"]),
        st.text(max_size=8),
    )
    header = st.one_of(st.just(features), st.lists(st.text(max_size=6), min_size=1, max_size=4))

    @st.composite
    def body(draw: Any) -> bytes:
        names = draw(header)
        rows = draw(st.lists(st.lists(cell, min_size=len(names), max_size=len(names)), max_size=3))
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(names)
        writer.writerows(rows)
        return out.getvalue().encode("utf-8")

    return body()


@pytest.mark.slow
def test_schemathesis_finds_no_5xx_and_no_schema_violation(registry_with_models: Any) -> None:
    registry = registry_with_models
    _, token = KeyStore(registry.db).create(["admin"], actor="tester")
    auth = {"Authorization": f"Bearer {token}"}
    app = build_app(registry, ["churn@champion", "numeric@champion"], poll_interval=0.2)
    features = [f["name"] for f in registry.get_version("churn@champion").signature["inputs"]]
    schemathesis.openapi.media_type("text/csv", _csv_bodies(features))
    with BackgroundServer(app) as base:
        schema = schemathesis.openapi.from_url(f"{base}/openapi.json", headers=auth, timeout=10)
        failures: dict[str, str] = {}
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 30
        for operation in operations:
            error = _fuzz(operation, base, auth)
            if error is not None:
                failures[operation.label] = error
    assert not failures, "\n\n".join(f"{label}:\n{error}" for label, error in failures.items())
    covered = {operation.path for operation in operations}
    assert {
        "/api/v1/endpoints",
        "/api/v1/endpoints/{name}/rollout/promote",
        "/api/v1/feedback",
        "/api/v1/models/churn/explain",
    } <= covered


def _fuzz(operation: Any, base: str, auth: dict[str, str]) -> str | None:
    """Run the document's examples, then generated cases; the first failure's report, or None."""

    def check(case: Any) -> None:
        case.call_and_validate(base_url=base, headers=auth, checks=CHECKS, timeout=10)

    versioned = "/versions/{version}" in operation.path
    positive, negative = (
        (VERSIONED_EXAMPLES, VERSIONED_NEGATIVE_EXAMPLES)
        if versioned
        else (MAX_EXAMPLES, NEGATIVE_EXAMPLES)
    )
    runs = [(operation.as_strategy(), positive)]
    if operation.body:  # bodies that break the schema too: each must still be a clean 4xx
        runs.append((operation.as_strategy(GenerationMode.NEGATIVE), negative))
    examples = operation.get_strategies_from_examples()
    if examples:
        runs.insert(0, (st.one_of(examples), 8))
    for strategy, count in runs:
        run = settings(
            max_examples=count,
            derandomize=True,  # a fixed seed: the same cases every run
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: the report is enough
            suppress_health_check=list(HealthCheck),
        )(given(case=strategy)(check))
        try:
            run()
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
    return None
