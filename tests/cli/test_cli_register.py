"""``shipyard register``: a file becomes a version; every malformed option names itself."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

Invoke = Callable[..., Result]


def test_register_prints_the_new_reference(
    cli: Invoke, cli_json: Any, model_file: Path, reference_csv: Path
) -> None:
    result = cli(
        "register",
        str(model_file),
        "--name",
        "churn",
        "--reference",
        str(reference_csv),
        "--target",
        "churned",
        "--metric",
        "auc=0.9",
        "--param",
        "max_depth=4",
        "--param",
        "criterion=gini",
        "--tag",
        "team=growth",
        "--description",
        "first try",
    )
    shown = cli_json("versions", "show", "churn/1")
    assert (
        result.stdout == f"registered churn/1 (sklearn, sha256 {shown['artifact_digest'][:8]}…)\n"
    )
    assert shown["flavor"] == "sklearn"
    assert shown["metrics"] == {"auc": 0.9}
    assert shown["params"] == {"max_depth": 4, "criterion": "gini"}
    assert shown["tags"] == {"team": "growth"}
    assert shown["description"] == "first try"
    features = [f["name"] for f in shown["signature"]["inputs"]]
    assert "churned" not in features and "tenure_months" in features
    assert shown["profile_digest"] is not None


def test_register_reads_parquet_and_counts_up(
    cli: Invoke, cli_json: Any, tmp_path: Path, model_file: Path, churn_numeric: Any
) -> None:
    parquet = tmp_path / "reference.parquet"
    churn_numeric.to_parquet(parquet, index=False)
    cli("register", str(model_file), "--name", "churn")
    made = cli_json(
        "register",
        str(model_file),
        "--name",
        "churn",
        "--reference",
        str(parquet),
        "--target",
        "churned",
        "--flavor",
        "sklearn",
    )
    assert made["ref"] == "churn/2" and made["signature"] is not None


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--tag", "team", "--tag KEY=VALUE"),
        ("--tag", "=growth", "--tag KEY=VALUE"),
        ("--param", "depth", "--param KEY=VALUE"),
        ("--metric", "auc", "--metric KEY=VALUE"),
        ("--metric", "auc=high", "must be a number"),
    ],
)
def test_malformed_key_value_options_exit_2(
    cli: Invoke, model_file: Path, option: str, value: str, expected: str
) -> None:
    result = cli("register", str(model_file), "--name", "churn", option, value, ok=False)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and expected in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("missing.csv", None, "no such file"),
        ("data.json", "{}", "unsupported file type"),
        ("broken.parquet", "not parquet at all", "cannot read it"),
        ("empty.csv", "", "cannot read it"),
    ],
)
def test_bad_reference_names_the_option(
    cli: Invoke, tmp_path: Path, model_file: Path, name: str, content: str | None, expected: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    result = cli("register", str(model_file), "--name", "churn", "--reference", str(path), ok=False)
    assert result.exit_code == 2
    assert f"--reference {path}" in result.stderr and expected in result.stderr
    assert ".csv or .parquet" in result.stderr
    assert cli("versions", "list", "--json").stdout.strip() == "[]"


def test_target_needs_a_reference(cli: Invoke, model_file: Path) -> None:
    result = cli("register", str(model_file), "--name", "churn", "--target", "churned", ok=False)
    assert result.exit_code == 2 and "give --reference too" in result.stderr


def test_unknown_target_column_is_invalid_input(
    cli: Invoke, model_file: Path, reference_csv: Path
) -> None:
    result = cli(
        "register",
        str(model_file),
        "--name",
        "churn",
        "--reference",
        str(reference_csv),
        "--target",
        "nope",
        ok=False,
    )
    assert result.exit_code == 2 and "'nope'" in result.stderr


def test_bad_model_name_exits_2(cli: Invoke, model_file: Path) -> None:
    result = cli("register", str(model_file), "--name", "Churn Model", ok=False)
    assert result.exit_code == 2 and "invalid model name" in result.stderr


def test_missing_model_file_exits_2(cli: Invoke, tmp_path: Path) -> None:
    result = cli("register", str(tmp_path / "nope.skops"), "--name", "churn", ok=False)
    assert result.exit_code == 2 and "cannot read model file" in result.stderr
