"""Kubernetes manifests for one endpoint on the shared store. Pure: options in, dicts out.

Timing follows the server: SIGTERM drains in-flight requests for up to ``DRAIN_SECONDS``. A
``preStop`` sleep runs first, so endpoints controllers and load balancers stop sending new
requests before the server stops accepting them; the grace period covers both plus a margin.

The Secret is referenced, never written: its values (the database URL holds a password) are
created by the team, e.g. ``kubectl create secret generic NAME --from-literal=...``. It holds two
required keys: ``database-url`` (the registry) and ``predlog-url`` (the prediction log). The
second is required, not optional, because a server without ``SHIPYARD_PREDLOG_URL`` writes
``predictions.db`` into ``SHIPYARD_HOME``, an ``emptyDir``: each replica would keep its own log,
lost when the pod goes, and monitoring and feedback would see none of it. A pod whose Secret
lacks the key does not start (``CreateContainerConfigError`` naming the key), which is the
clear failure we want.
"""

from __future__ import annotations

import math
from typing import Any

from shipyard.targets import container
from shipyard.targets.options import DeployOptions, k8s_name

__all__ = [
    "DATABASE_KEY",
    "DRAIN_SECONDS",
    "GRACE_SECONDS",
    "PREDLOG_KEY",
    "PRESTOP_SECONDS",
    "Names",
    "manifests",
    "names_for",
]

Manifest = dict[str, Any]

DRAIN_SECONDS = 30
PRESTOP_SECONDS = 5
GRACE_SECONDS = PRESTOP_SECONDS + DRAIN_SECONDS + 10
CPU_TARGET_PERCENT = 70
IN_FLIGHT_METRIC = "shipyard_requests_in_flight"
PLACEHOLDER_ARTIFACTS = "s3://CHANGE-ME/shipyard/artifacts"
DATABASE_KEY = "database-url"
PREDLOG_KEY = "predlog-url"


