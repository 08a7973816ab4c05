"""``shipyard tag``: setting and deleting a tag on a model or a version."""

from __future__ import annotations

from typing import Annotated

import typer

from shipyard.cli._common import open_registry
from shipyard.errors import InvalidInputError


def tag(
    ref: Annotated[
        str,
        typer.Argument(help="'churn/3' or 'churn@champion' for a version, 'churn' for the model."),
    ],
    key: Annotated[str, typer.Argument(help="The tag key.")],
    value: Annotated[str | None, typer.Argument(help="The tag value (omit with --delete).")] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Delete the tag KEY instead.")] = False,
) -> None:
    """Set tag KEY to VALUE on a version or model, or delete it with --delete."""
    if delete and value is not None:
        raise InvalidInputError(
            f"give either a VALUE or --delete, not both: shipyard tag {ref} {key} --delete"
        )
    if not delete and value is None:
        raise InvalidInputError(f"missing VALUE: shipyard tag {ref} {key} VALUE (or --delete)")
    with open_registry() as registry:
        if value is None:
            registry.delete_tag(ref, key)
            typer.echo(f"{ref}: deleted tag {key}")
        else:
            registry.set_tag(ref, key, value)
            typer.echo(f"{ref}: {key}={value}")
