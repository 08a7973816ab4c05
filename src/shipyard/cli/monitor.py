"""``shipyard monitor``: Run the monitor and report drift, data quality, performance and alerts."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipyard.cli._common import (
    JsonOption,
    format_time,
    group,
    open_registry,
    parse_pairs,
    print_json,
    print_table,
)
from shipyard.errors import ConfigError, InvalidInputError

if TYPE_CHECKING:
    from shipyard.monitoring.alerts import AlertChannel, AlertRule
    from shipyard.predlog.store import PredictionStore
    from shipyard.registry.client import Registry

app = group("Run the monitor and report drift, data quality, performance and alerts.")
rules_app = group("Alert rules kept in the registry (added and removed with an audit entry).")
app.add_typer(rules_app, name="rules")

ALERTS_FIRED = 10
"""``monitor run``'s exit status when at least one alert started firing."""

SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Start of the window: a duration back from now (24h, 30m, 7d) or an ISO time "
        "(UTC unless it names a zone).",
        show_default=False,
    ),
]
VersionOption = Annotated[
    int | None,
    typer.Option(
        "--version", help="Monitor this version (default: the one that served most rows)."
    ),
]


@app.command("run")
def run(
    model: Annotated[
        str | None,
        typer.Argument(
            metavar="MODEL", help="The model to monitor (default: every registered model)."
        ),
    ] = None,
    since: SinceOption = None,
    version: VersionOption = None,
    rules: Annotated[
        Path | None,
        typer.Option(
            "--rules",
            help="An alert config (YAML: channels and rules), on top of the registry's rules.",
            show_default=False,
        ),
    ] = None,
    settle: Annotated[
        float,
        typer.Option(
            "--settle",
            help="Seconds left out at the end of the window, for rows still being written.",
        ),
    ] = 2.0,
    json: JsonOption = False,
) -> None:
    """One pass over the predictions logged since the previous run (cron-friendly).

    Computes drift, data quality and performance, evaluates the alert rules, delivers their
    events and records the run. While another replica runs the same model's pass (it holds
    the lease monitor:MODEL), this one is skipped with a note. Exit status: 0 when the pass ran and no alert started firing;
    10 when at least one alert started firing (the summary says which and where it was
    delivered); errors use shipyard's usual codes (2 bad input, 3 not found, ...).
    """
    from shipyard.monitoring.run import run_monitor

    start = parse_since(since) if since is not None else None
    if settle < 0:
        raise InvalidInputError(f"--settle must be zero or more seconds, got {settle!r}")
    config_rules, channels = load_rules(rules)
    with open_registry() as registry:
        models = [model] if model else [m.name for m in registry.list_models()]
        if not models:
            raise InvalidInputError(
                "there is no model to monitor yet; register one (shipyard register ...)"
            )
        store = prediction_store(registry)
        try:
            results = [
                run_monitor(
                    registry,
                    store,
                    name,
                    version=version,
                    since=start,
                    until=time.time() - settle,
                    rules=config_rules,
                    channels=channels,
                    lease=True,
                )
                for name in models
            ]
        finally:
            store.dispose()
    if json:
        print_json([r.to_dict() for r in results])
    else:
        for result in results:
            for line in result.summary():
                typer.echo(line)
    if any(r.fired for r in results):
        raise typer.Exit(ALERTS_FIRED)


