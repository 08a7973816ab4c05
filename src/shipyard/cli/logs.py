"""``shipyard logs``: Export and purge the prediction log.

Both work on the prediction log the server writes: ``predlog_url``, or ``predictions.db`` beside
the registry. ``export`` writes one flat table (metadata, inputs, predicted label and
probabilities, and the ground truth that has arrived); ``purge`` applies the retention period and
records what it deleted in the registry's audit log, which itself is never purged.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer

from shipyard.cli._common import JsonOption, group, open_registry, print_json
from shipyard.errors import InvalidInputError

if TYPE_CHECKING:
    from shipyard.predlog.store import PredictionStore
    from shipyard.settings import Settings

app = group("Export and purge the prediction log.")

DEFAULT_RETENTION = "180d"
"""Six months: what the EU AI Act asks providers of high-risk systems to keep logs for."""
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@app.command("export")
def export(
    model: Annotated[str, typer.Option("--model", help="The model whose predictions to export.")],
    out: Annotated[Path, typer.Option("--out", help="The file to write (replaced if it exists).")],
    format: Annotated[str, typer.Option("--format", help="parquet, csv or jsonl.")] = "parquet",
    version: Annotated[
        int | None, typer.Option("--version", help="Only this version's predictions.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Start: a duration back from now (24h, 7d) or an ISO time (UTC unless it "
            "names a zone). Default: the first logged prediction.",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", help="End (excluded), in the same forms. Default: now.", show_default=False
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Write logged predictions, with their actual outcomes, to Parquet, CSV or JSON lines."""
    from shipyard.predlog.export import Format
    from shipyard.predlog.export import export as write

    if format not in ("parquet", "csv", "jsonl"):
        raise InvalidInputError(f"unknown --format {format!r}; use parquet, csv or jsonl")
    start = None if since is None else parse_time(since, "--since")
    end = None if until is None else parse_time(until, "--until")
    if start is not None and end is not None and start >= end:
        raise InvalidInputError(
            f"--since ({start.isoformat()}) must be before --until ({end.isoformat()})"
        )
    store = _open_store(None)
    try:
        fmt = cast("Format", format)
        rows = write(store, out, fmt, model=model, version=version, start=start, end=end)
    finally:
        store.dispose()
    if json:
        print_json({"rows": rows, "path": str(out), "format": format})
    else:
        typer.echo(f"wrote {rows} predictions of {model} to {out}")


@app.command("purge")
def purge(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            help="Delete predictions (and their labels) logged longer ago than this: a duration "
            "with its unit, as in 180d, 26w or 12h.",
        ),
    ] = DEFAULT_RETENTION,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json: JsonOption = False,
) -> None:
    """Delete predictions and labels older than the retention period (an audited action)."""
    seconds = parse_retention(older_than)
    cutoff = datetime.fromtimestamp(time.time() - seconds, UTC)
    with open_registry() as registry:
        store = _open_store(registry.settings)
        try:
            if not yes:
                n_pred, n_feed = store.count_before(cutoff)
                typer.confirm(
                    f"delete {n_pred} predictions and {n_feed} labels logged before "
                    f"{cutoff.isoformat(timespec='seconds')} from {store.safe_url}?",
                    abort=True,
                )
            result = store.purge(cutoff)
            registry.store.record_event(
                "predlog.purge",
                "predlog",
                {"older_than": older_than, "cutoff": cutoff.isoformat()},
                {
                    "predictions": result.predictions,
                    "feedback": result.feedback,
                    "store": store.safe_url,
                },
                registry.actor,
            )
        finally:
            store.dispose()
    if json:
        print_json(
            {
                "predictions": result.predictions,
                "feedback": result.feedback,
                "cutoff": cutoff.isoformat(),
            }
        )
    else:
        typer.echo(
            f"purged {result.predictions} predictions and {result.feedback} labels logged before "
            f"{cutoff.isoformat(timespec='seconds')} (recorded in the audit log as predlog.purge)"
        )


def parse_retention(text: str) -> float:
    """Seconds from ``180d``, ``26w``, ``12h``: the unit is required (a bare ``180`` could mean
    seconds and purge almost everything)."""
    match = _DURATION.match(text)
    if match is None:
        raise InvalidInputError(
            f"--older-than must be a duration with its unit (s, m, h, d or w), as in 180d; "
            f"got {text!r}"
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_time(text: str, option: str) -> datetime:
    """A duration back from now (``24h``) or an ISO time (UTC unless it names a zone)."""
    match = _DURATION.match(text)
    if match is not None:
        return datetime.fromtimestamp(
            time.time() - float(match.group(1)) * _UNITS[match.group(2)], UTC
        )
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(
            f"{option} must be a duration such as 24h, 30m or 7d, or an ISO time such as "
            f"2026-01-31T12:00; got {text!r}"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _open_store(settings: Settings | None) -> PredictionStore:
    from shipyard.predlog.store import PredictionStore, default_url
    from shipyard.settings import Settings

    settings = settings or Settings.load()
    return PredictionStore(settings.predlog_url or default_url(settings))
