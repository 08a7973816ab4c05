"""``shipyard keys``: the token printed once, lists without secrets, revocation, exit codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def test_create_prints_the_token_alone_on_stdout(cli: Any, cli_json: Callable[..., Any]) -> None:
    result = cli("keys", "create", "--scope", "predict", "--scope", "read", "--name", "ci")
    token = result.stdout.strip()
    assert token.startswith("shp_") and "\n" not in token
    assert "shown only now" in result.stderr and "predict, read" in result.stderr
    listed = cli_json("keys", "list")
    assert [(k["name"], k["scopes"], k["models"]) for k in listed] == [
        ("ci", ["predict", "read"], [])
    ]
    assert token.split("_")[1] == listed[0]["id"]
    plain = cli("keys", "list").stdout
    assert "ci" in plain and listed[0]["id"] in plain
    assert token not in plain and token not in str(listed)


def test_create_json_restricted_then_revoke(cli: Any, cli_json: Callable[..., Any]) -> None:
    created = cli_json("keys", "create", "--scope", "admin", "--model", "churn")
    assert created["token"].startswith(f"shp_{created['id']}_")
    assert created["models"] == ["churn"] and created["name"] == f"key-{created['id']}"
    revoked = cli("keys", "revoke", created["id"])
    assert f"revoked API key {created['id']}" in revoked.stdout
    assert cli_json("keys", "list") == []
    assert "no API keys yet" in cli("keys", "list").stdout
    everything = cli_json("keys", "list", "--all")
    assert everything[0]["revoked_at"] and everything[0]["revoked_by"]
    assert "revoked" in cli("keys", "list", "--all").stdout
    log = cli_json("audit", "log")
    actions = [e["action"] for e in log if e["subject"] == f"key:{created['id']}"]
    assert actions == ["key.create", "key.revoke"]


def test_exit_codes(cli: Any) -> None:
    bad_scope = cli("keys", "create", "--scope", "root", ok=False)
    assert bad_scope.exit_code == 2 and "unknown scope 'root'" in bad_scope.stderr
    no_scope = cli("keys", "create", ok=False)
    assert no_scope.exit_code == 2  # a usage error: --scope is required
    assert cli("keys", "revoke", "0123456789ab", ok=False).exit_code == 3
    key_id = cli("keys", "create", "--scope", "read").stdout.split("_")[1]
    cli("keys", "revoke", key_id)
    again = cli("keys", "revoke", key_id, ok=False)
    assert again.exit_code == 4 and "already revoked" in again.stderr
    cli("keys", "create", "--scope", "read", "--name", "dup")
    clash = cli("keys", "create", "--scope", "read", "--name", "dup", ok=False)
    assert clash.exit_code == 4 and "already named 'dup'" in clash.stderr
