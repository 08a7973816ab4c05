"""`shipyard export kubernetes`: every manifest validates strictly against the official
Kubernetes schemas (offline), plain and as kustomize overlays rendered by `kubectl kustomize`."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from _deploy_helpers import load_documents, validate_kubernetes

from shipyard.targets.kubernetes import DRAIN_SECONDS, manifests, secret_instructions
from shipyard.targets.options import DeployOptions

EXPORT = ("export", "kubernetes", "churn", "--image", "registry.example.com/ml/churn:1.0")


def _by_kind(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    kinds = {d["kind"]: d for d in documents}
    assert len(kinds) == len(documents), "one object per kind"
    return kinds


def test_plain_manifests_validate(deploy_registry: Any, shipyard_cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    shipyard_cli(
        *EXPORT,
        "--replicas",
        "2..10",
        "--cpu",
        "1",
        "--memory",
        "1Gi",
        "--namespace",
        "ml",
        "--out",
        str(out),
        "--in-flight-target",
        "8",
        "--metrics-open",
    )
    documents = [d for p in sorted(out.glob("*.yaml")) for d in load_documents(p)]
    for document in documents:
        validate_kubernetes(document)
    kinds = _by_kind(documents)
    assert set(kinds) == {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "ConfigMap",
    }
    assert "Secret" not in kinds  # referenced, never written with values
    assert all(d["metadata"]["namespace"] == "ml" for d in documents)

    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    (server,) = pod["containers"]
    assert server["image"] == "registry.example.com/ml/churn:1.0"
    assert server["command"][:3] == ["shipyard", "serve", "churn@champion"]
    assert server["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert server["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    startup = server["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 300
    assert server["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}
    assert server["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    pre_stop = int(server["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["terminationGracePeriodSeconds"] > pre_stop + DRAIN_SECONDS
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"]
    assert server["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m["name"] for m in server["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    config = kinds["ConfigMap"]["data"]
    assert "emptyDir" in volumes[mounts[config["SHIPYARD_HOME"]]]
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in server["env"]}
    assert env["SHIPYARD_DATABASE_URL"]["key"] == "database-url"
    # The prediction log's URL comes from the same Secret and is required: without it each pod
    # would log into its own emptyDir.
    predlog = env["SHIPYARD_PREDLOG_URL"]
    assert predlog == {"name": env["SHIPYARD_DATABASE_URL"]["name"], "key": "predlog-url",
                       "optional": False}  # fmt: skip
    assert not any("DATABASE_URL" in key or "PREDLOG_URL" in key for key in config)
    assert config["SHIPYARD_PREDLOG_MODE"] == "durable"
    assert {e["configMapRef"]["name"] for e in server["envFrom"] if "configMapRef" in e} == {
        kinds["ConfigMap"]["metadata"]["name"]
    }

    hpa = kinds["HorizontalPodAutoscaler"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)
    metric_types = [m["type"] for m in hpa["metrics"]]
    assert metric_types == ["Resource", "Pods"]
    assert hpa["metrics"][1]["pods"]["metric"]["name"] == "shipyard_requests_in_flight"
    selector = kinds["Service"]["spec"]["selector"]
    assert selector.items() <= pod_labels(kinds["Deployment"]).items()
    assert kinds["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"] == selector
    readme = (out / "README.md").read_text()
    assert "kubectl create secret" in readme
    assert f"{predlog['name']} --namespace ml" in readme
    assert "--from-literal=predlog-url=" in readme and "--from-literal=database-url=" in readme


@pytest.mark.parametrize("mode", ["buffered", "off"])
def test_predlog_mode_reaches_the_config_map(mode: str) -> None:
    options = DeployOptions(image="churn:1", predlog_mode=mode)
    files = manifests("churn@champion", "churn", options, {"SHIPYARD_ALLOW_PICKLE": "false"})
    for document in files.values():
        validate_kubernetes(document)
    assert files["configmap.yaml"]["data"]["SHIPYARD_PREDLOG_MODE"] == mode
    (server,) = files["deployment.yaml"]["spec"]["template"]["spec"]["containers"]
    names = {e["name"] for e in server["env"]}
    # Off logs nothing, so the Secret needs no predlog-url key.
    assert ("SHIPYARD_PREDLOG_URL" in names) == (mode != "off")
    assert "SHIPYARD_DATABASE_URL" in names


def test_secret_instructions_explain_the_predlog_key() -> None:
    text = secret_instructions("churn.v2", None)
    assert "kubectl create secret generic shipyard-churn-v2-secrets \\\n" in text
    assert "--from-literal=predlog-url=" in text
    assert "emptyDir" in text  # why the key is required
    assert "SHIPYARD_PREDLOG_MODE" in text


def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def test_cpu_only_autoscaler_by_default(
    deploy_registry: Any, shipyard_cli: Any, tmp_path: Path
) -> None:
    out = tmp_path / "k8s"
    shipyard_cli(*EXPORT, "--out", str(out))
    (hpa,) = load_documents(out / "hpa.yaml")
    validate_kubernetes(hpa)
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomize_overlays_render_and_validate(
    deploy_registry: Any, shipyard_cli: Any, tmp_path: Path
) -> None:
    out = tmp_path / "k8s"
    shipyard_cli(
        *EXPORT,
        "--format",
        "kustomize",
        "--namespace",
        "ml",
        "--out",
        str(out),
        "--replicas",
        "3..12",
    )
    rendered: dict[str, dict[str, dict[str, Any]]] = {}
    for overlay in ("staging", "production"):
        result = subprocess.run(
            ["kubectl", "kustomize", str(out / "overlays" / overlay)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        documents = [d for d in __import__("yaml").safe_load_all(result.stdout) if d]
        for document in documents:
            validate_kubernetes(document)
        rendered[overlay] = _by_kind(documents)
    staging, production = rendered["staging"], rendered["production"]
    assert {d["metadata"]["namespace"] for d in staging.values()} == {"ml-staging"}
    assert {d["metadata"]["namespace"] for d in production.values()} == {"ml"}
    assert production["HorizontalPodAutoscaler"]["spec"]["minReplicas"] == 3
    assert production["HorizontalPodAutoscaler"]["spec"]["maxReplicas"] == 12
    assert staging["HorizontalPodAutoscaler"]["spec"]["maxReplicas"] == 2
    assert staging["Deployment"]["spec"]["replicas"] == 1
    labels = staging["Deployment"]["metadata"]["labels"]
    assert labels["shipyard.dev/environment"] == "staging"
    # Selectors are untouched by the overlay labels, so the Service still finds the pods.
    assert "shipyard.dev/environment" not in staging["Service"]["spec"]["selector"]
