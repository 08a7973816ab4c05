"""What scaling out costs PostgreSQL: server CPU per prediction-log row and per alias resolution,
and the change feed's commit-to-callback latency.

    SHIPYARD_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        taskset -c 0 .venv/bin/python bench/bench_scale.py [--seconds 6] [--moves 200]

Needs PostgreSQL (SHIPYARD_BENCH_POSTGRES_URL, else SHIPYARD_TEST_POSTGRES_URL); without one it
prints a line saying so and exits 0. A scratch database is created and dropped. The server must be
on this machine: its CPU is read from the serving backend's ``/proc/PID/stat`` (user + system),
so the figure is PostgreSQL's own work, not the client's.

- log rows: one client inserts batches of 500 (buffered mode: one batch per flush per replica),
  16 (durable mode's group commit at 16 connections) and 1 (one row per commit) for SECONDS each.
- alias resolution: ``Registry.get_version("churn@champion")``, what a replica's poll does per
  endpoint.
- change feed: MOVES alias moves committed here, timed to the ``ChangeFeed`` subscriber's call
  in its listener thread (p50 / p95 / max): from ``set_alias``'s return (the commit is done;
  0 when the subscriber ran first) and from its call (the client's own work and the commit
  included).

The load average is printed first: on a shared machine read the figures as orders of magnitude.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from _scratch import scratch_database

_TICK = os.sysconf("SC_CLK_TCK")


def _server_cpu(pid: int) -> float:
    """User + system CPU seconds of one PostgreSQL backend process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def _measure(
    engine: sa.Engine, seconds: float, step: Callable[[], int]
) -> tuple[int, float, float]:
    """Run ``step`` (returns the operations it did) for ``seconds`` on one pooled connection:
    (operations, wall seconds, server CPU seconds)."""
    engine.pool.dispose()  # one connection from here on, so one backend to read
    pid = _backend_pid(engine)
    if not os.path.exists(f"/proc/{pid}/stat"):
        sys.exit(
            f"PostgreSQL backend {pid} is not on this machine: run the bench beside the server"
        )
    n, cpu0, t0 = 0, _server_cpu(pid), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        n += step()
    wall, cpu = time.perf_counter() - t0, _server_cpu(pid) - cpu0
    if _backend_pid(engine) != pid:
        sys.exit("the pool switched connections during the measurement; rerun")
    return n, wall, cpu


def _log_row(i: int) -> dict[str, Any]:
    from shipyard.predlog import PredictionRecord
    from shipyard.predlog.record import to_row

    inputs = {f"f{j}": float(i + j) for j in range(20)} | {"plan": "pro", "region": "eu"}
    record = PredictionRecord(f"req-{uuid.uuid4().hex}", 0, "churn", "churn", 1, inputs, i % 2,
                              {"0": 0.3, "1": 0.7}, latency_ms=1.5)  # fmt: skip
    return to_row(record, inputs)


def log_rows(url: str, seconds: float) -> None:
    from shipyard.predlog import PredictionStore

    store = PredictionStore(url)
    for batch in (500, 16, 1):
        rows = [_log_row(i) for i in range(batch)]

        def insert(rows: list[dict[str, Any]] = rows) -> int:
            for row in rows:
                row["request_id"] = uuid.uuid4().hex
            store.insert(rows)
            return len(rows)

        n, wall, cpu = _measure(store.engine, seconds, insert)
        commits = n / batch
        print(
            f"  log rows, batches of {batch:3d}: {n / wall:8,.0f} rows/s from one client; "
            f"server {1e6 * cpu / n:6.1f} us/row, {1e6 * cpu / commits:7.1f} us/commit "
            f"-> one PostgreSQL core sustains ~{n / cpu if cpu else float('inf'):,.0f} rows/s"
        )
    store.dispose()


