"""``shipyard serve``: the model server.

The server, uvicorn and the models are imported inside the command, so ``shipyard --help``
does not load them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shipyard.cli._common import open_registry
from shipyard.errors import InvalidInputError


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
    rollout_interval: Annotated[
        float,
        typer.Option(
            "--rollout-interval",
            min=0.05,
            help="Seconds between evaluations of the served endpoints' rollouts.",
        ),
    ] = 5.0,
    monitor_interval: Annotated[
        str | None,
        typer.Option(
            "--monitor-interval",
            help="Also run the monitor on this interval, as in 5m (once across replicas).",
            show_default=False,
        ),
    ] = None,
    monitor_rules: Annotated[
        Path | None,
        typer.Option(
            "--monitor-rules",
            help="The alert rules and channels for --monitor-interval (as monitor run --rules).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve models over the Open Inference Protocol (V2) until interrupted.

    Requests need an API key (Authorization: Bearer TOKEN) once any key exists, and always
    beyond loopback; health probes never do.
    """
    from shipyard.serving.server import run

    interval = None
    rules: list[Any] = []
    channels: Any = None
    if monitor_interval is not None:
        from shipyard.cli.monitor import load_rules
        from shipyard.monitoring.alerts import parse_duration

        interval = parse_duration(monitor_interval, "--monitor-interval")
        rules, channels = load_rules(monitor_rules)
    elif monitor_rules is not None:
        raise InvalidInputError("--monitor-rules needs --monitor-interval, as in 5m")
    with open_registry() as registry:
        run(
            registry,
            refs or [],
            host=host,
            port=port,
            insecure=insecure,
            metrics_open=metrics_open,
            poll_interval=poll_interval,
            rollout_interval=rollout_interval,
            monitor_interval=interval,
            monitor_rules=rules,
            monitor_channels=channels or None,
        )
