"""Commands whose work lives outside the CLI and is written by other hands.

=== PLACEHOLDER FOR COMMANDS OTHERS WRITE ====================================================
``shipyard quickstart`` calls :func:`shipyard.quickstart.run`, and ``shipyard import-mlflow``
calls :func:`shipyard.registry.mlflow_import.import_mlflow`. Both modules are imported only when
their command runs (they may pull in heavy libraries), through ``importlib`` so that this module
neither slows ``shipyard --help`` nor depends on them existing yet. Keep the commands here thin:
options in, one call, one line out.
==============================================================================================
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli._common import JsonOption, open_registry, print_json, version_line
from shipyard.cli.train import train as train


def quickstart(
    keep_serving: Annotated[
        bool,
        typer.Option(
            "--keep-serving",
            help="At the end, leave the model server and the web console running "
            "(Ctrl-C stops them).",
        ),
    ] = False,
    port: Annotated[
        int,
        typer.Option("--port", min=1, max=65535, help="The port --keep-serving listens on."),
    ] = 8080,
) -> None:
    """Walk through shipyard end to end on a demo model."""
    demo = importlib.import_module("shipyard.quickstart")
    if keep_serving:
        demo.check_port(port)  # before the demo's minute of work, not after
    demo.run()
    if keep_serving:
        demo.keep_serving(port=port)


def import_mlflow(
    path: Annotated[
        Path, typer.Argument(help="An MLflow model directory (with its MLmodel file).")
    ],
    name: Annotated[str, typer.Option("--name", help="The model to add a version to.")],
    json: JsonOption = False,
) -> None:
    """Import an MLflow model directory as the next version of a model."""
    importer = importlib.import_module("shipyard.registry.mlflow_import")
    with open_registry() as registry:
        version = importer.import_mlflow(registry, path, name)
    if json:
        print_json(version.to_dict())
    else:
        typer.echo(f"imported {version_line(version)}")
