"""``shipyard pipeline``: Run the closed retraining loop (``run``), or watch it end to end on a
demo model (``demo``)."""

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


@app.command("demo")
def demo(
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="Where the demo's registry lives (default: a fresh temporary directory).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds the canary may take to be decided.")
    ] = 60.0,
    json: JsonOption = False,
) -> None:
    """Watch the closed loop end to end, without a person: a served churn champion sees drifted
    traffic and its labels, the monitor's drift alert fires, the loop retrains on the logged
    predictions, the candidate passes its gates, and its canary is promoted by the server.

    Runs on its own embedded store in --home; exits 1 when the candidate was not promoted.
    """
    import tempfile

    from shipyard.settings import Settings
    from shipyard.training.demo import run_loop_demo

    if home is None:
        home = Path(tempfile.mkdtemp(prefix="shipyard-pipeline-demo-"))

    def echo(line: str) -> None:  # with --json, stdout holds the JSON alone
        typer.echo(line, err=json)

    echo(f"the demo's registry: {home}")
    result = run_loop_demo(Settings(home=home, actor="pipeline-demo"), echo, timeout=timeout)
    if json:
        print_json(result.to_dict())
    else:
        typer.echo(f"done in {result.seconds:.1f} s")
    if not result.promoted:
        raise typer.Exit(1)
