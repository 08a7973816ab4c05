"""``shipyard build``: a container build context for an endpoint or a model reference."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli._common import open_registry


class StoreMode(StrEnum):
    copy = "copy"
    shared = "shared"


def build(
    target: Annotated[
        str,
        typer.Argument(
            metavar="ENDPOINT_OR_MODEL_REF",
            help="An endpoint name, or a model reference (churn@champion, churn/3, churn).",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", help="Folder to write the build context to (new or empty)."),
    ],
    store: Annotated[
        StoreMode,
        typer.Option(
            "--store",
            help="copy: put the served version(s) into the image; shared: the image reads "
            "them from SHIPYARD_DATABASE_URL and SHIPYARD_ARTIFACTS_URL at run time.",
        ),
    ] = StoreMode.copy,
    wheels: Annotated[
        list[Path] | None,
        typer.Option(
            "--wheel", help="A wheel to install in the image (repeatable), e.g. shipyard's own."
        ),
    ] = None,
) -> None:
    """Write a Dockerfile and everything it needs to serve a model in a container.

    Nothing secret is written: database URLs with passwords and API keys are given to the
    container at run time. Build with: docker build -t IMAGE OUT
    """
    from shipyard.targets.build import write_build_context

    with open_registry() as registry:
        result = write_build_context(
            registry, target, out, store=store.value, wheels=tuple(wheels or ())
        )
    versions = ", ".join(v.ref for v in result.served.versions)
    typer.echo(
        f"wrote a build context for {result.served.ref} ({versions}; store: {store.value}; "
        f"extras: {', '.join(result.image.extras) or 'none'}) to {out}"
    )
    typer.echo(f"next: docker build -t shipyard-{result.served.endpoint} {out}")
