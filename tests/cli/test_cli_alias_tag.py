"""``shipyard alias`` and ``shipyard tag``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import Result

Invoke = Callable[..., Result]

pytestmark = pytest.mark.usefixtures("registered")


def test_alias_set_move_delete_history(cli: Invoke, cli_json: Any) -> None:
    assert cli("alias", "set", "churn", "champion", "2").stdout == (
        "churn@champion → churn/2 (was churn/1)\n"
    )
    assert cli("alias", "set", "churn", "challenger", "champion").stdout == (
        "churn@challenger → churn/2\n"
    )
    assert cli("alias", "delete", "churn", "challenger").stdout == (
        "deleted churn@challenger (was churn/2)\n"
    )
    moves = cli_json("alias", "history", "churn", "champion")
    assert [(m["from_version"], m["to_version"]) for m in moves] == [(None, 1), (1, 2)]
    assert len(cli_json("alias", "history", "churn")) == 4
    assert "challenger" in cli("alias", "history", "churn").stdout


def test_alias_errors(cli: Invoke) -> None:
    assert cli("alias", "set", "churn", "champion", "7", ok=False).exit_code == 3
    assert cli("alias", "delete", "churn", "nobody", ok=False).exit_code == 3
    assert cli("alias", "set", "churn", "Bad Alias", "1", ok=False).exit_code == 2
    assert cli("alias", "history", "nope", ok=False).exit_code == 3


def test_tag_set_and_delete(cli: Invoke, cli_json: Any) -> None:
    assert cli("tag", "churn/2", "stage", "shadow").stdout == "churn/2: stage=shadow\n"
    assert cli_json("versions", "show", "churn/2")["tags"] == {"stage": "shadow"}
    cli("tag", "churn", "owner", "ml-team")
    assert cli_json("models", "show", "churn")["tags"] == {"owner": "ml-team"}
    assert cli("tag", "churn/2", "stage", "--delete").stdout == "churn/2: deleted tag stage\n"
    assert cli_json("versions", "show", "churn/2")["tags"] == {}


def test_tag_errors(cli: Invoke) -> None:
    assert cli("tag", "churn/2", "stage", "--delete", ok=False).exit_code == 3
    both = cli("tag", "churn/2", "stage", "x", "--delete", ok=False)
    assert both.exit_code == 2 and "not both" in both.stderr
    neither = cli("tag", "churn/2", "stage", ok=False)
    assert neither.exit_code == 2 and "missing VALUE" in neither.stderr
    assert cli("tag", "churn/9", "stage", "x", ok=False).exit_code == 3
