"""The Kubernetes manifests as a kustomize base with ``staging`` and ``production`` overlays.

::

    base/                  the manifests of shipyard.targets.kubernetes, without a namespace
    overlays/staging/      namespace NS-staging, one or two replicas
    overlays/production/   namespace NS, the replicas given to ``shipyard export``

Render with ``kubectl kustomize overlays/production`` (or apply with ``kubectl apply -k``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from shipyard.targets.kubernetes import Manifest, manifests, names_for
from shipyard.targets.options import DeployOptions, Replicas

__all__ = ["DEFAULT_NAMESPACE", "kustomize_files"]

DEFAULT_NAMESPACE = "shipyard"
KUSTOMIZATION = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
STAGING = Replicas(1, 2)


def _overlay(
    names: Any, namespace: str, environment: str, replicas: Replicas | None
) -> dict[str, Manifest]:
    kustomization: dict[str, Any] = {
        **KUSTOMIZATION,
        "namespace": namespace,
        "resources": ["../../base"],
        "labels": [{"pairs": {"shipyard.dev/environment": environment}, "includeSelectors": False}],
    }
    files: dict[str, Manifest] = {}
    if replicas is not None:
        kustomization["patches"] = [{"path": "replicas.yaml"}, {"path": "autoscaler.yaml"}]
        files["replicas.yaml"] = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": names.app},
            "spec": {"replicas": replicas.minimum},
        }
        files["autoscaler.yaml"] = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": names.app},
            "spec": {"minReplicas": replicas.minimum, "maxReplicas": replicas.maximum},
        }
    return {"kustomization.yaml": kustomization, **files}


def kustomize_files(
    ref: str, endpoint: str, options: DeployOptions, settings: dict[str, str] | None = None
) -> dict[str, Manifest]:
    """Relative path -> manifest for the base and both overlays."""
    namespace = options.namespace or DEFAULT_NAMESPACE
    base = manifests(ref, endpoint, dataclasses.replace(options, namespace=None), settings)
    names = names_for(endpoint)
    files: dict[str, Manifest] = {f"base/{name}": doc for name, doc in base.items()}
    files["base/kustomization.yaml"] = {**KUSTOMIZATION, "resources": list(base)}
    staging = _overlay(names, f"{namespace[:55]}-staging", "staging", STAGING)
    production = _overlay(names, namespace, "production", None)
    files.update({f"overlays/staging/{name}": doc for name, doc in staging.items()})
    files.update({f"overlays/production/{name}": doc for name, doc in production.items()})
    return files
