"""The monitor's records in the registry database: alert rules, alert events and monitor runs.

Tables from migration 0004 (``alert_rules``, ``alert_events``, ``monitor_runs``). Adding and
removing a rule each append an audit entry in the same transaction (subject ``alert_rule:NAME``),
through the metadata store's one audit chain. A run and the alert events it raised are written
in one transaction, so the history never holds one without the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from shipyard.errors import ConflictError, NotFoundError
from shipyard.monitoring.alerts.dispatcher import AlertRecord
from shipyard.monitoring.alerts.rules import AlertRule
from shipyard.registry import schema as t
from shipyard.registry.engine import Database
from shipyard.registry.refs import check_name
from shipyard.registry.store import MetadataStore, _dt, _ts, utcnow

__all__ = ["MonitorRun", "MonitorStore", "StoredEvent", "StoredRule"]


@dataclass(frozen=True)
class StoredRule:
    """A rule kept in the registry; ``model`` None means it applies to every model."""

    rule: AlertRule
    model: str | None
    enabled: bool
    created_at: datetime
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "enabled": self.enabled,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            **self.rule.to_dict(),
        }


@dataclass(frozen=True)
class StoredEvent:
    """One firing or resolved alert, as recorded (``data`` is the dispatcher's record)."""

    id: int
    rule: str
    model: str | None
    state: str
    severity: str
    value: float | None
    message: str
    data: dict[str, Any]
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "model": self.model,
            "state": self.state,
            "severity": self.severity,
            "value": self.value,
            "message": self.message,
            "at": self.at.isoformat(),
            "delivered": list(self.data.get("delivered", [])),
            "failures": list(self.data.get("failures", [])),
        }


@dataclass(frozen=True)
class MonitorRun:
    """One recorded pass of the monitor; ``report`` is its JSON report (no raw rows)."""

    id: int
    model: str
    version: int | None
    window_start: datetime | None
    window_end: datetime
    rows: int
    status: str
    report: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "version": self.version,
            "window_start": None if self.window_start is None else self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "rows": self.rows,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": None if self.finished_at is None else self.finished_at.isoformat(),
            "report": self.report,
        }


def _subject(name: str) -> str:
    return f"alert_rule:{name}"


