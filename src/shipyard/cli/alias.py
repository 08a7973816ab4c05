"""``shipyard alias``: moving names such as ``champion`` between versions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli._common import (
    JsonOption,
    format_time,
    group,
    open_registry,
    print_json,
    print_table,
)

if TYPE_CHECKING:
    from shipyard.registry.entities import AliasMove

app = group("Point aliases (champion, challenger, ...) at versions.")

Name = Annotated[str, typer.Argument(help="The model name, as in 'churn'.")]
Alias = Annotated[str, typer.Argument(help="The alias, as in 'champion'.")]


@app.command("set")
def set_alias(
    name: Name,
    alias: Alias,
    version: Annotated[str, typer.Argument(help="A version number, or another alias to copy.")],
    force: Annotated[
        bool, typer.Option("--force", help="Make a rejected version the champion (audited).")
    ] = False,
) -> None:
    """Point ALIAS at a version of NAME (moving it if it already points elsewhere)."""
    with open_registry() as registry:
        move = registry.set_alias(name, alias, version, force=force)
    typer.echo(_describe(move))


@app.command("delete")
def delete_alias(name: Name, alias: Alias) -> None:
    """Remove ALIAS from NAME."""
    with open_registry() as registry:
        move = registry.delete_alias(name, alias)
    typer.echo(_describe(move))


@app.command("history")
def alias_history(
    name: Name,
    alias: Annotated[str | None, typer.Argument(help="Only this alias's moves.")] = None,
    json: JsonOption = False,
) -> None:
    """Every move of NAME's aliases, oldest first."""
    with open_registry() as registry:
        moves = registry.alias_history(name, alias)
    if json:
        print_json([m.to_dict() for m in moves])
        return
    if not moves:
        typer.echo(f"{name}: no alias has been set yet")
        return
    print_table(
        ("when", "alias", "from", "to", "actor"),
        (
            (format_time(m.at), m.alias, _number(m.from_version), _number(m.to_version), m.actor)
            for m in moves
        ),
    )


def _describe(move: AliasMove) -> str:
    where = f"{move.model}@{move.alias}"
    if move.to_version is None:
        return f"deleted {where} (was {move.model}/{move.from_version})"
    if move.from_version is None:
        return f"{where} → {move.model}/{move.to_version}"
    return f"{where} → {move.model}/{move.to_version} (was {move.model}/{move.from_version})"


def _number(version: int | None) -> str:
    return "-" if version is None else str(version)
