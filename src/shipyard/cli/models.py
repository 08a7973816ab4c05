"""``shipyard models``: the registered models."""

from __future__ import annotations

from typing import Annotated

import typer

from shipyard.cli._common import (
    JsonOption,
    format_time,
    group,
    open_registry,
    print_json,
    print_table,
)

app = group("List and inspect registered models.")


@app.command("list")
def list_models(json: JsonOption = False) -> None:
    """List every model with its latest version and aliases."""
    with open_registry() as registry:
        models = registry.list_models()
    if json:
        print_json([m.to_dict() for m in models])
        return
    if not models:
        typer.echo("no models yet: register one with `shipyard register FILE --name NAME`")
        return
    print_table(
        ("name", "latest", "aliases", "created", "description"),
        (
            (
                m.name,
                m.latest_version,
                _aliases(m.aliases),
                format_time(m.created_at),
                m.description,
            )
            for m in models
        ),
    )


@app.command("show")
def show_model(
    name: Annotated[str, typer.Argument(help="The model name, as in 'churn'.")],
    json: JsonOption = False,
) -> None:
    """Show one model: its aliases, tags and versions."""
    with open_registry() as registry:
        model = registry.get_model(name)
        versions = registry.list_versions(name)
    if json:
        print_json(model.to_dict())
        return
    typer.echo(model.name)
    if model.description:
        typer.echo(f"  description: {model.description}")
    typer.echo(f"  created:     {format_time(model.created_at)} by {model.created_by}")
    typer.echo(f"  aliases:     {_aliases(model.aliases) or '-'}")
    tags = ", ".join(f"{k}={v}" for k, v in sorted(model.tags.items()))
    typer.echo(f"  tags:        {tags or '-'}")
    print_table(
        ("version", "flavor", "status", "aliases", "created"),
        (
            (v.version, v.flavor, v.status, ", ".join(v.aliases), format_time(v.created_at))
            for v in versions
        ),
        title="versions",
    )


def _aliases(aliases: dict[str, int]) -> str:
    return ", ".join(f"{alias}→{number}" for alias, number in sorted(aliases.items()))
