"""``shipyard rollout``: start, watch, promote, roll back, pause and resume rollouts.

They work on the registry directly: ``start`` changes the endpoint's routing at once, and the
servers serving the endpoint pick it up on their next poll; the server's rollout controller then
evaluates the rollout every few seconds and advances, promotes or rolls it back by its plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli._common import JsonOption, format_time, group, open_registry, print_json
from shipyard.cli.endpoints import local_db
from shipyard.errors import InvalidInputError

if TYPE_CHECKING:
    from shipyard.rollouts.store import Mode, Rollout

app = group("Start, watch, promote, roll back, pause and resume rollouts.")


def _describe(rollout: Rollout) -> None:
    typer.echo(
        f"rollout #{rollout.id} on {rollout.endpoint}: {rollout.mode} of {rollout.candidate_ref} "
        f"(baseline {rollout.model}/{rollout.baseline_version})"
    )
    steps = ", ".join(f"{s:g}%" for s in rollout.plan.steps)
    typer.echo(
        f"  status:   {rollout.status.replace('_', ' ')} at {rollout.state.weight:g}% "
        f"(step {rollout.state.step_index + 1} of {len(rollout.plan.steps)}: {steps})"
    )
    typer.echo(f"  started:  {format_time(rollout.created_at)} by {rollout.created_by}")
    decision = rollout.observed.get("last_decision")
    if decision:
        typer.echo(f"  last:     {decision['action']}: {'; '.join(decision['reasons'])}")
    counts = rollout.observed.get("counts")
    if counts:
        seen = ", ".join(f"{n} {c[0]} requests ({c[1]} errors)" for n, c in counts.items())
        typer.echo(f"  observed: {seen}")


@app.command("start")
def start(
    endpoint: Annotated[str, typer.Argument(help="The endpoint to roll the version out on.")],
    version: Annotated[
        int, typer.Option("--version", min=1, help="The candidate version.", show_default=False)
    ],
    canary: Annotated[
        float | None,
        typer.Option(
            "--canary",
            help="Canary: the first step's share of traffic, percent.",
            show_default=False,
        ),
    ] = None,
    ab: Annotated[
        float | None,
        typer.Option(
            "--ab",
            help="A/B test: the candidate's share of users, percent (needs --key).",
            show_default=False,
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="A/B key: header:NAME or field:NAME (a request-level field).",
            show_default=False,
        ),
    ] = None,
    shadow: Annotated[
        float | None,
        typer.Option(
            "--shadow",
            help="Shadow: the share of requests also sent to the candidate, percent.",
            show_default=False,
        ),
    ] = None,
    plan: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            help="A rollout plan (YAML: steps, min_bake, guardrails, metric).",
            show_default=False,
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Start rolling --version out on ENDPOINT (a canary of the plan's steps by default)."""
    from shipyard.rollouts.controller import start_rollout
    from shipyard.rollouts.plan import RolloutPlan

    given = [
        name
        for name, value in (("--canary", canary), ("--ab", ab), ("--shadow", shadow))
        if value is not None
    ]
    if len(given) > 1:
        raise InvalidInputError(
            f"give one of --canary, --ab and --shadow, not {' and '.join(given)}"
        )
    mode: Mode = "ab" if ab is not None else "shadow" if shadow is not None else "canary"
    share = ab if ab is not None else shadow if shadow is not None else canary
    parsed = None
    if plan is not None:
        try:
            text = plan.read_text()
        except OSError as exc:
            raise InvalidInputError(f"--plan {plan}: cannot read it: {exc.strerror}") from None
        parsed = RolloutPlan.from_yaml(text)
    with open_registry() as registry:
        local_db(registry, "rollout start")
        rollout = start_rollout(
            registry, endpoint, version, mode=mode, share=share, key=key, plan=parsed
        )
    if json:
        print_json(rollout.to_dict())
        return
    typer.echo(
        f"started rollout #{rollout.id}: {rollout.mode} of {rollout.candidate_ref} on "
        f"{rollout.endpoint} at {rollout.state.weight:g}%"
    )


@app.command("status")
def status(
    endpoint: Annotated[str, typer.Argument(help="The endpoint.")],
    json: JsonOption = False,
) -> None:
    """Show the endpoint's newest rollout: status, weight, step, last decision, counters."""
    from shipyard.rollouts.store import RolloutStore

    with open_registry() as registry:
        rollout = RolloutStore(local_db(registry, "rollout status")).latest(endpoint)
    if json:
        print_json(rollout.to_dict())
        return
    _describe(rollout)


def _act(endpoint: str, action: str, json: bool) -> None:
    from shipyard.rollouts.controller import act

    with open_registry() as registry:
        local_db(registry, f"rollout {action}")
        rollout = act(registry, endpoint, action)
    if json:
        print_json(rollout.to_dict())
        return
    typer.echo(
        f"rollout #{rollout.id} on {rollout.endpoint}: {rollout.status.replace('_', ' ')} "
        f"at {rollout.state.weight:g}%"
    )


@app.command("promote")
def promote(
    endpoint: Annotated[str, typer.Argument(help="The endpoint.")], json: JsonOption = False
) -> None:
    """Promote the candidate now: champion moves to it, the endpoint serves it alone."""
    _act(endpoint, "promote", json)


@app.command("rollback")
def rollback(
    endpoint: Annotated[str, typer.Argument(help="The endpoint.")], json: JsonOption = False
) -> None:
    """Roll back now: all traffic returns to the baseline."""
    _act(endpoint, "rollback", json)


@app.command("pause")
def pause(
    endpoint: Annotated[str, typer.Argument(help="The endpoint.")], json: JsonOption = False
) -> None:
    """Hold at the current weight (guardrails still roll back)."""
    _act(endpoint, "pause", json)


@app.command("resume")
def resume(
    endpoint: Annotated[str, typer.Argument(help="The endpoint.")], json: JsonOption = False
) -> None:
    """Continue a paused or stopped rollout."""
    _act(endpoint, "resume", json)
