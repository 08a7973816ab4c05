"""Migration 0006 (usage_intervals) on SQLite and PostgreSQL, and the usage store over it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from shipyard.monitoring.cost import Usage
from shipyard.monitoring.usage_store import UsageRow, UsageStore
from shipyard.registry.engine import HEAD_REVISION, VERSION_TABLE, Database

MIGRATIONS = Path(__file__).resolve().parents[2] / "src" / "shipyard" / "registry" / "migrations"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _alembic(url: str, verb: str, revision: str) -> None:
    engine = sa.create_engine(url)
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            getattr(command, verb)(cfg, revision)
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _row(replica: str, version: int, minute: int, predictions: int, cpu: float) -> UsageRow:
    return UsageRow(
        replica=replica,
        endpoint="churn",
        model="churn",
        version=version,
        variant="main",
        start=T0 + timedelta(minutes=minute),
        end=T0 + timedelta(minutes=minute + 1),
        requests=predictions // 2,
        predictions=predictions,
        cpu_seconds=cpu,
        memory_bytes=50 << 20,
        resident_seconds=60.0,
        cpu_request=1.0,
        memory_request_bytes=0,
    )


def test_0006_upgrades_a_0005_store_and_downgrades(database_url: str, tmp_path: Path) -> None:
    if database_url.startswith("sqlite"):
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    _alembic(database_url, "upgrade", "0005")
    assert "usage_intervals" not in _tables(database_url)
    assert "endpoints" in _tables(database_url)
    db = Database(database_url)  # migrates to the head, as a server starting does
    try:
        assert HEAD_REVISION == "0006"
        with db.read() as conn:
            assert conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == (
                "0006"
            )
            indexes = {i["name"] for i in sa.inspect(conn).get_indexes("usage_intervals")}
        assert "ix_usage_intervals_model" in indexes
        store = UsageStore(db)
        assert store.rows("churn") == []
        store.append([_row("a", 1, 0, 100, 1.5)])
        assert store.rows("churn")[0] == _row("a", 1, 0, 100, 1.5)
    finally:
        db.dispose()
    _alembic(database_url, "downgrade", "0005")
    assert "usage_intervals" not in _tables(database_url)


def test_replicas_and_intervals_add_up_by_version_and_range(database_url: str) -> None:
    db = Database(database_url)
    try:
        store = UsageStore(db)
        store.append([])  # nothing to write is not an error
        store.append([_row("a", 1, 0, 100, 1.0), _row("b", 1, 0, 300, 2.0)])
        store.append([_row("a", 1, 1, 50, 0.5), _row("a", 2, 1, 10, 0.25)])
        store.append([_row("a", 2, 5, 5, 0.125)])
        totals = store.by_version("churn")
        assert list(totals) == [1, 2]
        assert totals[1].predictions == 450 and totals[1].cpu_seconds == pytest.approx(3.5)
        assert totals[1].resident_seconds == pytest.approx(180.0)  # three replica-minutes
        assert totals[2].predictions == 15
        assert list(store.by_version("churn", 2)) == [2]
        # the range is on the interval's end: [since, until)
        early = store.by_version("churn", since=T0, until=T0 + timedelta(minutes=3))
        assert early[1].predictions == 450 and early[2].predictions == 10
        late = store.by_version("churn", since=T0 + timedelta(minutes=3))
        assert list(late) == [2] and late[2] == _row("a", 2, 5, 5, 0.125).usage
        assert store.by_version("other") == {}
        assert sum(totals.values(), Usage()).predictions == 465
        assert {r.replica for r in store.rows("churn", 1)} == {"a", "b"}
    finally:
        db.dispose()


def test_the_range_excludes_an_interval_ending_at_until(database_url: str) -> None:
    db = Database(database_url)
    try:
        store = UsageStore(db)
        store.append([_row("a", 1, 0, 100, 1.0), _row("a", 1, 1, 50, 0.5)])  # end at +1, +2
        assert store.by_version("churn", until=T0 + timedelta(minutes=2))[1].predictions == 100
        assert store.by_version("churn", since=T0 + timedelta(minutes=2))[1].predictions == 50
    finally:
        db.dispose()
