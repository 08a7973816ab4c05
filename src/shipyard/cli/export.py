"""``shipyard export kubernetes|kserve``: manifests to run an endpoint's image on a cluster."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipyard.cli._common import group, open_registry

if TYPE_CHECKING:
    from collections.abc import Mapping

    from shipyard.targets.options import DeployOptions
    from shipyard.targets.served import Served

app = group("Write manifests that run an endpoint's image on Kubernetes or KServe.")


class Format(StrEnum):
    plain = "plain"
    kustomize = "kustomize"


Endpoint = Annotated[
    str, typer.Argument(metavar="ENDPOINT", help="The endpoint to deploy.", show_default=False)
]
Image = Annotated[
    str,
    typer.Option(
        "--image", help="The image built from `shipyard build`, with its tag.", show_default=False
    ),
]
Replicas = Annotated[
    str, typer.Option("--replicas", help="MIN..MAX replicas for the autoscaler (or N).")
]
Cpu = Annotated[str, typer.Option("--cpu", help="CPU per replica (request = limit).")]
Memory = Annotated[str, typer.Option("--memory", help="Memory per replica (request = limit).")]
Namespace = Annotated[
    str | None, typer.Option("--namespace", help="Namespace of the objects.", show_default=False)
]
Out = Annotated[Path, typer.Option("--out", help="Folder to write the manifests to.")]
StartupSeconds = Annotated[
    int,
    typer.Option("--startup-seconds", min=5, help="Time a replica may take to load its model."),
]
MetricsOpen = Annotated[
    bool,
    typer.Option("--metrics-open", help="Serve /metrics without a key, for Prometheus scraping."),
]
ArtifactsUrl = Annotated[
    str,
    typer.Option(
        "--artifacts-url",
        help="The shared artifact store (default: the configured one if it is a URL).",
        show_default=False,
    ),
]
PredlogMode = Annotated[
    str,
    typer.Option(
        "--predlog-mode",
        help="durable: answer once the prediction is logged; buffered: faster, a killed pod "
        "loses up to 1 s of records; off: no log.",
    ),
]


def _options(
    image: str,
    replicas: str,
    cpu: str,
    memory: str,
    namespace: str | None,
    startup_seconds: int,
    metrics_open: bool,
    in_flight_target: float | None = None,
    artifacts_url: str = "",
    predlog_mode: str = "durable",
) -> DeployOptions:
    from shipyard.errors import InvalidInputError
    from shipyard.targets import options as o

    if in_flight_target is not None and in_flight_target <= 0:
        raise InvalidInputError(
            f"invalid --in-flight-target {in_flight_target}: it must be above 0, as in 8"
        )
    return o.DeployOptions(
        image=o.parse_image(image),
        replicas=o.parse_replicas(replicas),
        cpu=o.parse_cpu(cpu),
        memory=o.parse_memory(memory),
        namespace=o.parse_namespace(namespace),
        startup_seconds=startup_seconds,
        in_flight_target=in_flight_target,
        metrics_open=metrics_open,
        artifacts_url=artifacts_url,
        predlog_mode=o.parse_predlog_mode(predlog_mode),
    )


def _endpoint(name: str, options: DeployOptions) -> tuple[Served, dict[str, str], DeployOptions]:
    """The endpoint as served, the settings a cluster replica needs, and ``options`` with the
    configured shared artifact store filled in when ``--artifacts-url`` was not given."""
    import dataclasses

    from shipyard.targets.kubernetes import cluster_settings, shared_artifacts_url
    from shipyard.targets.served import resolve_endpoint

    with open_registry() as registry:
        served = resolve_endpoint(registry, name)
        settings = registry.settings
        configured = shared_artifacts_url(settings.artifacts_url)
        return (
            served,
            cluster_settings(settings.allow_pickle, settings.trusted_types),
            dataclasses.replace(options, artifacts_url=options.artifacts_url or configured),
        )


@app.command("kubernetes")
def kubernetes(
    endpoint: Endpoint,
    image: Image,
    replicas: Replicas = "2..10",
    cpu: Cpu = "1",
    memory: Memory = "1Gi",
    namespace: Namespace = None,
    out: Out = Path("deploy"),
    format: Annotated[
        Format, typer.Option("--format", help="plain: one folder; kustomize: base + overlays.")
    ] = Format.plain,
    startup_seconds: StartupSeconds = 300,
    in_flight_target: Annotated[
        float | None,
        typer.Option(
            "--in-flight-target",
            help="Also scale on requests in flight per replica (Prometheus adapter needed).",
            show_default=False,
        ),
    ] = None,
    metrics_open: MetricsOpen = False,
    artifacts_url: ArtifactsUrl = "",
    predlog_mode: PredlogMode = "durable",
) -> None:
    """Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget and ConfigMap for an
    endpoint on the shared store; the database URL comes from a Secret you create."""
    from shipyard.targets import kubernetes as k8s
    from shipyard.targets.manifests import write_files

    options = _options(
        image,
        replicas,
        cpu,
        memory,
        namespace,
        startup_seconds,
        metrics_open,
        in_flight_target,
        artifacts_url,
        predlog_mode,
    )
    served, settings, options = _endpoint(endpoint, options)
    files: dict[str, str | Mapping[str, Any]]
    if format == Format.kustomize:
        from shipyard.targets.kustomize import DEFAULT_NAMESPACE, kustomize_files

        files = dict(kustomize_files(served.ref, served.endpoint, options, settings))
        readme_ns: str | None = options.namespace or DEFAULT_NAMESPACE
    else:
        files = dict(k8s.manifests(served.ref, served.endpoint, options, settings))
        readme_ns = options.namespace
    files["README.md"] = k8s.secret_instructions(served.endpoint, readme_ns)
    written = write_files(out, files)
    typer.echo(f"wrote {len(written)} files for endpoint {served.endpoint} ({served.ref}) to {out}")
    apply = (
        f"kubectl apply -k {out / 'overlays' / 'production'}"
        if format == Format.kustomize
        else f"kubectl apply -f {out}"
    )
    typer.echo(f"next: create the Secret (see {out / 'README.md'}), then {apply}")


@app.command("kserve")
def kserve(
    endpoint: Endpoint,
    image: Image,
    replicas: Replicas = "2..10",
    cpu: Cpu = "1",
    memory: Memory = "1Gi",
    namespace: Namespace = None,
    out: Out = Path("deploy"),
    startup_seconds: StartupSeconds = 300,
    metrics_open: MetricsOpen = False,
    artifacts_url: ArtifactsUrl = "",
    predlog_mode: PredlogMode = "durable",
) -> None:
    """A KServe InferenceService with the image as a custom predictor (plus its ConfigMap)."""
    from shipyard.targets import kubernetes as k8s
    from shipyard.targets.kserve import inference_service
    from shipyard.targets.manifests import write_files

    options = _options(
        image,
        replicas,
        cpu,
        memory,
        namespace,
        startup_seconds,
        metrics_open,
        artifacts_url=artifacts_url,
        predlog_mode=predlog_mode,
    )
    served, settings, options = _endpoint(endpoint, options)
    names = k8s.names_for(served.endpoint)
    files: dict[str, str | Mapping[str, Any]] = {
        "inferenceservice.yaml": inference_service(served.ref, served.endpoint, options),
        "configmap.yaml": k8s.config_map(names, options, settings),
        "README.md": k8s.secret_instructions(served.endpoint, options.namespace),
    }
    written = write_files(out, files)
    typer.echo(f"wrote {len(written)} files for endpoint {served.endpoint} ({served.ref}) to {out}")
    typer.echo(f"next: create the Secret (see {out / 'README.md'}), then kubectl apply -f {out}")