@contextmanager
def _registry(url: str) -> Iterator[Any]:
    import numpy as np
    from sklearn.linear_model import LinearRegression

    from shipyard.registry.client import Registry
    from shipyard.settings import Settings

    with tempfile.TemporaryDirectory() as home:
        registry = Registry(Settings(home=Path(home), database_url=url, convert_onnx=False))
        x = np.arange(20.0).reshape(10, 2)
        for _ in range(2):
            registry.register(LinearRegression().fit(x, x[:, 0]), "churn", reference=x)
        registry.set_alias("churn", "champion", 1)
        try:
            yield registry
        finally:
            registry.close()


def alias_resolution(url: str, seconds: float) -> None:
    with _registry(url) as registry:
        statements: list[str] = []

        def count(*event: Any) -> None:
            statements.append(event[2])

        sa.event.listen(registry.db.engine, "before_cursor_execute", count)
        registry.get_version("churn@champion")
        sa.event.remove(registry.db.engine, "before_cursor_execute", count)
        per_poll = len(statements)

        def resolve() -> int:
            registry.get_version("churn@champion")
            return 1

        n, wall, cpu = _measure(registry.db.engine, seconds, resolve)
        print(
            f"  alias resolution ({per_poll} statements): {n / wall:6,.0f}/s from one client, "
            f"{1e3 * wall / n:.2f} ms each; server {1e6 * cpu / n:6.0f} us each "
            f"-> one PostgreSQL core sustains ~{n / cpu if cpu else float('inf'):,.0f} polls/s"
        )


def change_feed(url: str, moves: int) -> None:
    from shipyard.registry.changes import ChangeFeed

    with _registry(url) as registry:
        heard = threading.Event()
        heard_at = [0.0]

        def on_change(subject: str) -> None:
            if subject == "churn@champion":
                heard_at[0] = time.perf_counter()
                heard.set()

        feed = ChangeFeed(url)
        feed.subscribe(on_change)
        feed.start()
        try:
            if not feed.wait_listening(30):
                sys.exit("the change feed did not start listening within 30 s")
            after_return: list[float] = []
            after_call: list[float] = []
            for i in range(moves):
                heard.clear()
                issued = time.perf_counter()
                registry.store.set_alias("churn", "champion", 2 - i % 2, "bench")  # after commit
                returned = time.perf_counter()
                if not heard.wait(30):
                    sys.exit(f"move {i} was not heard within 30 s")
                # The listener may run before set_alias returns (NOTIFY goes out at commit; the
                # return still has client work to do): that counts as 0 after the return.
                after_return.append(1e3 * max(0.0, heard_at[0] - returned))
                after_call.append(1e3 * (heard_at[0] - issued))
        finally:
            feed.close()
    print(f"  change feed, {moves} alias moves heard by a ChangeFeed subscriber:")
    for name, values in (("after set_alias returned", after_return),
                         ("after set_alias was called", after_call)):  # fmt: skip
        values.sort()
        p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
        print(
            f"    {name:27s} p50 {statistics.median(values):6.2f} ms, p95 {p95:6.2f} ms, "
            f"max {values[-1]:6.2f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0, help="per CPU measurement")
    parser.add_argument("--moves", type=int, default=200, help="alias moves for the feed")
    args = parser.parse_args()
    pg = os.environ.get("SHIPYARD_BENCH_POSTGRES_URL") or os.environ.get(
        "SHIPYARD_TEST_POSTGRES_URL"
    )
    if not pg:
        print("skipped: set SHIPYARD_BENCH_POSTGRES_URL to a PostgreSQL server on this machine")
        return
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average {load} on {os.cpu_count()} cores; {args.seconds:g} s per measurement")
    with scratch_database(pg) as url:
        with sa.create_engine(url).connect() as conn:
            settings = conn.execute(
                sa.text("SELECT current_setting('fsync'), current_setting('synchronous_commit')")
            ).one()
            version = conn.execute(sa.text("SHOW server_version")).scalar_one()
        print(f"PostgreSQL {version} (fsync={settings[0]}, synchronous_commit={settings[1]})")
        log_rows(url, args.seconds)
        alias_resolution(url, args.seconds)
        change_feed(url, args.moves)


if __name__ == "__main__":
    main()
