"""The ``shipyard`` command line: one Typer app, one module per command group.

Errors become exit codes in one place, :mod:`shipyard.cli._errors`. Command modules import
only Typer and the helpers at the top; the registry, pandas and rich are imported inside the
commands, so ``shipyard --help`` answers without loading them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shipyard.cli import (
    alias,
    audit,
    build,
    card,
    endpoints,
    export,
    extensions,
    feedback,
    keys,
    logs,
    models,
    monitor,
    pipeline,
    register,
    rollout,
    serve,
    tag,
    ui,
    versions,
)
from shipyard.cli._common import use_server
from shipyard.cli._errors import ShipyardGroup

__all__ = ["app", "main"]

app = typer.Typer(
    name="shipyard",
    help="Take a trained model to a fast, secure, monitored production endpoint.",
    cls=ShipyardGroup,
    no_args_is_help=True,
    add_completion=False,
    # Rich-formatted help and tracebacks import rich on every start (about 0.2 s).
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from shipyard import __version__

        typer.echo(f"shipyard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="On error, show the full traceback instead of one line.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            envvar="SHIPYARD_SERVER",
            help="Work against a running server's management API (models, versions, alias) "
            "instead of the local registry, as in --server http://10.0.0.5:8080.",
            show_default=False,
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="SHIPYARD_API_KEY",
            help="The API key for --server (read scope to look, write to move aliases).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Take a trained model to a fast, secure, monitored production endpoint."""
    # ``debug`` is read by ShipyardGroup.invoke from the context's params.
    use_server(server, api_key)


app.command("register")(register.register)
app.add_typer(models.app, name="models")
app.add_typer(versions.app, name="versions")
app.add_typer(alias.app, name="alias")
app.command("tag")(tag.tag)
app.command("serve")(serve.serve)
app.add_typer(audit.app, name="audit")
app.add_typer(keys.app, name="keys")
app.command("ui")(ui.ui)
app.command("build")(build.build)
app.add_typer(export.app, name="export")
app.add_typer(endpoints.app, name="endpoints")
app.add_typer(rollout.app, name="rollout")
app.add_typer(feedback.app, name="feedback")
app.add_typer(logs.app, name="logs")
app.add_typer(monitor.app, name="monitor")
app.add_typer(pipeline.app, name="pipeline")
app.command("card")(card.card)
# Commands written elsewhere (see shipyard.cli.extensions).
app.command("quickstart")(extensions.quickstart)
app.command("import-mlflow")(extensions.import_mlflow)
app.command("train")(extensions.train)


def main() -> None:
    """The ``shipyard`` console script."""
    app(prog_name="shipyard")
