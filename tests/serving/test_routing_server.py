"""Routing inside the app: A/B keyed by a request field (V2 parameters, or a feature's first
row in V1 and MLflow), a /versions/{v} request bypassing the variants, and requests without the
key counted as unkeyed; the variant is in the header, the metrics and the prediction log."""

from __future__ import annotations

import asyncio
from typing import Any

from _v2_helpers import client, lifespan, per_feature, rows, wait_ready

from shipyard.registry.endpoints import EndpointStore, Variant
from shipyard.serving.server import build_app


def test_ab_by_a_request_field(registry_with_models: Any, churn_data: Any) -> None:
    registry = registry_with_models
    EndpointStore(registry.db).ensure("churn", "churn", "churn@champion", "tester")
    EndpointStore(registry.db).set_routing(
        "churn", "ab", [Variant("main", "churn@champion", 0.5), Variant("b", "churn/2", 0.5)],
        "tester", key="field:tenure_months",
    )  # fmt: skip
    app = build_app(registry, None, poll_interval=0.05, rollout_interval=None)
    X = rows(churn_data, 40)

    async def main() -> None:
        async with client(app) as http, lifespan(app):
            await wait_ready(http)
            while app.hosts["churn"].route is None:
                await asyncio.sleep(0.02)
            by_tenure: dict[int, set[str]] = {}
            for i in range(len(X)):
                row = X.iloc[[i]]
                tenure = int(row["tenure_months"].iloc[0])
                v2 = await http.post(
                    "/v2/models/churn/infer",
                    json=per_feature(row, parameters={"tenure_months": tenure}),
                )
                v1 = await http.post(
                    "/v1/models/churn:predict", json={"instances": row.to_dict("records")}
                )
                ml = await http.post(
                    "/invocations", json={"dataframe_records": row.to_dict("records")}
                )
                for reply in (v2, v1, ml):
                    assert reply.status_code == 200, reply.text
                    variant = reply.headers["x-shipyard-variant"]
                    ref = reply.headers["x-shipyard-model-version"]
                    assert (variant, ref) in {("main", "churn/1"), ("b", "churn/2")}
                    by_tenure.setdefault(tenure, set()).add(variant)
            assert all(len(v) == 1 for v in by_tenure.values())  # one user, one variant
            assert set().union(*by_tenure.values()) == {"main", "b"}
            pinned = await http.post("/v2/models/churn/versions/2/infer", json=per_feature(X))
            assert pinned.headers["x-shipyard-variant"] == "main"  # not routed: the endpoint's
            metrics = (await http.get("/metrics")).text
            assert 'variant="b"' in metrics
            # The version loaded for variant b, and its batches, are labelled b, not main.
            b = 'endpoint="churn",model="churn",version="2",variant="b"'
            assert f"shipyard_model_load_seconds{{{b}}}" in metrics
            assert f"shipyard_batch_size_count{{{b}}}" in metrics
            assert (
                'shipyard_model_load_seconds{endpoint="churn",model="churn",version="2",variant="main"}'
                not in metrics
            )

    asyncio.run(main())
    stats = app.hosts["churn"].stats
    assert stats["b"].requests + stats["main"].requests == 3 * len(X)


def test_requests_without_the_header_key_are_counted(
    registry_with_models: Any, churn_data: Any
) -> None:
    registry = registry_with_models
    EndpointStore(registry.db).ensure("churn", "churn", "churn@champion", "tester")
    EndpointStore(registry.db).set_routing(
        "churn", "ab", [Variant("main", "churn@champion", 0.5), Variant("b", "churn/2", 0.5)],
        "tester", key="header:x-user",
    )  # fmt: skip
    app = build_app(registry, None, poll_interval=0.05, rollout_interval=None)
    body = per_feature(rows(churn_data, 1))

    async def main() -> None:
        async with client(app) as http, lifespan(app):
            await wait_ready(http)
            while app.hosts["churn"].route is None:
                await asyncio.sleep(0.02)
            for _ in range(20):
                assert (await http.post("/v2/models/churn/infer", json=body)).status_code == 200

    asyncio.run(main())
    stats = app.hosts["churn"].stats
    assert sum(s.unkeyed for s in stats.values()) == 20
