"""``shipyard audit``: the log, and verification that catches direct database edits."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import Result

from shipyard.registry import schema

Invoke = Callable[..., Result]

pytestmark = pytest.mark.usefixtures("registered")


def test_audit_log(cli: Invoke, cli_json: Any) -> None:
    entries = cli_json("audit", "log")
    assert [e["action"] for e in entries] == [
        "config.change",
        "model.create",
        "version.register",
        "version.attach",  # the ONNX conversion (or why it was refused)
        "version.register",
        "version.attach",
        "alias.set",
    ]
    assert [e["seq"] for e in cli_json("audit", "log", "--limit", "2")] == [6, 7]
    assert {e["subject"] for e in cli_json("audit", "log", "--subject", "churn/1")} == {"churn/1"}
    assert "alias.set" in cli("audit", "log").stdout


def test_audit_verify_intact(cli: Invoke) -> None:
    assert cli("audit", "verify").stdout == "audit chain intact: 7 entries\n"


def test_audit_verify_catches_tampering(run_shipyard: Callable[..., Any]) -> None:
    engine = sa.create_engine(f"sqlite:///{Path(os.environ['SHIPYARD_HOME']) / 'registry.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(
                schema.audit_log.update().where(schema.audit_log.c.seq == 4).values(actor="mallory")
            )
    finally:
        engine.dispose()
    result = run_shipyard("audit", "verify")
    assert result.returncode == 6
    assert result.stdout == ""
    assert (
        result.stderr
        == "error: audit chain broken at entry 4: content does not match its hash: edited\n"
    )
