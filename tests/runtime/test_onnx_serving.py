"""The server's answers through the ONNX fast path equal the native model's."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np


def _app(registry: Any, refs: list[str]) -> Any:
    from shipyard.registry.endpoints import EndpointStore
    from shipyard.serving.app import ServingApp
    from shipyard.serving.hosts import ModelHost

    store = EndpointStore(registry.db)
    hosts = {}
    for ref in refs:
        model = ref.split("@")[0].split("/")[0]
        endpoint = store.ensure(model, model, ref, registry.actor)
        hosts[model] = ModelHost(registry, endpoint, poll_interval=0.05)
    return ServingApp(hosts)


def _serve(app: Any, test: Any) -> None:
    from _v2_helpers import client, lifespan, wait_ready

    async def main() -> None:
        async with lifespan(app), client(app) as http:
            await wait_ready(http)
            await test(http)

    asyncio.run(main())


def test_served_predictions_through_onnx_equal_the_native_model(
    sqlite_registry: Any, churn_set: Any
) -> None:
    from _v2_helpers import per_feature, rows
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    d = churn_set

    def pipeline(final: Any) -> Any:
        pre = ColumnTransformer(
            [
                ("num", make_pipeline(SimpleImputer(), StandardScaler()), d.numeric),
                ("cat", OneHotEncoder(handle_unknown="ignore"), d.categorical),
            ]
        )
        return Pipeline([("pre", pre), ("final", final)]).fit(d.X, d.y)

    models = {
        "forest": pipeline(RandomForestClassifier(n_estimators=25, random_state=0)),
        "logit": pipeline(LogisticRegression(max_iter=500)),
    }
    for name, model in models.items():
        sqlite_registry.register(model, name, reference=d.X, target=d.y)
    app = _app(sqlite_registry, ["forest/1", "logit/1"])
    X = rows(d, 9)

    async def test(http: Any) -> None:
        for name, model in models.items():
            host = app.hosts[name]
            assert host.current.path == "onnx"
            # Concurrent requests, one row each: they go through the batcher together.
            answers = await asyncio.gather(
                *[
                    http.post(f"/v2/models/{name}/infer", json=per_feature(X.iloc[[i]]))
                    for i in range(len(X))
                ]
            )
            for i, response in enumerate(answers):
                assert response.status_code == 200, response.text
                label, proba = response.json()["outputs"]
                assert label["data"] == model.predict(X.iloc[[i]]).tolist()
                np.testing.assert_allclose(
                    proba["data"], model.predict_proba(X.iloc[[i]])[0], rtol=0, atol=1e-5
                )
            # And one multi-row request.
            response = await http.post(f"/v2/models/{name}/infer", json=per_feature(X))
            label, proba = response.json()["outputs"]
            assert label["data"] == model.predict(X).tolist()
            np.testing.assert_allclose(
                np.reshape(proba["data"], (len(X), 2)), model.predict_proba(X), atol=1e-5
            )
            assert host.batcher.batches >= 1

    _serve(app, test)


def test_a_rejected_version_is_served_natively(sqlite_registry: Any, numeric_set: Any) -> None:
    from sklearn.semi_supervised import LabelSpreading

    X, y = numeric_set
    model = LabelSpreading().fit(X.iloc[:200], y[:200])
    sqlite_registry.register(model, "spread", reference=X.iloc[:200], target=y[:200])
    app = _app(sqlite_registry, ["spread/1"])
    row = X.iloc[:3]

    async def test(http: Any) -> None:
        assert app.hosts["spread"].current.path == "native"
        request = {
            "inputs": [
                {
                    "name": "x",
                    "datatype": "FP64",
                    "shape": [3, 20],
                    "data": row.values.ravel().tolist(),
                }
            ]
        }
        response = await http.post("/v2/models/spread/infer", json=request)
        assert response.status_code == 200, response.text
        label, proba = response.json()["outputs"]
        assert label["data"] == model.predict(row).tolist()
        np.testing.assert_allclose(
            np.reshape(proba["data"], (3, -1)), model.predict_proba(row), atol=1e-12
        )

    _serve(app, test)


def test_a_corrupt_onnx_artifact_falls_back_to_native(
    sqlite_registry: Any, numeric_set: Any, caplog: Any
) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = numeric_set
    version = sqlite_registry.register(LogisticRegression().fit(X, y), "m", reference=X, target=y)
    path = sqlite_registry.artifacts.path(version.attachments["onnx"])
    path.write_bytes(b"not the bytes that were stored")  # the digest check must catch it
    app = _app(sqlite_registry, ["m/1"])

    async def test(http: Any) -> None:
        assert app.hosts["m"].current.path == "native"

    _serve(app, test)
    assert any("no ONNX fast path" in r.getMessage() for r in caplog.records)
