"""Triton's binary tensor data extension, driven by the real ``tritonclient.http`` with its
defaults (binary inputs and outputs) against uvicorn on a loopback port."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _v2_helpers import rows

from shipyard.serving.background import BackgroundServer
from shipyard.serving.server import build_app


def _inputs(X: Any) -> list[Any]:
    """One InferInput per feature, as a tritonclient user writes them (binary by default)."""
    import tritonclient.http as triton

    inputs = []
    for name in X.columns:
        column = X[name]
        if column.dtype.kind in "iuf":
            values = column.to_numpy(dtype=np.float64).reshape(-1, 1)
            tensor = triton.InferInput(name, list(values.shape), "FP64")
        else:
            values = column.to_numpy(dtype=object).reshape(-1, 1)
            tensor = triton.InferInput(name, list(values.shape), "BYTES")
        tensor.set_data_from_numpy(values)
        inputs.append(tensor)
    return inputs


def test_tritonclient_with_its_defaults(registry_with_models: Any, churn_data: Any) -> None:
    import tritonclient.http as triton
    from tritonclient.utils import InferenceServerException

    X = rows(churn_data, 9)
    champion = registry_with_models.load("churn@champion")
    forest = registry_with_models.load("churn/2")
    numeric = registry_with_models.load("numeric@champion")
    app = build_app(registry_with_models, ["churn@champion", "numeric@champion"])
    with BackgroundServer(app, loop="uvloop") as base:
        client = triton.InferenceServerClient(url=base.removeprefix("http://"))
        try:
            assert client.is_server_live() and client.is_server_ready()
            assert client.is_model_ready("churn")
            assert "binary_tensor_data" in client.get_server_metadata()["extensions"]
            meta = client.get_model_metadata("churn")
            assert meta["name"] == "churn" and meta["versions"] == ["1"]
            assert client.get_model_metadata("churn", "2")["versions"] == ["2"]

            # Per-feature inputs, outputs named: binary both ways (tritonclient's defaults).
            outputs = [
                triton.InferRequestedOutput("label"),
                triton.InferRequestedOutput("probabilities"),
            ]
            for version, model in (("", champion), ("2", forest)):
                result = client.infer(
                    "churn", _inputs(X), model_version=version, outputs=outputs, request_id="t-1"
                )
                response = result.get_response()
                assert response["id"] == "t-1"
                assert all("binary_data_size" in o["parameters"] for o in response["outputs"])
                assert result.as_numpy("label").tolist() == model.predict(X).tolist()
                # FP64 bytes travel exactly; the bound is the ONNX fast path's (issue 3: 1e-5).
                expected = model.predict_proba(X)
                np.testing.assert_allclose(result.as_numpy("probabilities"), expected, atol=1e-5)

            # No outputs named: tritonclient asks for all of them as binary data.
            result = client.infer("churn", _inputs(X))
            assert result.as_numpy("label").tolist() == champion.predict(X).tolist()
            assert result.as_numpy("probabilities").shape == (9, 2)

            # One 2-D FP64 tensor in signature order; JSON outputs when asked.
            table = X[churn_data.numeric].to_numpy(dtype=np.float64)
            tensor = triton.InferInput("input-0", list(table.shape), "FP64")
            tensor.set_data_from_numpy(table)
            result = client.infer(
                "numeric",
                [tensor],
                outputs=[triton.InferRequestedOutput("label", binary_data=False)],
            )
            assert "data" in result.get_output("label")
            assert (
                result.as_numpy("label").tolist() == numeric.predict(X[churn_data.numeric]).tolist()
            )

            # JSON inputs, binary outputs.
            tensor.set_data_from_numpy(table, binary_data=False)
            result = client.infer(
                "numeric", [tensor], outputs=[triton.InferRequestedOutput("label")]
            )
            assert (
                result.as_numpy("label").tolist() == numeric.predict(X[churn_data.numeric]).tolist()
            )

            # A signature violation reaches the client as an error naming the feature.
            with pytest.raises(InferenceServerException, match="missing feature 'region'"):
                client.infer("churn", _inputs(X.drop(columns=["region"])))
            with pytest.raises(InferenceServerException, match="no model named 'fraud'"):
                client.infer("fraud", _inputs(X))
        finally:
            client.close()
