"""A scheduled monitor run happens once, not once per replica: three processes racing for the
monitor lease at every period get exactly one winner, and exactly one run is recorded."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from datetime import UTC, datetime

import sqlalchemy as sa
from _lease_worker import PERIOD, scheduler

from shipyard.registry import schema as t
from shipyard.registry.engine import Database

PROCESSES = 3
PERIODS = 25


def test_racing_schedulers_run_each_period_once(database_url: str) -> None:
    Database(database_url).dispose()  # migrate once, before the race
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    workers = [
        ctx.Process(
            target=scheduler, args=(database_url, f"replica-{i}", PERIODS, barrier, results)
        )
        for i in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    outcomes: list[tuple[int, str, bool]] = [
        results.get(timeout=300) for _ in range(PROCESSES * PERIODS)
    ]
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0

    winners = Counter(period for period, _, won in outcomes if won)
    assert winners == Counter(range(PERIODS))  # exactly one winner in every period
    assert Counter(period for period, _, _ in outcomes) == Counter(
        {p: PROCESSES for p in range(PERIODS)}
    )  # and every replica did try

    db = Database(database_url)
    try:
        with db.read() as conn:
            runs = conn.execute(
                sa.select(t.monitor_runs.c.window_end, t.monitor_runs.c.report)
            ).all()
    finally:
        db.dispose()
    # One run per period, recorded by that period's winner.
    winner = {period: holder for period, holder, won in outcomes if won}
    recorded = {_period(end): report["holder"] for end, report in runs}
    assert len(runs) == PERIODS and recorded == winner


def _period(window_end: str) -> int:
    seconds = (
        datetime.fromisoformat(window_end) - datetime(2026, 1, 1, tzinfo=UTC)
    ).total_seconds()
    return round(seconds / PERIOD)
