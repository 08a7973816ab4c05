"""``shipyard endpoints``: create, list and show the endpoints clients call.

They work on the registry directly; a running server picks a change up on its next poll.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from shipyard.cli._common import (
    JsonOption,
    format_time,
    group,
    open_registry,
    print_json,
    print_table,
)
from shipyard.errors import InvalidInputError

if TYPE_CHECKING:
    from shipyard.registry.client import Registry
    from shipyard.registry.engine import Database

app = group("Create, list and show the endpoints clients call.")


def local_db(registry: Registry, command: str) -> Database:
    """The registry's database; these commands do not go through ``--server``."""
    db = getattr(registry, "db", None)
    if db is None:
        raise InvalidInputError(
            f"shipyard {command} works on the registry directly, not through --server; "
            "run it where the registry is configured, or use the server's /api/v1/endpoints"
        )
    return cast("Database", db)


def variants_text(data: dict[str, Any]) -> str:
    parts = []
    for v in data["variants"]:
        share = f"mirrors {v['weight']:.0%}" if v.get("shadow") else f"{v['weight']:.0%}"
        parts.append(f"{v['name']}={v['ref']} ({share})")
    return ", ".join(parts)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The endpoint's name (what clients call).")],
    model: Annotated[str, typer.Option("--model", help="The model it serves.", show_default=False)],
    ref: Annotated[
        str | None,
        typer.Option(
            "--ref", help="The reference it follows (default MODEL@champion).", show_default=False
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Create an endpoint serving MODEL through one variant following --ref."""
    from shipyard.registry.endpoints import EndpointStore
    from shipyard.registry.refs import parse_ref

    with open_registry() as registry:
        if ref is not None and parse_ref(ref).model == model:
            registry.get_version(ref)  # a given reference must name a version that exists now
        endpoint = EndpointStore(local_db(registry, "endpoints create")).create(
            name, model, ref, registry.actor
        )
    if json:
        print_json(endpoint.to_dict())
        return
    typer.echo(f"created endpoint {endpoint.name}: {endpoint.main.ref}")


@app.command("list")
def list_endpoints(json: JsonOption = False) -> None:
    """List the endpoints, their routing policy and variants."""
    from shipyard.registry.endpoints import EndpointStore

    with open_registry() as registry:
        endpoints = EndpointStore(local_db(registry, "endpoints list")).list()
    if json:
        print_json({"endpoints": [e.to_dict() for e in endpoints]})
        return
    print_table(
        ("ENDPOINT", "MODEL", "POLICY", "VARIANTS", "UPDATED"),
        (
            (e.name, e.model, e.policy, variants_text(e.to_dict()), format_time(e.updated_at))
            for e in endpoints
        ),
    )


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="The endpoint's name.")],
    json: JsonOption = False,
) -> None:
    """Show an endpoint: its variants, routing policy and active rollout."""
    from shipyard.registry.endpoints import EndpointStore
    from shipyard.rollouts.store import RolloutStore

    with open_registry() as registry:
        db = local_db(registry, "endpoints show")
        endpoint = EndpointStore(db).get(name)
        rollout = RolloutStore(db).active(name)
    data = {**endpoint.to_dict(), "rollout": None if rollout is None else rollout.to_dict()}
    if json:
        print_json(data)
        return
    typer.echo(f"endpoint {endpoint.name} (model {endpoint.model})")
    typer.echo(f"  policy:   {endpoint.policy}" + (f" by {endpoint.key}" if endpoint.key else ""))
    typer.echo(f"  variants: {variants_text(data)}")
    if rollout is None:
        typer.echo("  rollout:  none active")
    else:
        typer.echo(
            f"  rollout:  #{rollout.id} {rollout.mode} of {rollout.candidate_ref}, "
            f"{rollout.status} at {rollout.state.weight:g}%"
        )
