"""``shipyard ui``: the console over the local registry, with the server's binding rules."""

from __future__ import annotations

from typing import Any

import pytest

from shipyard.cli.ui import ui
from shipyard.errors import InvalidInputError


def test_beyond_loopback_without_a_key_it_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("must not start"))
    with pytest.raises(InvalidInputError, match=r"refusing to listen on 0\.0\.0\.0"):
        ui(host="0.0.0.0", port=8090, insecure=False)


def test_it_serves_the_console_and_prints_its_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    from shipyard.console import ConsoleApp

    started: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.update(app=app, **options))
    ui(host="127.0.0.1", port=8123, insecure=False)
    assert isinstance(started["app"], ConsoleApp)
    assert started["app"].auth.required is False  # loopback: keys only once one exists
    assert (started["host"], started["port"]) == ("127.0.0.1", 8123)
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8123/ui/" in out and "authentication is off" in out
    ui(host="0.0.0.0", port=8124, insecure=True)
    assert started["app"].auth.required is False  # --insecure: the operator said so
