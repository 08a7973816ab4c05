"""``shipyard card MODEL/VERSION``: write a model card for a version."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli._common import open_registry


class CardFormat(StrEnum):
    md = "md"
    html = "html"
    json = "json"


def card(
    ref: Annotated[str, typer.Argument(help="The version: churn/3, churn@champion or churn.")],
    format: Annotated[
        list[CardFormat] | None,
        typer.Option("--format", help="md, html or json; repeat for several (default: all)."),
    ] = None,
    out: Annotated[Path, typer.Option(help="The folder to write the card(s) to.")] = Path("."),
    info: Annotated[
        Path | None,
        typer.Option(
            help="A YAML file with intended_use, out_of_scope, limitations, owners, license... "
            "(wins over card.* tags)."
        ),
    ] = None,
    importance_rows: Annotated[
        int,
        typer.Option(
            min=1, help="Rows of the reference sample for global importance, if not stored yet."
        ),
    ] = 1_000,
) -> None:
    """Write a model card (Markdown, HTML, JSON) from what the registry knows about a version:
    details and lineage, intended use and limits, training data, metrics with confidence
    intervals, slice results and gate report, global importance, monitoring since deployment."""
    from shipyard.cards import model_card, read_info, write_card

    fields = read_info(info) if info is not None else None
    formats = [f.value for f in (format or list(CardFormat))]
    with open_registry() as registry:
        data = model_card(registry, ref, info=fields, importance_rows=importance_rows)
    for path in write_card(data, out, dict.fromkeys(formats)):
        typer.echo(str(path))
