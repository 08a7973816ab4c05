"""The server records what it answers in the prediction log: V2 (JSON and binary), V1 and MLflow,
one record per row under the response's request id; durable mode answers only after the commit;
``predlog_mode="off"`` records nothing; ``/metrics`` shows the log's counters."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from _v2_helpers import client, lifespan, per_feature, rows, wait_ready
from test_ops_metrics import parse, value

from shipyard.errors import ConfigError
from shipyard.predlog import PredictionLog, read_window
from shipyard.serving.app import ServingApp
from shipyard.serving.server import build_app
from shipyard.settings import Settings


def _app(registry: Any, **settings: Any) -> ServingApp:
    registry.settings = registry.settings.replace(**settings)
    return build_app(registry, ["churn@champion", "numeric@champion"])


def _log(app: ServingApp) -> PredictionLog:
    assert app.prediction_log is not None
    return app.prediction_log


def _plain(X: Any) -> list[dict[str, Any]]:
    return json.loads(X.to_json(orient="records"))  # type: ignore[no-any-return]


def _binary_body(X: Any) -> tuple[bytes, bytes]:
    """A V2 request with every input as raw little-endian binary data (Triton's extension)."""
    inputs, raw = [], b""
    for name in X.columns:
        column = X[name]
        datatype, dtype = ("FP64", "<f8") if column.dtype.kind == "f" else ("INT64", "<i8")
        data = column.to_numpy().astype(dtype).tobytes()
        inputs.append(
            {
                "name": name,
                "datatype": datatype,
                "shape": [len(X)],
                "parameters": {"binary_data_size": len(data)},
            }
        )
        raw += data
    header = json.dumps({"inputs": inputs}).encode()
    return header + raw, str(len(header)).encode()


def test_every_protocol_is_recorded(registry_with_models: Any, churn_data: Any) -> None:
    app = _app(registry_with_models)  # buffered, the default
    log = _log(app)
    assert log.mode == "buffered"
    X = rows(churn_data, 3)
    Xn = rows(churn_data, 2, start=10)[churn_data.numeric]
    records = _plain(X)
    sent: dict[str, tuple[str, int, str, list[dict[str, Any]], list[Any]]] = {}

    async def main() -> None:
        async with client(app) as http, lifespan(app):
            await wait_ready(http)

            async def post(
                endpoint: str, version: int, variant: str, inputs: Any, **kw: Any
            ) -> Any:
                response = await http.post(**kw)
                assert response.status_code == 200, response.text
                rid = response.headers["x-request-id"]
                assert rid not in sent
                body = kw.get("json") or {}
                labels = (
                    response.json()["predictions"] if "predictions" in response.text[:20] else None
                )
                if labels is None and body:
                    labels = response.json()["outputs"][0]["data"]
                sent[rid] = (endpoint, version, variant, inputs, labels or [])
                return response

            await post(
                "churn", 1, "main", records,
                url="/v2/models/churn/infer", json=per_feature(X),
                headers={"x-request-id": "given-v2"},
            )  # fmt: skip
            await post("churn", 1, "main", records, url="/v2/models/churn/infer",
                       json=per_feature(X, id="body-id"))  # fmt: skip
            await post("churn", 2, "", records, url="/v2/models/churn/versions/2/infer",
                       json=per_feature(X))  # fmt: skip
            body, length = _binary_body(Xn)
            await post(
                "numeric", 1, "main", _plain(Xn), url="/v2/models/numeric/infer", content=body,
                headers={"inference-header-content-length": length.decode()},
            )  # fmt: skip
            await post("churn", 1, "main", records, url="/v1/models/churn:predict",
                       json={"instances": records})  # fmt: skip
            await post("churn", 2, "", records, url="/v1/models/churn/versions/2:predict",
                       json={"instances": records})  # fmt: skip
            await post(
                "numeric", 1, "main", _plain(Xn), url="/invocations",
                json={"dataframe_records": _plain(Xn)}, headers={"x-shipyard-model": "numeric"},
            )  # fmt: skip
            assert (await http.post("/v2/models/churn/infer", content=b"{")).status_code == 400

    asyncio.run(main())
    # Shutdown wrote everything (flush_interval is 1s; no flush was asked for).
    assert log.pending == 0
    assert "given-v2" in sent
    window = read_window(log.store)
    meta = window.meta
    assert len(meta) == sum(len(v[3]) for v in sent.values())
    assert set(meta["request_id"]) == set(sent)
    inputs = window.inputs
    for rid, (endpoint, version, variant, expected, labels) in sent.items():
        mine = meta.index[meta["request_id"] == rid]
        assert sorted(meta.loc[mine, "row_index"]) == list(range(len(expected)))
        for i in mine:
            row = meta.loc[i]
            assert (row["endpoint"], row["model"]) == (endpoint, endpoint)
            assert (row["version"], row["variant"]) == (version, variant)
            assert row["latency_ms"] > 0
            want = expected[row["row_index"]]
            got = {k: inputs.loc[i, k] for k in want}
            assert got == pytest.approx(want)
            if labels:
                assert window.labels[i] == labels[row["row_index"]]


def test_durable_answers_after_the_commit(registry_with_models: Any, churn_data: Any) -> None:
    # A long flush interval: only the durable path can have committed by the response.
    app = _app(registry_with_models, predlog_mode="durable", predlog_flush_interval=60)
    log = _log(app)
    assert log.mode == "durable"
    X = rows(churn_data, 2)

    async def main() -> None:
        async with client(app) as http, lifespan(app):
            await wait_ready(http)
            requests = [
                ("/v2/models/churn/infer", {"json": per_feature(X)}),
                ("/v1/models/churn:predict", {"json": {"instances": _plain(X)}}),
                ("/invocations", {"json": {"dataframe_records": _plain(X)}}),
            ]
            for n, (url, kw) in enumerate(requests, 1):
                response = await http.post(url, **kw)
                assert response.status_code == 200, response.text
                assert log.store.count() == 2 * n  # committed before the answer, no flush
                with log.store.read() as conn:
                    ids = {r[0] for r in conn.exec_driver_sql("SELECT request_id FROM predictions")}
                assert response.headers["x-request-id"] in ids
            # A log that cannot take the records: no prediction is acknowledged unrecorded.
            await asyncio.to_thread(log.close)
            refused = await http.post("/v2/models/churn/infer", json=per_feature(X))
            assert refused.status_code == 503
            assert "prediction log" in refused.json()["error"]
            mlflow = await http.post("/invocations", json={"dataframe_records": _plain(X)})
            assert mlflow.status_code == 503
            assert "prediction log" in mlflow.text
            assert log.store.count() == 6

    asyncio.run(main())


def test_off_records_nothing(registry_with_models: Any, churn_data: Any) -> None:
    app = _app(registry_with_models, predlog_mode="off")
    assert app.prediction_log is None
    X = rows(churn_data, 2)

    async def main() -> None:
        async with client(app) as http, lifespan(app):
            await wait_ready(http)
            assert (await http.post("/v2/models/churn/infer", json=per_feature(X))).is_success
            metrics = (await http.get("/metrics")).text
            assert "shipyard_predlog" not in metrics

    asyncio.run(main())
    home: Path = registry_with_models.settings.home
    assert not list(home.rglob("predictions.db*"))


def test_metrics_counters_move(registry_with_models: Any, churn_data: Any) -> None:
    app = _app(registry_with_models, predlog_flush_interval=60)
    log = _log(app)
    X = rows(churn_data, 3)

    async def scrape(http: Any) -> dict[Any, float]:
        types, samples = parse((await http.get("/metrics")).text)
        assert types["shipyard_predlog_written_total"] == "counter"
        assert types["shipyard_predlog_pending"] == "gauge"
        assert types["shipyard_predlog_failed_total"] == "counter"
        assert types["shipyard_predlog_dropped_total"] == "counter"
        return samples

    def get(samples: dict[Any, float], name: str) -> float:
        return value(samples, f"shipyard_predlog_{name}")

    async def main() -> None:
        async with client(app) as http, lifespan(app):
            await wait_ready(http)
            before = await scrape(http)
            assert get(before, "written_total") == get(before, "pending") == 0
            assert (await http.post("/v2/models/churn/infer", json=per_feature(X))).is_success
            buffered = await scrape(http)
            assert get(buffered, "pending") == 3  # waiting for the 60s flush
            assert get(buffered, "written_total") == 0
            assert await asyncio.to_thread(log.flush, 10)
            flushed = await scrape(http)
            assert (get(flushed, "pending"), get(flushed, "written_total")) == (0, 3)
            assert get(flushed, "failed_total") == 0
            # Records the log refuses in buffered mode: answered, counted, never silently lost.
            await asyncio.to_thread(log.close)
            answered = await http.post("/v2/models/churn/infer", json=per_feature(X))
            assert answered.status_code == 200
            assert get(await scrape(http), "dropped_total") == 3
            assert app.predlog_dropped == 3

    asyncio.run(main())


def test_predlog_settings(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert (settings.predlog_url, settings.predlog_mode) == ("", "buffered")
    assert settings.predlog_flush_interval == 1.0
    assert Settings.load({"SHIPYARD_PREDLOG_MODE": "durable"}, home=tmp_path).predlog_mode == (
        "durable"
    )
    with pytest.raises(ConfigError, match="predlog_mode"):
        Settings(home=tmp_path, predlog_mode="sometimes")
    with pytest.raises(ConfigError, match="predlog_flush_interval"):
        Settings(home=tmp_path, predlog_flush_interval=0)
