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
            "--insecure",
            help="Allow a non-loopback address while no API key exists (no authentication).",
        ),
    ] = False,
    metrics_open: Annotated[
        bool,
        typer.Option("--metrics-open", help="Serve /metrics without an API key."),
    ] = False,
    poll_interval: Annotated[
        float,
        typer.Option(
            "--poll-interval",
            min=0.01,
            help="Seconds between checks of where each followed alias points.",
        ),
    ] = 0.25,
) -> None:
    """Serve models over the Open Inference Protocol (V2) until interrupted.

    Requests need an API key (Authorization: Bearer TOKEN) once any key exists, and always
    beyond loopback; health probes never do.
    """
    from shipyard.serving.server import run

    with open_registry() as registry:
        run(
            registry,
            refs or [],
            host=host,
            port=port,
            insecure=insecure,
            metrics_open=metrics_open,
            poll_interval=poll_interval,
        )