class MonitorStore:
    """Rules, events and runs over the registry's :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._meta = MetadataStore(db)

    # -- rules ---------------------------------------------------------------------------------

    def add_rule(self, rule: AlertRule, actor: str, *, model: str | None = None) -> StoredRule:
        """Store ``rule`` (for ``model``, or every model); ConflictError if the name is taken."""
        if model is not None:
            check_name(model)
        spec = rule.to_dict()
        with self.db.write() as conn:
            found = conn.execute(
                sa.select(t.alert_rules.c.id).where(t.alert_rules.c.name == rule.name)
            ).first()
            if found is not None:
                raise ConflictError(
                    f"an alert rule named {rule.name!r} already exists; remove it first "
                    f"(shipyard monitor rules remove {rule.name}) or pick another name"
                )
            if model is not None:
                self._meta._model_id(conn, model)  # NotFoundError naming the known models
            now = _ts(utcnow())
            conn.execute(
                t.alert_rules.insert().values(
                    name=rule.name,
                    model=model,
                    spec=spec,
                    enabled=True,
                    created_at=now,
                    created_by=actor,
                    updated_at=now,
                )
            )
            after = {"model": model, "spec": spec}
            self._meta._audit(conn, actor, "alert_rule.add", _subject(rule.name), None, after)
        return self.get_rule(rule.name)

    def remove_rule(self, name: str, actor: str) -> None:
        with self.db.write() as conn:
            row = conn.execute(sa.select(t.alert_rules).where(t.alert_rules.c.name == name)).first()
            if row is None:
                raise NotFoundError(_no_rule(conn, name))
            conn.execute(t.alert_rules.delete().where(t.alert_rules.c.id == row.id))
            before = {"model": row.model, "spec": row.spec}
            self._meta._audit(conn, actor, "alert_rule.remove", _subject(name), before, None)

    def get_rule(self, name: str) -> StoredRule:
        with self.db.read() as conn:
            row = conn.execute(sa.select(t.alert_rules).where(t.alert_rules.c.name == name)).first()
            if row is None:
                raise NotFoundError(_no_rule(conn, name))
        return _rule(row)

    def list_rules(self, model: str | None = None) -> list[StoredRule]:
        """Every stored rule, or those that apply to ``model`` (its own and the global ones)."""
        query = sa.select(t.alert_rules).order_by(t.alert_rules.c.name)
        if model is not None:
            query = query.where(
                sa.or_(t.alert_rules.c.model.is_(None), t.alert_rules.c.model == model)
            )
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [_rule(row) for row in rows]

    def rules_for(self, model: str) -> list[AlertRule]:
        """The enabled rules that apply to ``model``."""
        return [r.rule for r in self.list_rules(model) if r.enabled]

    # -- runs and events -------------------------------------------------------------------------

    def record_run(
        self,
        *,
        model: str,
        version: int | None,
        window_start: datetime | None,
        window_end: datetime,
        rows: int,
        status: str,
        report: dict[str, Any],
        started_at: datetime,
        events: Sequence[AlertRecord] = (),
    ) -> int:
        """Insert a finished run and its alert events in one transaction; returns the run id."""
        finished = utcnow()
        with self.db.write() as conn:
            result = conn.execute(
                t.monitor_runs.insert().values(
                    model=model,
                    version=version,
                    window_start=None if window_start is None else _ts(window_start),
                    window_end=_ts(window_end),
                    rows=rows,
                    status=status,
                    report=report,
                    started_at=_ts(started_at),
                    finished_at=_ts(finished),
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            run_id = int(key[0])
            if events:
                conn.execute(
                    t.alert_events.insert(),
                    [
                        {
                            "rule": e["rule"],
                            "model": model,
                            "state": e["state"],
                            "severity": e["severity"],
                            "value": e["value"],
                            "message": _message(e),
                            "data": {**e, "run": run_id},
                            "at": _ts(finished),
                        }
                        for e in events
                    ],
                )
        return run_id

    def last_run(self, model: str) -> MonitorRun | None:
        """The successful run with the latest window end for ``model`` (None before the
        first): the next pass starts where it ended. Failed (``error``) runs do not count."""
        c = t.monitor_runs.c
        query = (
            sa.select(t.monitor_runs)
            .where((c.model == model) & (c.status != "error"))
            .order_by(c.window_end.desc(), c.id.desc())
            .limit(1)
        )
        with self.db.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else _run(row)

    def newest_run_id(self, model: str) -> int:
        """The id of ``model``'s newest recorded run (0 before the first): one index read, for
        a page that wants to know whether anything new was recorded."""
        c = t.monitor_runs.c
        query = sa.select(sa.func.max(c.id)).where(c.model == model)
        with self.db.read() as conn:
            found = conn.execute(query).scalar()
        return 0 if found is None else int(found)

    def runs(
        self, model: str, *, since: datetime | None = None, limit: int | None = None
    ) -> list[MonitorRun]:
        """``model``'s runs whose window ended at or after ``since``, oldest first; ``limit``
        keeps the newest."""
        c = t.monitor_runs.c
        query = sa.select(t.monitor_runs).where(c.model == model)
        if since is not None:
            query = query.where(c.window_end >= _ts(since))
        query = query.order_by(c.window_end.desc(), c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [_run(row) for row in reversed(rows)]

    def events(
        self, model: str | None = None, *, since: datetime | None = None, limit: int = 200
    ) -> list[StoredEvent]:
        """Recorded alert events, oldest first (at most the newest ``limit``)."""
        c = t.alert_events.c
        query = sa.select(t.alert_events)
        if model is not None:
            query = query.where(c.model == model)
        if since is not None:
            query = query.where(c.at >= _ts(since))
        query = query.order_by(c.at.desc(), c.id.desc()).limit(limit)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        return [
            StoredEvent(
                id=row.id,
                rule=row.rule,
                model=row.model,
                state=row.state,
                severity=row.severity,
                value=row.value,
                message=row.message,
                data=dict(row.data),
                at=_dt(row.at),
            )
            for row in reversed(rows)
        ]


def _message(record: AlertRecord) -> str:
    labels = ", ".join(f"{k}={v}" for k, v in sorted(record["labels"].items()))
    value = "n/a" if record["value"] is None else f"{record['value']:.6g}"
    text = (
        f"[{record['severity'].upper()}] {record['state'].upper()} {record['rule']}: "
        f"{record['figure']} = {value} ({record['op']} {record['threshold']:.6g})"
    )
    return f"{text} [{labels}]" if labels else text


def _rule(row: Any) -> StoredRule:
    return StoredRule(
        rule=AlertRule.from_dict(row.spec, "stored rule"),
        model=row.model,
        enabled=bool(row.enabled),
        created_at=_dt(row.created_at),
        created_by=row.created_by,
    )


def _run(row: Any) -> MonitorRun:
    return MonitorRun(
        id=row.id,
        model=row.model,
        version=row.version,
        window_start=None if row.window_start is None else _dt(row.window_start),
        window_end=_dt(row.window_end),
        rows=row.rows,
        status=row.status,
        report=dict(row.report),
        started_at=_dt(row.started_at),
        finished_at=None if row.finished_at is None else _dt(row.finished_at),
    )


def _no_rule(conn: sa.Connection, name: str) -> str:
    names = [
        r[0]
        for r in conn.execute(
            sa.select(t.alert_rules.c.name).order_by(t.alert_rules.c.name).limit(20)
        )
    ]
    known = ", ".join(names) if names else "none yet"
    return f"no alert rule named {name!r} (rules: {known}); add one with shipyard monitor rules add"
