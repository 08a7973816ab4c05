"""``shipyard models`` and ``shipyard versions``: listing, showing, filtering, status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import Result

Invoke = Callable[..., Result]

pytestmark = pytest.mark.usefixtures("registered")


def test_models_list(cli: Invoke, cli_json: Any) -> None:
    assert "churn" in cli("models", "list").stdout
    [model] = cli_json("models", "list")
    assert model["name"] == "churn" and model["latest_version"] == 2
    assert model["aliases"] == {"champion": 1}


def test_models_show(cli: Invoke, cli_json: Any) -> None:
    out = cli("models", "show", "churn").stdout
    assert "champion→1" in out and "versions" in out
    assert cli_json("models", "show", "churn")["name"] == "churn"


def test_versions_list_and_filters(cli: Invoke, cli_json: Any) -> None:
    assert "churn/2" in cli("versions", "list").stdout
    assert [v["ref"] for v in cli_json("versions", "list", "churn")] == ["churn/1", "churn/2"]
    assert [v["ref"] for v in cli_json("versions", "list", "--tag", "team=growth")] == ["churn/1"]
    assert [v["ref"] for v in cli_json("versions", "list", "--metric", "auc>=0.85")] == ["churn/2"]
    ordered = cli_json("versions", "list", "--order-by", "-auc", "--limit", "1")
    assert [v["ref"] for v in ordered] == ["churn/2"]
    assert cli_json("versions", "list", "--status", "approved") == []


def test_versions_list_rejects_bad_conditions(cli: Invoke) -> None:
    result = cli("versions", "list", "--metric", "auc is high", ok=False)
    assert result.exit_code == 2 and "auc>=0.8" in result.stderr
    result = cli("versions", "list", "--tag", "team", ok=False)
    assert result.exit_code == 2 and "--tag KEY=VALUE" in result.stderr


def test_versions_show(cli: Invoke, cli_json: Any) -> None:
    out = cli("versions", "show", "churn@champion").stdout
    for expected in (
        "churn/1 (sklearn, candidate)",
        "tenure_months",
        "classification",
        "auc",
        "n_estimators",
        "lineage:",
        "team=growth",
        "champion",
    ):
        assert expected in out, expected
    shown = cli_json("versions", "show", "churn/2")
    assert shown["ref"] == "churn/2" and shown["signature"] is None
    assert "signature: none" in cli("versions", "show", "churn/2").stdout


def test_versions_status(cli: Invoke, cli_json: Any) -> None:
    assert (
        cli("versions", "status", "churn/2", "approved").stdout == "churn/2: candidate → approved\n"
    )
    assert cli_json("versions", "show", "churn/2")["status"] == "approved"
    result = cli("versions", "status", "churn/2", "shipped", ok=False)
    assert result.exit_code == 2 and "candidate" in result.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("models", "show", "nope"), 3),
        (("versions", "show", "churn/9"), 3),
        (("versions", "show", "churn@nobody"), 3),
        (("versions", "show", "churn/x"), 2),
        (("versions", "show", "Churn/1"), 2),
    ],
)
def test_lookup_errors(cli: Invoke, args: tuple[str, ...], code: int) -> None:
    result = cli(*args, ok=False)
    assert result.exit_code == code
    assert result.stdout == "" and result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1
