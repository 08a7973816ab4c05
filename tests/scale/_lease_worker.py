"""One replica's monitor scheduler, for the lease race: at every tick it races the others for
the monitor lease and, if it won, records the period's monitor run.

Runs in its own process (multiprocessing, spawn). Each period starts at a barrier shared by all
the racing processes and uses a logical clock (``now = period * PERIOD``), so the race is real
(three processes on three connections at once) and the outcome does not depend on this
machine's timing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shipyard.registry import schema as t
from shipyard.registry.engine import Database
from shipyard.registry.leases import try_acquire

PERIOD = 60.0
LEASE = "monitor:churn"


def scheduler(url: str, holder: str, periods: int, barrier: Any, results: Any) -> None:
    db = Database(url)
    try:
        for period in range(periods):
            barrier.wait(timeout=120)
            now = period * PERIOD
            won = try_acquire(db, LEASE, holder, PERIOD, now=now)
            if won:
                end = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=now)
                with db.write() as conn:
                    conn.execute(
                        t.monitor_runs.insert().values(
                            model="churn",
                            window_end=end.isoformat(),
                            rows=0,
                            status="ok",
                            report={"holder": holder},
                            started_at=end.isoformat(),
                        )
                    )
            results.put((period, holder, won))
    finally:
        db.dispose()
