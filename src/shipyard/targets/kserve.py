"""A KServe InferenceService with the shipyard image as a custom predictor. Pure.

shipyard speaks KServe's own protocols (Open Inference Protocol V2 and V1), so KServe routes to
it as to any of its runtimes. The container must be named ``kserve-container``; KServe's
default (Knative) mode allows one port, named ``http1`` for HTTP/1.1. The environment is the
Deployment's: the registry and prediction-log URLs from the endpoint's Secret, the rest (with
``SHIPYARD_PREDLOG_MODE``) from its ConfigMap.
"""

from __future__ import annotations

from typing import Any

from shipyard.targets import container
from shipyard.targets.kubernetes import (
    GRACE_SECONDS,
    PRESTOP_SECONDS,
    environment,
    names_for,
    probes,
    resources,
)
from shipyard.targets.options import DeployOptions

__all__ = ["inference_service"]


def inference_service(ref: str, endpoint: str, options: DeployOptions) -> dict[str, Any]:
    names = names_for(endpoint)
    checks = probes(options.startup_seconds)
    for probe in checks.values():
        probe["httpGet"]["port"] = container.PORT  # Knative accepts only the serving port
    server = {
        "name": "kserve-container",
        "image": options.image,
        "command": container.serve_command(ref, metrics_open=options.metrics_open),
        "ports": [{"name": "http1", "containerPort": container.PORT, "protocol": "TCP"}],
        "envFrom": [
            {"configMapRef": {"name": names.config}},
            {"secretRef": {"name": names.artifact_credentials, "optional": True}},
        ],
        "env": environment(names, options),
        **checks,
        "resources": resources(options),
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRESTOP_SECONDS)]}}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": container.UID,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "shipyard-home", "mountPath": container.SHARED_HOME},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    metadata: dict[str, Any] = {
        "name": names.app,
        "labels": {
            "app.kubernetes.io/part-of": "shipyard",
            "app.kubernetes.io/managed-by": "shipyard",
        },
    }
    if options.namespace:
        metadata["namespace"] = options.namespace
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": metadata,
        "spec": {
            "predictor": {
                "minReplicas": options.replicas.minimum,
                "maxReplicas": options.replicas.maximum,
                "scaleMetric": "cpu",
                "scaleTarget": 70,
                "terminationGracePeriodSeconds": GRACE_SECONDS,
                "containers": [server],
                "volumes": [
                    {"name": "shipyard-home", "emptyDir": {"sizeLimit": "2Gi"}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                ],
            }
        },
    }
