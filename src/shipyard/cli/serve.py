"""``shipyard serve``: the model server.

The server, uvicorn and the models are imported inside the command, so ``shipyard --help``
does not load them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shipyard.cli._common import open_registry


def serve(
    refs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Model references (churn@champion, churn/3, churn); none serves every endpoint.",
            show_default=False,
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure", help="Allow a non-loopback address although the server has no auth."
        ),
    ] = False,
) -> None:
    """Serve models over the Open Inference Protocol (V2) until interrupted."""
    from shipyard.serving.server import run

    with open_registry() as registry:
        run(registry, refs or [], host=host, port=port, insecure=insecure)