@app.command("report")
def report(
    model: Annotated[str, typer.Argument(metavar="MODEL", help="The model to report on.")],
    since: SinceOption = "24h",
    version: VersionOption = None,
    format: Annotated[
        str, typer.Option("--format", help="text, json or html.", case_sensitive=False)
    ] = "text",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write the report to this file (default: stdout).", show_default=False
        ),
    ] = None,
) -> None:
    """Drift, data quality and performance over the window, with the recorded runs and alerts.

    Nothing is recorded and no alert is sent: ``monitor run`` does that. The HTML report is one
    self-contained file (inline charts, no script, no logged row).
    """
    from shipyard.monitoring.cost import cost_lines
    from shipyard.monitoring.html import render_html
    from shipyard.monitoring.run import run_monitor
    from shipyard.monitoring.store import MonitorStore

    kind = format.lower()
    if kind not in ("text", "json", "html"):
        raise InvalidInputError(f"--format must be text, json or html, got {format!r}")
    start = parse_since(since or "24h")
    with open_registry() as registry:
        store = prediction_store(registry)
        try:
            result = run_monitor(
                registry, store, model, version=version, since=start, record=False, alerts=False
            )
        finally:
            store.dispose()
        monitors = MonitorStore(registry.db)
        runs = monitors.runs(model, since=start)
        events = monitors.events(model, since=start)
        cost = _cost_section(registry, model, version, start)
    if kind == "html":
        text = render_html(result.to_dict(), [r.report for r in runs], cost)
    elif kind == "json":
        import json as _json

        text = _json.dumps(
            {
                "report": result.to_dict(),
                "runs": [{k: v for k, v in r.to_dict().items() if k != "report"} for r in runs],
                "events": [e.to_dict() for e in events],
                "cost": cost,
            },
            indent=2,
            allow_nan=False,
        )
    else:
        lines = result.summary()
        lines.append(f"runs recorded since {format_time(start)}: {len(runs)}")
        lines.extend(
            f"  {format_time(r.window_end)}  {r.status:<6} {r.rows} rows" for r in runs[-10:]
        )
        lines.append(f"alert events since {format_time(start)}: {len(events)}")
        lines.extend(f"  {format_time(e.at)}  {e.message}" for e in events[-10:])
        lines.extend(cost_lines(cost))
        text = "\n".join(lines)
    if out is None:
        typer.echo(text)
        return
    try:
        out.write_text(text + ("\n" if kind != "html" else ""), encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot write --out {out}: {exc.strerror}") from exc
    typer.echo(f"wrote the {kind} report to {out} ({out.stat().st_size:,} bytes)", err=True)


def _cost_section(
    registry: Registry, model: str, version: int | None, since: datetime
) -> dict[str, Any]:
    """The report's Cost section: the usage the servers metered since ``since``, per version
    (monitoring/cost.py, at the settings' prices)."""
    from shipyard.monitoring.cost import Prices
    from shipyard.monitoring.usage_store import UsageStore

    prices = Prices.of(registry.settings)
    return UsageStore(registry.db).report(model, prices, version, since=since)


# -- rules --------------------------------------------------------------------------------------


@rules_app.command("add")
def add_rule(
    name: Annotated[
        str | None,
        typer.Argument(
            metavar="NAME", help="The rule's name (omit with --file).", show_default=False
        ),
    ] = None,
    figure: Annotated[
        str | None,
        typer.Option(
            "--figure",
            help="The figure watched: drift.share, "
            "drift.feature.age.drifted, performance.accuracy, ...",
            show_default=False,
        ),
    ] = None,
    op: Annotated[str, typer.Option("--op", help="One of > >= < <= == !=.")] = ">=",
    threshold: Annotated[
        float | None, typer.Option("--threshold", help="The value compared.", show_default=False)
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="Only for this model (default: every model).", show_default=False
        ),
    ] = None,
    severity: Annotated[str, typer.Option("--severity", help="info, warning or critical.")] = (
        "warning"
    ),
    for_: Annotated[
        str | None,
        typer.Option(
            "--for",
            help="How long it must hold: a count of runs (2) or a duration.",
            show_default=False,
        ),
    ] = None,
    cooldown: Annotated[
        str | None,
        typer.Option("--cooldown", help="No new firing within this long (6h).", show_default=False),
    ] = None,
    channel: Annotated[
        list[str] | None,
        typer.Option(
            "--channel",
            help="A channel to notify (repeat); 'log' always exists.",
            show_default=False,
        ),
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option("--label", help="KEY=VALUE added to the events (repeat).", show_default=False),
    ] = None,
    description: Annotated[str, typer.Option("--description", help="Shown with the alert.")] = "",
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="Add every rule of an alert config file instead.", show_default=False
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Store an alert rule in the registry (audited); ``monitor run`` evaluates it."""
    from shipyard.monitoring.alerts import AlertRule, load_alert_config
    from shipyard.monitoring.store import MonitorStore

    if file is not None:
        if name is not None or figure is not None or threshold is not None:
            raise InvalidInputError("give either NAME with --figure/--threshold, or --file alone")
        new_rules = list(load_alert_config(file).rules)
        if not new_rules:
            raise InvalidInputError(f"{file} holds no rules; add some under 'rules:'")
    else:
        if name is None or figure is None or threshold is None:
            raise InvalidInputError(
                "a rule needs NAME, --figure and --threshold, as in: shipyard monitor rules add "
                "churn-drift --figure drift.share --op '>=' --threshold 0.5 --channel log"
            )
        spec: dict[str, Any] = {
            "name": name,
            "figure": figure,
            "op": op,
            "threshold": threshold,
            "severity": severity,
            "channels": channel or ["log"],
            "labels": parse_pairs(label, "--label"),
            "description": description,
        }
        if for_ is not None:
            spec["for"] = int(for_) if for_.isdigit() else for_
        if cooldown is not None:
            spec["cooldown"] = cooldown
        new_rules = [AlertRule.from_dict(spec, "--")]
    with open_registry() as registry:
        monitors = MonitorStore(registry.db)
        stored = [monitors.add_rule(r, registry.actor, model=model) for r in new_rules]
    if json:
        print_json([s.to_dict() for s in stored])
        return
    for s in stored:
        typer.echo(f"added alert rule {s.rule.name}: {_condition(s.rule)} ({_scope(s.model)})")


@rules_app.command("list")
def list_rules(
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="Only the rules that apply to this model.", show_default=False
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """List the alert rules stored in the registry."""
    from shipyard.monitoring.store import MonitorStore

    with open_registry() as registry:
        stored = MonitorStore(registry.db).list_rules(model)
    if json:
        print_json([s.to_dict() for s in stored])
        return
    from shipyard.monitoring.alerts.defaults import DEFAULT_RULES

    for rule in DEFAULT_RULES:  # built in, unless a stored or config rule takes the name
        typer.echo(
            f"default rule {rule.name}: {_condition(rule)} "
            "(every model; a rule of the same name replaces it)"
        )
    if not stored:
        typer.echo("no alert rules stored yet: add one with `shipyard monitor rules add`")
        return
    print_table(
        ["name", "condition", "severity", "model", "channels", "created", "by"],
        (
            [
                s.rule.name,
                _condition(s.rule),
                s.rule.severity,
                s.model or "all",
                ",".join(s.rule.channels) or "-",
                format_time(s.created_at),
                s.created_by,
            ]
            for s in stored
        ),
    )


@rules_app.command("remove")
def remove_rule(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The rule's name.")],
) -> None:
    """Remove a stored alert rule (audited)."""
    from shipyard.monitoring.store import MonitorStore

    with open_registry() as registry:
        MonitorStore(registry.db).remove_rule(name, registry.actor)
    typer.echo(f"removed alert rule {name}")


# -- helpers ------------------------------------------------------------------------------------


def parse_since(text: str) -> datetime:
    """``24h`` (back from now) or an ISO time (UTC unless it names a zone)."""
    from shipyard.monitoring.alerts import parse_duration

    try:
        seconds = parse_duration(text, "--since")
    except ConfigError:
        pass
    else:
        return datetime.fromtimestamp(time.time() - seconds, UTC)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(
            f"--since must be a duration such as 24h, 30m or 7d, or an ISO time such as "
            f"2026-01-31T12:00; got {text!r}"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def load_rules(path: Path | None) -> tuple[list[AlertRule], dict[str, AlertChannel]]:
    """The rules and built channels of an alert config file (none without a file)."""
    if path is None:
        return [], {}
    from shipyard.monitoring.alerts import build_channels, load_alert_config

    config = load_alert_config(path)
    # The CLI is an edge: it hands the environment over for the channels' *_env secrets.
    return list(config.rules), build_channels(config.channels, environ=dict(os.environ))


def prediction_store(registry: Registry) -> PredictionStore:
    from shipyard.predlog.store import PredictionStore, default_url

    settings = registry.settings
    return PredictionStore(settings.predlog_url or default_url(settings))


def _condition(rule: AlertRule) -> str:
    return f"{rule.figure} {rule.op} {rule.threshold:g}"


def _scope(model: str | None) -> str:
    return "every model" if model is None else f"model {model}"
