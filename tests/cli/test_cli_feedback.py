"""`shipyard feedback upload`: labels from CSV or Parquet into the local prediction log, or to a
running server's /api/v1/feedback (a real `shipyard serve` on loopback); bad files exit non-zero
with one clear line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from _cli_types import Invoke

from shipyard.predlog import PredictionRecord, PredictionStore, default_url, read_window
from shipyard.predlog.record import to_row
from shipyard.settings import Settings


def _log(*requests: tuple[str, int]) -> None:
    """Log requests (id, rows) into the default prediction log, as the server would."""
    store = PredictionStore(default_url(Settings.load()))
    rows = [
        to_row(r, r.inputs)
        for rid, n in requests
        for r in (PredictionRecord(rid, i, "churn", "churn", 1, {"x": i}, 0) for i in range(n))
    ]
    store.insert(rows)
    store.dispose()


def _actuals() -> dict[tuple[str, int], Any]:
    store = PredictionStore(default_url(Settings.load()))
    window = read_window(store, "churn")
    store.dispose()
    keys = zip(window.meta["request_id"], window.meta["row_index"], strict=True)
    return {k: v for k, v in zip(keys, window.actuals, strict=True) if not pd.isna(v)}


def test_upload_csv_into_the_local_log(cli: Invoke, tmp_path: Path) -> None:
    _log(("007", 1), ("b", 2))
    path = tmp_path / "labels.csv"
    path.write_text("request_id,row_index,value\n007,,1\nb,1,0\nb,0,1\nghost,0,1\n")
    result = cli("feedback", "upload", str(path))
    assert "accepted 3 labels; 1 match no logged prediction" in result.stdout
    assert "ghost#0" in result.stdout
    # "007" stays text (not the number 7), an empty row_index means the request's only row.
    assert _actuals() == {("007", 0): 1, ("b", 0): 1, ("b", 1): 0}


def test_upload_parquet_with_other_column_names_as_json(cli: Invoke, tmp_path: Path) -> None:
    _log(("p1", 1), ("p2", 1))
    path = tmp_path / "labels.parquet"
    pd.DataFrame({"rid": ["p1", "p2", "zz"], "truth": ["yes", "no", "yes"]}).to_parquet(path)
    result = cli(
        "feedback", "upload", str(path), "--request-id-column", "rid", "--value-column", "truth",
        "--json",
    )  # fmt: skip
    assert json.loads(result.stdout) == {
        "accepted": 2,
        "unknown": [{"request_id": "zz", "row_index": None}],
    }
    assert _actuals() == {("p1", 0): "yes", ("p2", 0): "no"}


def test_a_multi_row_request_needs_row_index(cli: Invoke, tmp_path: Path) -> None:
    _log(("multi", 3))
    path = tmp_path / "labels.csv"
    path.write_text("request_id,value\nmulti,1\n")
    result = cli("feedback", "upload", str(path), ok=False)
    assert result.exit_code == 2
    assert "'multi' (3 rows)" in result.stderr and "row_index" in result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("request_id,label\na,1\n", "has no column value"),
        ("request_id,value\n", "has no labels"),
        ("", "is empty"),
        ("request_id,row_index,value\na,-2,1\n", "row_index must be a non-negative integer"),
        ("request_id,row_index,value\na,x,1\n", "row_index must be a non-negative integer"),
        ("request_id,value\na,\n", "line 2: value is empty"),
    ],
)
def test_bad_files_exit_non_zero_with_one_line(
    cli: Invoke, tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "labels.csv"
    path.write_text(content)
    result = cli("feedback", "upload", str(path), ok=False)
    assert result.exit_code == 2, result.stderr
    assert expected in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_missing_and_unreadable_files(cli: Invoke, tmp_path: Path) -> None:
    missing = cli("feedback", "upload", str(tmp_path / "nope.csv"), ok=False)
    assert missing.exit_code == 2 and "no labels file" in missing.stderr
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not a parquet file at all")
    unreadable = cli("feedback", "upload", str(broken), ok=False)
    assert unreadable.exit_code == 2 and "cannot read" in unreadable.stderr
    assert unreadable.stderr.count("\n") == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.usefixtures("registered")
def test_labels_reach_a_running_server(
    cli: Invoke, tmp_path: Path, churn_numeric: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shipyard.cli.feedback as feedback_cli

    monkeypatch.setattr(feedback_cli, "BATCH", 2)  # several batches add up
    port = _free_port()
    command = [sys.executable, "-m", "shipyard", "serve", "churn@champion", "--port", str(port)]
    env = {**os.environ, "SHIPYARD_PREDLOG_MODE": "durable"}
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    X = churn_numeric.drop(columns=["churned"]).iloc[:3]
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            deadline = time.monotonic() + 120
            while True:
                assert server.poll() is None, server.communicate()[1].decode()
                try:
                    if http.get("/v2/health/ready").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server never became ready"
                time.sleep(0.1)
            ids = []
            for i in range(3):
                one = X.iloc[[i]].to_dict(orient="records")
                reply = http.post("/v1/models/churn:predict", json={"instances": one})
                assert reply.status_code == 200, reply.text
                ids.append(reply.headers["x-request-id"])
            direct = http.post("/api/v1/feedback", json={"request_id": ids[0], "value": 1})
            assert direct.status_code == 200, direct.text
            assert direct.json() == {"accepted": 1, "unknown": []}
            bad = http.post("/api/v1/feedback", json={"request_id": ids[0], "row_index": -1})
            assert bad.status_code == 400 and "value is missing" in bad.json()["error"]

            path = tmp_path / "labels.csv"
            lines = [f"{rid},0,{n % 2}" for n, rid in enumerate(ids)] + ["nobody,0,1"]
            path.write_text("request_id,row_index,value\n" + "\n".join(lines) + "\n")
            result = cli("feedback", "upload", str(path), "--server", base, "--json")
            assert json.loads(result.stdout) == {
                "accepted": 3,
                "unknown": [{"request_id": "nobody", "row_index": 0}],
            }
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)
    assert _actuals() == {(ids[0], 0): 0, (ids[1], 0): 1, (ids[2], 0): 0}


def test_an_unreachable_server_is_one_clear_line(cli: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("request_id,value\na,1\n")
    url = f"http://127.0.0.1:{_free_port()}"
    result = cli("feedback", "upload", str(path), "--server", url, ok=False)
    assert result.exit_code == 8 and "cannot reach the server" in result.stderr
    bad = cli("feedback", "upload", str(path), "--server", "localhost:1", ok=False)
    assert bad.exit_code == 2 and "invalid --server" in bad.stderr
