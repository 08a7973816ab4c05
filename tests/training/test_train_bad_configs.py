"""Bad training configs through ``shipyard train``: a non-zero exit and one line naming the
problem (never a traceback)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from shipyard.cli import app

GOOD = (
    "data: churn.csv\ntarget: churned\ntask: classification\nmodel: churn-bad\n"
    "split: {holdout: 0.25, folds: 2}\nfamilies: [linear]\n"
)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t.replace("churn.csv", "nowhere.csv"), "nowhere.csv does not exist"),
        (lambda t: t.replace("churn.csv", "empty.csv"), "data: the table has no rows"),
        (lambda t: t.replace("churn.csv", "blank.csv"), "data: cannot read"),
        (lambda t: t.replace("churn.csv", "binary.parquet"), "data: cannot read"),
        (lambda t: t.replace("target: churned", "target: left"), "target: no column 'left'"),
        (lambda t: t + "features: [age, shoe_size]\n", "features: no column(s) 'shoe_size'"),
        (
            lambda t: t.replace("target: churned", "target: contract").replace(
                "classification", "regression"
            ),
            "task: regression, but target 'contract' is not numeric",
        ),
        (
            lambda t: t.replace("target: churned", "target: monthly_charges"),
            "task: classification, but target 'monthly_charges'",
        ),
        (lambda t: t.replace("task: classification", "task: ranking"), "'ranking' is not a task"),
        (lambda t: t + "metric: rmse\n", "'rmse' is not a classification metric"),
        (lambda t: t + "gates: {load: {min_rps: 0}}\n", "gates.load.min_rps: must be a positive"),
    ],
)
def test_bad_config_exits_with_one_line(
    tmp_path: Path, churn_frame: Any, change: Any, expected: str
) -> None:
    churn_frame.iloc[:300].to_csv(tmp_path / "churn.csv", index=False)
    churn_frame.iloc[:0].to_csv(tmp_path / "empty.csv", index=False)
    (tmp_path / "blank.csv").write_bytes(b"")
    (tmp_path / "binary.parquet").write_bytes(b"PAR1 this is not parquet")
    path = tmp_path / "train.yaml"
    path.write_text(change(GOOD))
    result = CliRunner().invoke(app, ["train", str(path)])
    assert result.exit_code not in (0, 1), result.stdout  # 1 means "trained but rejected"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and expected in lines[0]
    assert "Traceback" not in result.stderr


def test_unreadable_config_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: cannot read training config {tmp_path / 'missing.yaml'}: No such file or directory"
    ]
