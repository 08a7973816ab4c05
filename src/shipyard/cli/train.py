"""``shipyard train``: a data set and a config become a registered, validated version."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shipyard.cli._common import JsonOption, open_registry, print_json, version_line

if TYPE_CHECKING:
    from shipyard.training.run import TrainResult


def train(
    config: Annotated[Path, typer.Argument(help="The training config (YAML).")],
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", min=1, help="AutoML worker processes (overrides automl.workers)."
        ),
    ] = None,
    load: Annotated[
        bool,
        typer.Option(
            "--load",
            help="Also run the load gate: a short load test against a local server "
            "(gates.load in the config sets its bounds; default: figures recorded only).",
        ),
    ] = False,
    json: JsonOption = False,
) -> None:
    """Train, register and validate a model version from a YAML config.

    Exits 0 when every gate passes, 1 when the version was registered but rejected by a gate.
    """
    from shipyard.training.config import load_config
    from shipyard.training.run import train as run_training

    cfg = load_config(config)
    if workers is not None and cfg.automl is not None:
        from dataclasses import replace

        cfg = cfg.replace(automl=replace(cfg.automl, workers=workers))
    if load and cfg.gates.load is None:
        from dataclasses import replace

        from shipyard.training.gate_config import LoadGate

        cfg = cfg.replace(gates=replace(cfg.gates, load=LoadGate()))
    with open_registry() as registry:
        result = run_training(cfg, registry, progress=not json and sys.stderr.isatty())
    if json:
        print_json(result.to_dict())
    else:
        _summary(result)
    if not result.passed:
        raise typer.Exit(1)


def _summary(result: TrainResult) -> None:
    verdict = "candidate" if result.passed else "REJECTED"
    typer.echo(f"registered {version_line(result.version)}: {verdict}")
    typer.echo(f"  family   {result.family}")
    typer.echo(
        f"  cv       {result.metric} {result.cv_mean:.4f} ± {result.cv_std:.4f} "
        f"({len(result.cv_scores)} folds)"
    )
    typer.echo(f"  holdout  {result.metric} {result.holdout:.4f}")
    if result.search is not None:
        s = result.search
        typer.echo(
            f"  automl   {s.n_trials} trials ({s.n_complete} complete, {s.n_pruned} pruned) "
            f"in {s.seconds:.1f} s"
        )
    for gate in result.gates.results:
        typer.echo(f"  gate     {'pass' if gate.passed else 'FAIL'}  {gate.gate}: {gate.reason}")
    if not result.gates.results:
        typer.echo("  gates    none declared")
