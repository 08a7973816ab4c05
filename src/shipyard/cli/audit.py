"""``shipyard audit``: reading and verifying the tamper-evident audit chain."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shipyard.cli._common import (
    JsonOption,
    format_time,
    group,
    open_registry,
    print_json,
    print_table,
)

_CELL = 60

app = group("Read and verify the tamper-evident audit log.")


@app.command("log")
def audit_log(
    subject: Annotated[
        str | None,
        typer.Option(help="Only entries about this subject: 'churn' also covers 'churn/3'."),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the last N entries.")] = None,
    json: JsonOption = False,
) -> None:
    """Show audit entries, oldest first."""
    with open_registry() as registry:
        entries = registry.audit_log(subject=subject, limit=limit)
    if json:
        print_json([e.to_dict() for e in entries])
        return
    if not entries:
        typer.echo("no audit entries")
        return
    print_table(
        ("seq", "when", "actor", "action", "subject", "change"),
        (
            (e.seq, format_time(e.at), e.actor, e.action, e.subject, _change(e.before, e.after))
            for e in entries
        ),
    )


@app.command("verify")
def audit_verify() -> None:
    """Check every entry's hash and link; exit 6 at the first one that does not check out."""
    with open_registry() as registry:
        count = registry.verify_audit()
    typer.echo(f"audit chain intact: {count} entries")


def _change(before: Any, after: Any) -> str:
    text = _brief(after) if before is None else f"{_brief(before)} → {_brief(after)}"
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"  # the rest is in --json


def _brief(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_brief(v)}" for k, v in value.items())
    return "-" if value is None else str(value)
