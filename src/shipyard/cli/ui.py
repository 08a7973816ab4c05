"""``shipyard ui``: the web console over the local registry, without serving any model.

The console and uvicorn are imported inside the command, so ``shipyard --help`` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shipyard.cli._common import open_registry


def ui(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")
    ] = 8090,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Allow a non-loopback address while no API key exists (no authentication).",
        ),
    ] = False,
) -> None:
    """Open the web console (models, versions, aliases, audit) at http://HOST:PORT/ui.

    Like the server, it asks for an API key once any key exists, and always beyond loopback:
    a key with the 'read' scope can look, one with 'write' can move aliases and edit tags.
    """
    import uvicorn

    from shipyard.console import console_app
    from shipyard.errors import InvalidInputError
    from shipyard.registry.client import Registry
    from shipyard.registry.keys import KeyStore
    from shipyard.serving.server import check_bind, is_loopback

    with open_registry() as registry:
        if not isinstance(registry, Registry):
            raise InvalidInputError(
                "shipyard ui runs over the local registry; drop --server (a running server "
                "already serves the console at its /ui path)"
            )
        have_keys = KeyStore(registry.db).any_exist()
        check_bind(host, insecure, have_keys=have_keys)
        required = not insecure and not is_loopback(host)
        app = console_app(registry, auth_required=required)
        shown = f"[{host}]" if ":" in host else host
        typer.echo(f"shipyard console: http://{shown}:{port}/ui/")
        if required or have_keys:
            typer.echo("log in with an API key (shipyard keys create --scope read)")
        else:
            typer.echo("authentication is off until an API key is created (shipyard keys create)")
        uvicorn.run(
            app,
            host=host,
            port=port,
            lifespan="on",
            access_log=False,
            log_level="warning",
        )
