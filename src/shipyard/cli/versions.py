"""``shipyard versions``: finding, inspecting and approving model versions."""

from __future__ import annotations

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
    short_digest,
)

if TYPE_CHECKING:
    from shipyard.registry.entities import Attachment, ModelVersion

app = group("Find, inspect and change the status of model versions.")

_STATUSES = "candidate, approved, rejected or archived"
Ref = Annotated[str, typer.Argument(help="'churn/3', 'churn@champion' or 'churn'.")]


@app.command("list")
def list_versions(
    name: Annotated[str | None, typer.Argument(help="Only this model's versions.")] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Only versions tagged KEY=VALUE (repeatable).")
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", help="A metric condition such as 'auc>=0.8' (repeatable)."),
    ] = None,
    status: Annotated[str | None, typer.Option(help=f"Only versions that are {_STATUSES}.")] = None,
    order_by: Annotated[
        str | None, typer.Option(help="Sort by this metric, ascending; '-auc' for descending.")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Show at most this many.")] = None,
    json: JsonOption = False,
) -> None:
    """List versions, optionally filtered by tags, metric conditions and status."""
    tags = parse_pairs(tag, "--tag")
    with open_registry() as registry:
        found = registry.search_versions(
            name, tags=tags, metrics=metric or (), status=status, order_by=order_by, limit=limit
        )
    if json:
        print_json([v.to_dict() for v in found])
        return
    if not found:
        typer.echo("no versions match")
        return
    print_table(
        ("version", "flavor", "status", "aliases", "metrics", "created"),
        (
            (
                v.ref,
                v.flavor,
                v.status,
                ", ".join(v.aliases),
                _pairs(v.metrics),
                format_time(v.created_at),
            )
            for v in found
        ),
    )


@app.command("show")
def show_version(ref: Ref, json: JsonOption = False) -> None:
    """Show one version: signature, metrics, params, lineage, aliases, tags and digest."""
    with open_registry() as registry:
        version = registry.get_version(ref)
        attachments = registry.attachments(version.ref)
    if json:
        print_json({**version.to_dict(), "attached": [a.to_dict() for a in attachments]})
        return
    _print_version(version)
    _print_attachments(attachments)


@app.command("status")
def set_status(
    ref: Ref,
    status: Annotated[str, typer.Argument(help=f"The new status: {_STATUSES}.")],
) -> None:
    """Change a version's status (rejected and archived versions are never picked by 'churn')."""
    with open_registry() as registry:
        before = registry.get_version(ref)
        registry.set_status(before.ref, status)
        after = registry.get_version(before.ref)
    typer.echo(f"{after.ref}: {before.status} → {after.status}")


def _print_version(v: ModelVersion) -> None:
    typer.echo(f"{v.ref} ({v.flavor}, {v.status})")
    if v.description:
        typer.echo(f"  description: {v.description}")
    typer.echo(f"  created:     {format_time(v.created_at)} by {v.created_by}")
    typer.echo(f"  artifact:    {v.artifact_digest} ({_size(v.artifact_size)})")
    typer.echo(f"  aliases:     {', '.join(v.aliases) or '-'}")
    typer.echo(f"  tags:        {_pairs(v.tags) or '-'}")
    typer.echo(f"  reference:   {_reference(v)}")
    _print_signature(v.signature)
    _print_mapping("metrics", v.metrics)
    _print_mapping("params", v.params)
    _print_lineage(v.lineage)


def _print_attachments(attachments: list[Attachment]) -> None:
    if not attachments:
        return
    typer.echo("attached:")
    for a in attachments:
        digest = f" sha256 {a.digest[:12]}…" if a.digest else ""
        typer.echo(f"  {a.kind}{digest} ({format_time(a.created_at)} by {a.created_by})")
    reports = [a for a in attachments if a.kind == "gate_report"]
    if reports:
        report = reports[-1].data
        verdict = "passed" if report.get("passed") else "FAILED"
        print_table(
            ("gate", "result", "reason"),
            (
                (g.get("gate", "?"), "pass" if g.get("passed") else "FAIL", g.get("reason", ""))
                for g in report.get("gates", [])
            ),
            title=f"gates: {verdict}",
        )


def _print_signature(signature: dict[str, Any] | None) -> None:
    if signature is None:
        typer.echo("signature: none (register with --reference to record one)")
        return
    output = signature.get("output") or {}
    title = f"signature: {len(signature['inputs'])} features"
    if output:
        title += f" → {output.get('task')}"
        if output.get("classes") is not None:
            title += f" (classes: {', '.join(map(str, output['classes']))})"
    print_table(
        ("feature", "dtype", "kind", "nullable", "range / levels"),
        (
            (f["name"], f["dtype"], f["kind"], "yes" if f["nullable"] else "no", _domain(f))
            for f in signature["inputs"]
        ),
        title=title,
    )


def _domain(feature: dict[str, Any]) -> str:
    if feature.get("levels") is not None:
        levels = [str(level) for level in feature["levels"]]
        shown = ", ".join(levels[:6])
        return shown + (f", … ({len(levels)} levels)" if len(levels) > 6 else "")
    if feature.get("min") is not None or feature.get("max") is not None:
        return f"{_number(feature.get('min'))} … {_number(feature.get('max'))}"
    return ""


def _print_mapping(title: str, values: dict[str, Any]) -> None:
    if not values:
        typer.echo(f"{title}: none")
        return
    typer.echo(f"{title}:")
    width = max(len(str(k)) for k in values)
    for key, value in sorted(values.items()):
        typer.echo(f"  {key:<{width}}  {_number(value)}")


def _print_lineage(lineage: dict[str, Any]) -> None:
    typer.echo("lineage:")
    git = lineage.get("git")
    commit = f"{git['commit'][:12]}{' (dirty)' if git.get('dirty') else ''}" if git else "-"
    typer.echo(f"  git commit:       {commit}")
    parent = lineage.get("parent_version")
    typer.echo(f"  parent version:   {parent if parent is not None else '-'}")
    typer.echo(f"  data fingerprint: {lineage.get('data_fingerprint') or '-'}")
    libraries = lineage.get("libraries") or {}
    typer.echo(f"  libraries:        {' '.join(f'{k}={v}' for k, v in libraries.items()) or '-'}")


def _reference(v: ModelVersion) -> str:
    if v.profile_digest is None:
        return "none"
    return f"profile {short_digest(v.profile_digest)}"


def _pairs(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_number(val)}" for k, val in sorted(values.items()))


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "-" if value is None else str(value)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    size = n / 1024
    for unit in ("KB", "MB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
