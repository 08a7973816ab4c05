"""``shipyard audit``: the log, and verification that catches direct database edits."""

from __future__ import annotations

import csv
import io
import itertools
import json
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


# -- exports -----------------------------------------------------------------------------------


def test_audit_export_jsonl_verifies_on_its_own(cli: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    cli("audit", "export", "--out", str(out))
    lines = out.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == list(range(1, 8))
    assert records[0]["prev_hash"] == "0" * 64
    assert all(r["prev_hash"] == p["hash"] for p, r in itertools.pairwise(records))
    assert cli("audit", "export").stdout.splitlines() == lines  # the same on standard output
    result = cli("audit", "verify", "--file", str(out))
    assert "audit export intact: 7 entries (1-7)" in result.stdout
    assert records[-1]["hash"] in result.stdout


def test_audit_export_csv_verifies_on_its_own(cli: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "audit.csv"
    cli("audit", "export", "--format", "csv", "--out", str(out))
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [int(r["seq"]) for r in rows] == list(range(1, 8))
    assert {"prev_hash", "hash"} <= set(rows[0])
    assert "audit export intact: 7 entries" in cli("audit", "verify", "--file", str(out)).stdout


def test_a_window_of_the_log_verifies_from_its_first_link(
    cli: Invoke, cli_json: Any, tmp_path: Path
) -> None:
    entries = cli_json("audit", "log")
    out = tmp_path / "window.jsonl"
    cli(
        "audit",
        "export",
        "--since",
        entries[2]["at"],
        "--until",
        entries[5]["at"],
        "--out",
        str(out),
    )
    records = [json.loads(line) for line in out.read_text().splitlines()]
    seqs = [r["seq"] for r in records]
    assert seqs[0] >= 3 and seqs[-1] <= 6 and seqs == list(range(seqs[0], seqs[-1] + 1))
    assert "audit export intact" in cli("audit", "verify", "--file", str(out)).stdout


def test_an_edited_line_in_an_export_is_named(
    cli: Invoke, run_shipyard: Callable[..., Any], tmp_path: Path
) -> None:
    out = tmp_path / "audit.jsonl"
    cli("audit", "export", "--out", str(out))
    lines = out.read_text().splitlines()
    record = json.loads(lines[3])
    record["actor"] = "mallory"
    lines[3] = json.dumps(record)
    out.write_text("\n".join(lines) + "\n")
    result = run_shipyard("audit", "verify", "--file", str(out))
    assert result.returncode == 6
    assert result.stderr == (
        f"error: {out}: audit export broken at line 4 (entry 4): content does not match its "
        "hash: edited\n"
    )


def test_an_edited_csv_row_and_a_removed_line_are_named(cli: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "audit.csv"
    cli("audit", "export", "--format", "csv", "--out", str(out))
    text = out.read_text()
    edited = tmp_path / "edited.csv"
    edited.write_text(text.replace("alias.set", "alias.delete"))
    result = cli("audit", "verify", "--file", str(edited), ok=False)
    assert result.exit_code == 6
    assert "line 8 (entry 7): content does not match its hash: edited" in result.stderr

    jsonl = tmp_path / "audit.jsonl"
    cli("audit", "export", "--out", str(jsonl))
    lines = jsonl.read_text().splitlines()
    del lines[2]  # entry 3
    jsonl.write_text("\n".join(lines) + "\n")
    result = cli("audit", "verify", "--file", str(jsonl), ok=False)
    assert result.exit_code == 6
    assert "entry 3: missing (next stored entry is 4): removed" in result.stderr


def test_bad_export_options_and_files_say_what_to_do(cli: Invoke, tmp_path: Path) -> None:
    result = cli("audit", "export", "--since", "yesterday", ok=False)
    assert result.exit_code != 0
    assert "--since must be a duration such as 24h" in result.stderr
    result = cli("audit", "export", "--since", "1h", "--until", "2h", ok=False)
    assert result.exit_code != 0 and "must be before --until" in result.stderr
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_text('{"seq": 1}\n')
    result = cli("audit", "verify", "--file", str(garbage), ok=False)
    assert result.exit_code != 0
    assert "line 1: missing field(s) at, actor" in result.stderr
    result = cli("audit", "verify", "--file", str(tmp_path / "absent.jsonl"), ok=False)
    assert result.exit_code != 0 and "--file: cannot read" in result.stderr
