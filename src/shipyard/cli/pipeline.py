"""``shipyard pipeline``: Run the closed retraining loop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli._common import JsonOption, group, open_registry, print_json

app = group("Run the closed retraining loop.")


@app.command("run")
def run(
    policy: Annotated[
        Path, typer.Option("--policy", help="The retraining policy (YAML).", show_default=False)
    ],
    json: JsonOption = False,
) -> None:
    """Run the loop once: on a firing alert or when the schedule is due, retrain, run the gates,
    register the candidate and start its canary rollout. For cron or CI.

    Exits 0 when nothing was due or a candidate was registered, 1 when training failed or a
    gate rejected the candidate.
    """
    from shipyard.training.loop import load_policy, run_loop_once

    loaded = load_policy(policy)
    with open_registry() as registry:
        result = run_loop_once(registry, loaded)
    if json:
        print_json(result.to_dict())
    else:
        line = f"pipeline {result.model}: {result.status}"
        if result.version:
            line += f" ({result.version})"
        typer.echo(line)
        for trigger in result.triggers:
            typer.echo(f"  trigger  {trigger}")
        if result.rollout_id is not None:
            typer.echo(f"  rollout  #{result.rollout_id} (shipyard rollout status)")
        for reason in result.reasons:
            typer.echo(f"  reason   {reason}")
    if not result.ok:
        raise typer.Exit(1)
