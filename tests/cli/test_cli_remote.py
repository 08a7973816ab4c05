"""``--server URL``: the read commands and ``alias set`` against a running server's management
API, with API keys, instead of the local registry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _cli_types import Invoke

from shipyard.registry.client import Registry
from shipyard.registry.keys import KeyStore
from shipyard.serving.background import BackgroundServer
from shipyard.serving.server import build_app
from shipyard.settings import Settings


@pytest.fixture
def served(registered: None) -> Iterator[tuple[str, str, str]]:
    """A server on churn@champion with auth on; yields (url, read key, write key)."""
    registry = Registry(Settings.load())
    keys = KeyStore(registry.db)
    _, read = keys.create(["read"], actor="tester", name="reader")
    _, write = keys.create(["write"], actor="tester", name="deployer")
    app = build_app(registry, ["churn@champion"], require_auth=True, auth_ttl=0.0)
    try:
        with BackgroundServer(app) as url:
            yield url, read, write
    finally:
        registry.close()


def test_models_list_and_show_come_from_the_server(
    cli: Invoke, cli_json: Any, served: tuple[str, str, str]
) -> None:
    url, read, _ = served
    models = cli_json("--server", url, "--api-key", read, "models", "list")
    assert [m["name"] for m in models] == ["churn"]
    assert models[0]["aliases"] == {"champion": 1} and models[0]["latest_version"] == 2
    shown = cli("--server", url, "--api-key", read, "models", "show", "churn").stdout
    assert "champion→1" in shown and "more trees" not in shown  # versions table, no descriptions
    assert shown.count("sklearn") == 2


def test_alias_set_moves_the_alias_on_the_server_as_the_keys_name(
    cli: Invoke, served: tuple[str, str, str]
) -> None:
    url, read, write = served
    denied = cli(
        "--server", url, "--api-key", read, "alias", "set", "churn", "champion", "2", ok=False
    )
    assert denied.exit_code == 9 and "403" in denied.stderr and "write" in denied.stderr
    cli("--server", url, "--api-key", write, "alias", "set", "churn", "champion", "2")
    local = Registry(Settings.load())
    try:
        assert local.get_model("churn").aliases == {"champion": 2}
        assert local.alias_history("churn", "champion")[-1].actor == "deployer"
    finally:
        local.close()


def test_remote_errors_are_one_clear_line_with_the_usual_exit_codes(
    cli: Invoke, served: tuple[str, str, str]
) -> None:
    url, read, _ = served
    missing = cli("--server", url, "--api-key", read, "models", "show", "fraud", ok=False)
    assert missing.exit_code == 3 and "fraud" in missing.stderr
    no_key = cli("--server", url, "models", "list", ok=False)
    assert no_key.exit_code == 9 and "401" in no_key.stderr
    local_only = cli("--server", url, "--api-key", read, "versions", "show", "churn/1", ok=False)
    assert local_only.exit_code == 2 and "not available with --server" in local_only.stderr
    forced = cli(
        "--server", url, "--api-key", read, "alias", "set", "churn", "x", "1", "--force", ok=False
    )
    assert forced.exit_code == 2 and "--force" in forced.stderr


def test_a_bad_or_unreachable_server_url_is_named(cli: Invoke) -> None:
    bad = cli("--server", "10.0.0.5:8080", "models", "list", ok=False)
    assert bad.exit_code == 2 and "http://" in bad.stderr
    down = cli("--server", "http://127.0.0.1:9", "models", "list", ok=False)
    assert down.exit_code == 8 and "cannot reach the server" in down.stderr
