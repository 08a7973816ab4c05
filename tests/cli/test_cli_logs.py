"""`shipyard logs export|purge`: the prediction log to a file (with the actual outcomes), and the
retention purge that deletes only old rows and records itself in the audit log."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest
from _cli_types import Invoke

from shipyard.predlog import PredictionRecord, PredictionStore, default_url
from shipyard.predlog.record import to_row
from shipyard.registry.client import Registry
from shipyard.settings import Settings

DAY = 86_400.0


def _store() -> PredictionStore:
    return PredictionStore(default_url(Settings.load()))


def _log(prefix: str, n: int, *, at: float, version: int = 1) -> None:
    store = _store()
    store.insert(
        [
            to_row(r, r.inputs)
            for r in (
                PredictionRecord(
                    f"{prefix}{i}", 0, "churn", "churn", version, {"x": i}, i % 2, time=at + i
                )
                for i in range(n)
            )
        ]
    )
    store.dispose()


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_export_includes_the_actuals(cli: Invoke, tmp_path: Path, fmt: str) -> None:
    now = time.time()
    _log("old", 2, at=now - 3 * DAY)
    _log("r", 4, at=now - 3600)
    _log("v2-", 3, at=now - 3600, version=2)
    store = _store()
    store.add_feedback([("r0", 0, 1), ("r2", 0, 0)])
    store.dispose()
    out = tmp_path / f"churn.{fmt}"
    result = cli(
        "logs", "export", "--model", "churn", "--version", "1", "--since", "24h",
        "--format", fmt, "--out", str(out),
    )  # fmt: skip
    assert f"wrote 4 predictions of churn to {out}" in result.stdout
    frame = {
        "parquet": pd.read_parquet,
        "csv": pd.read_csv,
        "jsonl": lambda p: pd.read_json(p, lines=True),
    }[fmt](out)
    assert frame["request_id"].tolist() == ["r0", "r1", "r2", "r3"]
    assert frame["actual"].tolist()[0] == 1 and frame["actual"].tolist()[2] == 0
    assert frame["actual"].isna().tolist() == [False, True, False, True]
    assert frame["label"].tolist() == [0, 1, 0, 1]  # the predicted label beside the actual


def test_export_errors(cli: Invoke, tmp_path: Path) -> None:
    out = str(tmp_path / "x.csv")
    bad_format = cli(
        "logs", "export", "--model", "churn", "--format", "xlsx", "--out", out, ok=False
    )
    assert bad_format.exit_code == 2 and "unknown --format 'xlsx'" in bad_format.stderr
    bad_since = cli("logs", "export", "--model", "churn", "--since", "yesterday", "--out", out,
                    ok=False)  # fmt: skip
    assert bad_since.exit_code == 2 and "--since must be a duration" in bad_since.stderr
    backwards = cli("logs", "export", "--model", "churn", "--since", "1h", "--until", "2h",
                    "--out", out, ok=False)  # fmt: skip
    assert backwards.exit_code == 2 and "must be before --until" in backwards.stderr
    as_json = cli("logs", "export", "--model", "nothing", "--out", out, "--json")
    assert json.loads(as_json.stdout)["rows"] == 0


def test_purge_deletes_only_old_rows_and_writes_the_audit_entry(cli: Invoke) -> None:
    now = time.time()
    _log("old", 5, at=now - 200 * DAY)
    _log("new", 3, at=now - 10 * DAY)
    store = _store()
    store.add_feedback([("old0", 0, 1), ("new0", 0, 1), ("new1", 0, 0)])
    store.dispose()

    result = cli("logs", "purge", "--yes", "--json")  # the default retention: 180 days
    assert {k: v for k, v in json.loads(result.stdout).items() if k != "cutoff"} == {
        "predictions": 5,
        "feedback": 1,
    }
    store = _store()
    assert store.count() == 3 and store.feedback_count() == 2
    store.dispose()

    registry = Registry(Settings.load())
    entries = [e for e in registry.audit_log() if e.action == "predlog.purge"]
    assert len(entries) == 1
    assert entries[0].before["older_than"] == "180d"
    assert entries[0].after["predictions"] == 5 and entries[0].after["feedback"] == 1
    registry.verify_audit()  # the chain still verifies: the audit log is never purged
    registry.close()

    again = cli("logs", "purge", "--older-than", "5d", "--yes")
    assert "purged 3 predictions and 2 labels" in again.stdout


def test_purge_asks_first_and_refuses_a_bare_number(cli: Invoke) -> None:
    _log("old", 2, at=time.time() - 400 * DAY)
    declined = cli("logs", "purge", ok=False)  # no terminal answer: not confirmed
    assert declined.exit_code != 0
    assert "delete 2 predictions and 0 labels" in declined.stdout
    store = _store()
    assert store.count() == 2
    store.dispose()
    bare = cli("logs", "purge", "--older-than", "180", "--yes", ok=False)
    assert bare.exit_code == 2 and "with its unit" in bare.stderr
    store = _store()
    assert store.count() == 2
    store.dispose()
