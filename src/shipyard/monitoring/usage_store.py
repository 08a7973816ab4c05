"""Metered serving use in the registry database (table ``usage_intervals``, migration 0006).

Each server replica appends one row per interval (its usage flush, about a minute) and per
version it had loaded or answered with; rows are never updated, so replicas never contend and
their figures add up. Reading back sums the rows of a model (or one version) over a time range
into :class:`~shipyard.monitoring.cost.Usage`, one per version, ready for
:func:`~shipyard.monitoring.cost.cost_of`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from shipyard.monitoring.cost import Prices, Usage, cost_report
from shipyard.registry import schema as t
from shipyard.registry.engine import Database
from shipyard.registry.store import _dt, _ts

__all__ = ["UsageRow", "UsageStore"]


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One replica's use of one version over ``[start, end)``."""

    replica: str
    endpoint: str
    model: str
    version: int
    variant: str
    start: datetime
    end: datetime
    requests: int
    predictions: int
    cpu_seconds: float
    memory_bytes: int
    resident_seconds: float
    cpu_request: float
    memory_request_bytes: int

    @property
    def usage(self) -> Usage:
        return Usage.interval(
            predictions=self.predictions,
            requests=self.requests,
            cpu_seconds=self.cpu_seconds,
            memory_bytes=self.memory_bytes,
            resident_seconds=self.resident_seconds,
            cpu_request=self.cpu_request,
            memory_request_bytes=self.memory_request_bytes,
        )


class UsageStore:
    """Appends and reads :class:`UsageRow` records."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def append(self, rows: Sequence[UsageRow]) -> None:
        """Store ``rows`` in one transaction (nothing when empty)."""
        if not rows:
            return
        values = [
            {
                "replica": r.replica,
                "endpoint": r.endpoint,
                "model": r.model,
                "version": r.version,
                "variant": r.variant,
                "start": _ts(r.start),
                "end": _ts(r.end),
                "requests": r.requests,
                "predictions": r.predictions,
                "cpu_seconds": r.cpu_seconds,
                "memory_bytes": r.memory_bytes,
                "resident_seconds": r.resident_seconds,
                "cpu_request": r.cpu_request,
                "memory_request_bytes": r.memory_request_bytes,
            }
            for r in rows
        ]
        with self.db.write() as conn:
            conn.execute(t.usage_intervals.insert(), values)

    def rows(
        self,
        model: str,
        version: int | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[UsageRow]:
        """The rows of ``model`` (one ``version``, or all), whose interval ended in
        ``[since, until)``, oldest first."""
        c = t.usage_intervals.c
        query = sa.select(t.usage_intervals).where(c.model == model)
        if version is not None:
            query = query.where(c.version == version)
        if since is not None:
            query = query.where(c.end >= _ts(since))
        if until is not None:
            query = query.where(c.end < _ts(until))
        with self.db.read() as conn:
            found = conn.execute(query.order_by(c.end, c.id)).all()
        return [_row(r) for r in found]

    def by_version(
        self,
        model: str,
        version: int | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[int, Usage]:
        """Each version's use, summed over replicas and intervals, by version number."""
        totals: dict[int, Usage] = {}
        for row in self.rows(model, version, since=since, until=until):
            totals[row.version] = totals.get(row.version, Usage()) + row.usage
        return dict(sorted(totals.items()))

    def report(
        self,
        model: str,
        prices: Prices,
        version: int | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[str, Any]:
        """The Cost section of ``model`` (``shipyard monitor report`` and the console's Cost
        page): each version's figures at ``prices``, and the total."""
        usages = self.by_version(model, version, since=since, until=until)
        return cost_report(usages, prices)


def _row(r: sa.Row[tuple[object, ...]]) -> UsageRow:
    m = r._mapping
    return UsageRow(
        replica=str(m["replica"]),
        endpoint=str(m["endpoint"]),
        model=str(m["model"]),
        version=int(m["version"]),
        variant=str(m["variant"]),
        start=_dt(str(m["start"])),
        end=_dt(str(m["end"])),
        requests=int(m["requests"]),
        predictions=int(m["predictions"]),
        cpu_seconds=float(m["cpu_seconds"]),
        memory_bytes=int(m["memory_bytes"]),
        resident_seconds=float(m["resident_seconds"]),
        cpu_request=float(m["cpu_request"]),
        memory_request_bytes=int(m["memory_request_bytes"]),
    )
