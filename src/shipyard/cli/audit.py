"""``shipyard audit``: reading, exporting and verifying the tamper-evident audit chain."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
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

app = group("Read, export and verify the tamper-evident audit log.")


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


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
def audit_verify(
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="Check an export (from `shipyard audit export`) instead of the registry.",
        ),
    ] = None,
) -> None:
    """Check every entry's hash and link; exit 6 at the first one that does not check out."""
    if file is not None:
        _verify_file(file)
        return
    with open_registry() as registry:
        count = registry.verify_audit()
    typer.echo(f"audit chain intact: {count} entries")


@app.command("export")
def audit_export(
    since: Annotated[
        str | None,
        typer.Option(help="Entries at or after this time: a duration back (24h, 7d) or ISO time."),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Entries before this time (duration back or ISO time).")
    ] = None,
    format: Annotated[ExportFormat, typer.Option("--format", help="jsonl or csv.")] = (
        ExportFormat.jsonl
    ),
    out: Annotated[
        Path | None, typer.Option(help="Write to this file (default: standard output).")
    ] = None,
) -> None:
    """Export a run of entries with their seq, prev_hash and hash, so the export can be checked
    without the registry: `shipyard audit verify --file FILE`."""
    from shipyard.cli.logs import parse_time
    from shipyard.errors import InvalidInputError
    from shipyard.registry.audit import export_csv, export_jsonl

    start = None if since is None else parse_time(since, "--since")
    end = None if until is None else parse_time(until, "--until")
    if start is not None and end is not None and start >= end:
        raise InvalidInputError(
            f"--since ({start.isoformat()}) must be before --until ({end.isoformat()})"
        )
    with open_registry() as registry:
        entries = [e for e in registry.audit_log() if _within(e.at, start, end)]
    text = export_csv(entries) if format is ExportFormat.csv else export_jsonl(entries)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"--out: cannot write {out}: {exc.strerror}") from exc
    span = f"entries {entries[0].seq}-{entries[-1].seq}" if entries else "no entries"
    typer.echo(f"exported {len(entries)} audit entries ({span}) to {out}", err=True)


def _within(at: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or at >= start) and (end is None or at < end)


def _verify_file(file: Path) -> None:
    from shipyard.errors import IntegrityError, InvalidInputError
    from shipyard.registry.audit import parse_export, verify_export

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"--file: cannot read {file}: {exc}") from exc
    try:
        pairs = parse_export(text)
    except InvalidInputError as exc:
        raise InvalidInputError(f"{file}: {exc}") from exc
    problem = verify_export(pairs)
    if problem is not None:
        raise IntegrityError(f"{file}: audit export broken at {problem}")
    if not pairs:
        typer.echo(f"{file}: no audit entries")
        return
    first, last = pairs[0][1], pairs[-1][1]
    typer.echo(
        f"{file}: audit export intact: {len(pairs)} entries ({first.seq}-{last.seq}), "
        f"last hash {last.hash}"
    )


def _change(before: Any, after: Any) -> str:
    text = _brief(after) if before is None else f"{_brief(before)} → {_brief(after)}"
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"  # the rest is in --json


def _brief(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_brief(v)}" for k, v in value.items())
    return "-" if value is None else str(value)