class Names:
    """The object names of one endpoint's manifests."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.app = k8s_name(endpoint)
        self.config = f"{self.app}-config"[:63]
        self.secret = f"{self.app}-secrets"[:63]
        self.artifact_credentials = f"{self.app}-artifact-credentials"[:63]


def names_for(endpoint: str) -> Names:
    return Names(endpoint)


def _labels(names: Names) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": names.app,
        "app.kubernetes.io/component": "model-server",
        "app.kubernetes.io/part-of": "shipyard",
        "app.kubernetes.io/managed-by": "shipyard",
    }


def _selector(names: Names) -> dict[str, str]:
    return {"app.kubernetes.io/name": names.app}


def _metadata(names: Names, name: str, options: DeployOptions) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": _labels(names)}
    if options.namespace:
        meta["namespace"] = options.namespace
    return meta


def probes(startup_seconds: int) -> dict[str, Any]:
    """Readiness, liveness and a startup probe that allows ``startup_seconds`` for loading."""

    def get(path: str) -> dict[str, Any]:
        return {"path": path, "port": "http"}

    period = 5
    return {
        "startupProbe": {
            "httpGet": get("/v2/health/ready"),
            "periodSeconds": period,
            "timeoutSeconds": 2,
            "failureThreshold": max(1, math.ceil(startup_seconds / period)),
        },
        "readinessProbe": {
            "httpGet": get("/v2/health/ready"),
            "periodSeconds": period,
            "timeoutSeconds": 2,
            "failureThreshold": 2,
        },
        "livenessProbe": {
            "httpGet": get("/v2/health/live"),
            "periodSeconds": 10,
            "timeoutSeconds": 3,
            "failureThreshold": 3,
        },
    }


def resources(options: DeployOptions) -> dict[str, Any]:
    # Requests equal to limits: the HPA's utilisation is measured against a fixed share, and
    # the pod gets the Guaranteed QoS class, so it is evicted last under node pressure.
    amount = {"cpu": options.cpu, "memory": options.memory}
    return {"requests": dict(amount), "limits": dict(amount)}


def environment(names: Names, options: DeployOptions) -> list[dict[str, Any]]:
    """Settings come from the ConfigMap; the two database URLs (they hold passwords) from the
    Secret, both required (see the module docstring for why the prediction log's is). With
    ``--predlog-mode off`` nothing is logged, so no prediction-log URL is asked for."""

    def secret(variable: str, key: str) -> dict[str, Any]:
        ref = {"name": names.secret, "key": key, "optional": False}
        return {"name": variable, "valueFrom": {"secretKeyRef": ref}}

    variables = [secret("SHIPYARD_DATABASE_URL", DATABASE_KEY)]
    if options.predlog_mode != "off":
        variables.append(secret("SHIPYARD_PREDLOG_URL", PREDLOG_KEY))
    return variables


def deployment(ref: str, names: Names, options: DeployOptions) -> Manifest:
    server = {
        "name": "shipyard",
        "image": options.image,
        "imagePullPolicy": "IfNotPresent",
        "command": container.serve_command(ref, metrics_open=options.metrics_open),
        "ports": [{"name": "http", "containerPort": container.PORT, "protocol": "TCP"}],
        "envFrom": [
            {"configMapRef": {"name": names.config}},
            # Artifact-store credentials (AWS_*, GOOGLE_*, ...), when the store needs them.
            {"secretRef": {"name": names.artifact_credentials, "optional": True}},
        ],
        "env": environment(names, options),
        **probes(options.startup_seconds),
        "resources": resources(options),
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRESTOP_SECONDS)]}}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "shipyard-home", "mountPath": container.SHARED_HOME},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    template_meta: dict[str, Any] = {"labels": _labels(names)}
    if options.metrics_open:
        template_meta["annotations"] = {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(container.PORT),
            "prometheus.io/path": "/metrics",
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(names, names.app, options),
        "spec": {
            "replicas": options.replicas.minimum,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": _selector(names)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
            },
            "template": {
                "metadata": template_meta,
                "spec": {
                    "terminationGracePeriodSeconds": GRACE_SECONDS,
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": container.UID,
                        "runAsGroup": container.UID,
                        "fsGroup": container.UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [server],
                    "volumes": [
                        {"name": "shipyard-home", "emptyDir": {"sizeLimit": "2Gi"}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                    ],
                },
            },
        },
    }


def service(names: Names, options: DeployOptions) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(names, names.app, options),
        "spec": {
            "type": "ClusterIP",
            "selector": _selector(names),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def autoscaler(names: Names, options: DeployOptions) -> Manifest:
    metrics: list[dict[str, Any]] = [
        {
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": CPU_TARGET_PERCENT},
            },
        }
    ]
    if options.in_flight_target is not None:
        # Served to the HPA by a Prometheus adapter from the server's /metrics gauge.
        metrics.append(
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": IN_FLIGHT_METRIC},
                    "target": {
                        "type": "AverageValue",
                        "averageValue": _quantity(options.in_flight_target),
                    },
                },
            }
        )
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(names, names.app, options),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": names.app},
            "minReplicas": options.replicas.minimum,
            "maxReplicas": options.replicas.maximum,
            "metrics": metrics,
            "behavior": {
                # Add replicas quickly under a peak; remove them slowly after it.
                "scaleUp": {
                    "stabilizationWindowSeconds": 0,
                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 30}],
                },
                "scaleDown": {
                    "stabilizationWindowSeconds": 300,
                    "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                },
            },
        },
    }


def _quantity(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{round(value * 1000)}m"


def disruption_budget(names: Names, options: DeployOptions) -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(names, names.app, options),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": _selector(names)}},
    }


def config_map(names: Names, options: DeployOptions, settings: dict[str, str]) -> Manifest:
    data = {
        "SHIPYARD_HOME": container.SHARED_HOME,
        "SHIPYARD_ARTIFACTS_URL": options.artifacts_url or PLACEHOLDER_ARTIFACTS,
        "SHIPYARD_PREDLOG_MODE": options.predlog_mode,
        **settings,
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(names, names.config, options),
        "data": data,
    }


def manifests(
    ref: str, endpoint: str, options: DeployOptions, settings: dict[str, str] | None = None
) -> dict[str, Manifest]:
    """File name -> manifest, for the endpoint ``endpoint`` serving ``ref``. ``settings`` are
    extra non-secret ``SHIPYARD_*`` values for the ConfigMap."""
    names = names_for(endpoint)
    return {
        "configmap.yaml": config_map(names, options, dict(settings or {})),
        "deployment.yaml": deployment(ref, names, options),
        "service.yaml": service(names, options),
        "hpa.yaml": autoscaler(names, options),
        "pdb.yaml": disruption_budget(names, options),
    }


def cluster_settings(allow_pickle: bool, trusted_types: tuple[str, ...]) -> dict[str, str]:
    """The operator settings a replica needs to load what this registry loads (non-secret)."""
    values = {"SHIPYARD_ALLOW_PICKLE": "true" if allow_pickle else "false"}
    if trusted_types:
        values["SHIPYARD_TRUSTED_TYPES"] = ",".join(trusted_types)
    return values


def shared_artifacts_url(configured: str) -> str:
    """The configured artifact store when replicas can share it (a URL), else ''."""
    if "://" in configured and not configured.startswith("file://"):
        return configured
    return ""


def secret_instructions(endpoint: str, namespace: str | None) -> str:
    names = names_for(endpoint)
    ns = f" --namespace {namespace}" if namespace else ""
    return f"""\
# {names.app}: what to create before applying

The manifests reference two Secrets and write neither (their values are credentials):

```bash
kubectl create secret generic {names.secret}{ns} \\
  --from-literal={DATABASE_KEY}='postgresql+psycopg://USER:PASSWORD@HOST:5432/shipyard' \\
  --from-literal={PREDLOG_KEY}='postgresql+psycopg://USER:PASSWORD@HOST:5432/shipyard_predictions'
# only when the artifact store needs credentials (any variables fsspec's backend reads):
kubectl create secret generic {names.artifact_credentials}{ns} \\
  --from-literal=AWS_ACCESS_KEY_ID=... --from-literal=AWS_SECRET_ACCESS_KEY=...
```

Both keys of `{names.secret}` are required (unless the prediction log is off); a pod does not
start without them.
`{PREDLOG_KEY}` is where every replica logs its predictions (`SHIPYARD_PREDLOG_URL`): without it
a server writes `predictions.db` into its pod's `emptyDir`, one log per replica, lost with the
pod and invisible to `shipyard monitor` and `shipyard feedback`. Create the database first
(`createdb shipyard_predictions`; the tables are created on first start). It may be on the
registry's server; at scale give it its own (docs/scaling.md).

The ConfigMap sets `SHIPYARD_PREDLOG_MODE` (`--predlog-mode`): `durable` answers a request once
its record is committed, so no acknowledged prediction is lost when a pod is killed; `buffered`
serves about 1.7 times the requests per replica and loses up to a second of records on a crash;
`off` logs nothing and needs no `{PREDLOG_KEY}`.

Set `SHIPYARD_ARTIFACTS_URL` in the ConfigMap to the shared artifact store, and create an API
key in the shared registry before the first replica starts (`shipyard keys create --scope
predict`): beyond loopback the server refuses to start while no key exists.
"""
