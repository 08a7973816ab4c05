"""``shipyard endpoints create|list|show`` on the local registry."""

from __future__ import annotations

from typing import Any

from _cli_types import Invoke


def test_create_list_and_show(cli: Invoke, cli_json: Any, registered: None) -> None:
    created = cli_json("endpoints", "create", "scoring", "--model", "churn")
    assert created["name"] == "scoring" and created["policy"] == "single"
    assert created["variants"] == [{"name": "main", "ref": "churn@champion", "weight": 1.0}]
    cli("endpoints", "create", "pinned", "--model", "churn", "--ref", "churn/2")
    listed = cli_json("endpoints", "list")["endpoints"]
    assert [(e["name"], e["variants"][0]["ref"]) for e in listed] == [
        ("pinned", "churn/2"),
        ("scoring", "churn@champion"),
    ]
    shown = cli_json("endpoints", "show", "scoring")
    assert shown["rollout"] is None and shown["model"] == "churn"
    text = cli("endpoints", "show", "pinned").stdout
    assert "churn/2" in text and "none active" in text


def test_errors_are_one_line_with_their_exit_code(cli: Invoke, registered: None) -> None:
    cli("endpoints", "create", "scoring", "--model", "churn")
    again = cli("endpoints", "create", "scoring", "--model", "churn", ok=False)
    assert again.exit_code == 4 and "already exists" in again.stderr
    unknown = cli("endpoints", "show", "nope", ok=False)
    assert unknown.exit_code == 3 and "no endpoint named 'nope'" in unknown.stderr
    no_model = cli("endpoints", "create", "x", "--model", "ghost", ok=False)
    assert no_model.exit_code == 3 and "ghost" in no_model.stderr
    wrong_ref = cli(
        "endpoints", "create", "y", "--model", "churn", "--ref", "other@champion", ok=False
    )
    assert wrong_ref.exit_code == 2 and "names model 'other'" in wrong_ref.stderr
    missing = cli("endpoints", "create", "z", "--model", "churn", "--ref", "churn/99", ok=False)
    assert missing.exit_code == 3 and "99" in missing.stderr
    assert all("Traceback" not in r.stderr for r in (again, unknown, no_model, wrong_ref, missing))
