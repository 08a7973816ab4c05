"""``shipyard keys``: API keys for the model server (created, listed, revoked; all audited)."""

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

app = group("Create, list and revoke the API keys the model server accepts.")


@app.command("create")
def create_key(
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope",
            help="predict, read, write or admin (admin implies all); repeat for several.",
            show_default=False,
        ),
    ],
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            help="Restrict the key to this endpoint or model; repeat for several (default: all).",
            show_default=False,
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="A name for the key (the audit log's actor for its writes)."),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Create a key and print its token, once: only a hash of it is stored.

    The token alone goes to stdout (TOKEN=$(shipyard keys create --scope predict) works);
    what was created is described on stderr.
    """
    from shipyard.registry.keys import KeyStore

    with open_registry() as registry:
        key, token = KeyStore(registry.db).create(
            scope, models=model or (), name=name, actor=registry.actor
        )
    if json:
        print_json({**key.to_dict(), "token": token})
        return
    models = ", ".join(key.models) if key.models else "all models"
    typer.echo(
        f"created API key {key.key_id} ({key.name}): scopes {', '.join(key.scopes)}; {models}. "
        "Its token follows; it is shown only now, so store it safely:",
        err=True,
    )
    typer.echo(token)


@app.command("list")
def list_keys(
    all_keys: Annotated[
        bool, typer.Option("--all", help="Include revoked keys.", show_default=False)
    ] = False,
    json: JsonOption = False,
) -> None:
    """List API keys (their ids and names; tokens are never stored, so never shown)."""
    from shipyard.registry.keys import KeyStore

    with open_registry() as registry:
        keys = KeyStore(registry.db).list(include_revoked=all_keys)
    if json:
        print_json([k.to_dict() for k in keys])
        return
    if not keys:
        typer.echo("no API keys yet: create one with `shipyard keys create --scope predict`")
        return
    columns = ["id", "name", "scopes", "models", "created", "by"]
    if all_keys:
        columns.append("revoked")
    print_table(
        columns,
        (
            [
                k.key_id,
                k.name,
                ",".join(k.scopes),
                ",".join(k.models) or "all",
                format_time(k.created_at),
                k.created_by,
                *([format_time(k.revoked_at) if k.revoked_at else "-"] if all_keys else []),
            ]
            for k in keys
        ),
    )


@app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(metavar="ID", help="The key's id, from `keys list`.")],
) -> None:
    """Revoke a key: servers refuse it within seconds."""
    from shipyard.registry.keys import KeyStore

    with open_registry() as registry:
        key = KeyStore(registry.db).revoke(key_id, registry.actor)
    typer.echo(f"revoked API key {key.key_id} ({key.name})")
