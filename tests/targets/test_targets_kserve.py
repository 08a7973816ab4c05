"""`shipyard export kserve`: an InferenceService that KServe's own CRD schema accepts, with the
image as a custom predictor."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from _deploy_helpers import load_documents, validate_inference_service, validate_kubernetes


def test_inference_service_validates_against_the_crd(
    deploy_registry: Any, shipyard_cli: Any, tmp_path: Path
) -> None:
    out = tmp_path / "kserve"
    shipyard_cli(
        "export",
        "kserve",
        "churn",
        "--image",
        "registry.example.com/ml/churn:1.0",
        "--namespace",
        "ml",
        "--replicas",
        "2..6",
        "--out",
        str(out),
    )
    (service,) = load_documents(out / "inferenceservice.yaml")
    validate_inference_service(service)
    assert service["apiVersion"] == "serving.kserve.io/v1beta1"
    predictor = service["spec"]["predictor"]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (2, 6)
    (server,) = predictor["containers"]
    assert server["name"] == "kserve-container"
    assert server["image"] == "registry.example.com/ml/churn:1.0"
    assert server["ports"] == [{"name": "http1", "containerPort": 8080, "protocol": "TCP"}]
    assert server["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert server["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert server["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    (config,) = load_documents(out / "configmap.yaml")
    validate_kubernetes(config)
    assert config["data"]["SHIPYARD_PREDLOG_MODE"] == "durable"
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in server["env"]}
    assert env["SHIPYARD_PREDLOG_URL"]["key"] == "predlog-url"
    assert env["SHIPYARD_PREDLOG_URL"]["name"] == env["SHIPYARD_DATABASE_URL"]["name"]
    assert "--from-literal=predlog-url=" in (out / "README.md").read_text()


def test_the_crd_check_rejects_unknown_fields(
    deploy_registry: Any, shipyard_cli: Any, tmp_path: Path
) -> None:
    out = tmp_path / "kserve"
    shipyard_cli("export", "kserve", "churn", "--image", "churn:1", "--out", str(out))
    (service,) = load_documents(out / "inferenceservice.yaml")
    broken = copy.deepcopy(service)
    broken["spec"]["predictor"]["containers"][0]["readinessProbe"]["httpGets"] = {}
    with pytest.raises(AssertionError, match="httpGets"):
        validate_inference_service(broken)
