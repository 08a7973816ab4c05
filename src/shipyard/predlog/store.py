"""The prediction log's database: its own SQLite file (WAL) by default, PostgreSQL by URL.

Heavy logging must never block registry writes, so this is a separate database with its own
engine and schema version (``predlog_meta``), not the registry's. Rows go in with
``INSERT ... ON CONFLICT (request_id, row_index) DO NOTHING``, one transaction per batch, so a
retried request — or a batch retried after a lost commit acknowledgement — is recorded once.
Ground-truth labels go to ``feedback`` (:meth:`PredictionStore.add_feedback`); both tables are
purged past the retention period by :meth:`PredictionStore.purge`, in small transactions.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
import time as _time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from shipyard.predlog.errors import PredictionLogError
from shipyard.predlog.feedback import FeedbackResult, check_item, store_feedback
from shipyard.predlog.record import ROW_COLUMNS
from shipyard.predlog.schema import SCHEMA_VERSION, UPGRADES, feedback, meta, metadata, predictions
from shipyard.sqlengine import WRITE_OPTION, open_engine

if TYPE_CHECKING:
    from shipyard.settings import Settings

__all__ = ["PredictionStore", "PurgeResult", "default_url"]

_INSERT_COLUMNS = tuple(c.name for c in predictions.columns if c.name != "id")
assert _INSERT_COLUMNS == ROW_COLUMNS, "record.ROW_COLUMNS must follow the predictions table"
_MIGRATE_LOCK_KEY = 0x5052_4C47  # "PRLG": advisory lock around schema creation on PostgreSQL
_PURGE_CHUNK = 20_000  # rows per purge transaction: the writer waits at most one chunk's delete
_SQLITE_ROWS_PER_INSERT = 64  # 704 parameters: under the 999 of SQLite builds before 3.32


@dataclass(frozen=True)
class PurgeResult:
    """What :meth:`PredictionStore.purge` deleted, and the cutoff it used (epoch microseconds)."""

    predictions: int
    feedback: int
    cutoff_us: int


def default_url(settings: Settings) -> str:
    """``predictions.db`` beside the registry's SQLite file (in ``home`` when it is not SQLite)."""
    url = sa.engine.make_url(settings.resolved_database_url)
    folder = settings.home
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        folder = Path(url.database).parent
    return f"sqlite:///{(folder / 'predictions.db').resolve()}"


class PredictionStore:
    """Connection, schema and batch insert of the prediction log (thread-safe)."""

    def __init__(self, url: str) -> None:
        self.engine, self.dialect = open_engine(url, "prediction log URL", PredictionLogError)
        mark = "?" if self.dialect == "sqlite" else "%s"
        self._row_marks = f"({', '.join([mark] * len(_INSERT_COLUMNS))})"
        self._insert_sql = self._insert_rows_sql(1)
        self._insert_sqls: dict[int, str] = {}
        self.salt = self._migrate()

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def insert(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows in one transaction; rows already stored are skipped. Raises SQLAlchemy's
        errors as they are: the writer retries them.

        The batch goes to the driver as plain tuples (no per-row SQLAlchemy parameter
        processing): to PostgreSQL through ``executemany``, to SQLite as multi-row ``INSERT``
        statements, on the core the server answers from."""
        columns = _INSERT_COLUMNS
        self.insert_tuples([tuple(row[c] for c in columns) for row in rows])

    def insert_tuples(self, params: Sequence[tuple[Any, ...]]) -> None:
        """:meth:`insert` for rows that are already tuples in the columns' order
        (:data:`~shipyard.predlog.record.ROW_COLUMNS`)."""
        if not params:
            return
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                if self.dialect != "sqlite":  # psycopg pipelines executemany itself
                    conn.exec_driver_sql(self._insert_sql, params)
                    return
                # SQLite: many rows per statement. Stepping one statement per row (what
                # executemany does) cost 38,900 instructions a row; 64 rows per statement,
                # 26,600 (callgrind, 10,000 rows of 20 features, four indexes).
                step = _SQLITE_ROWS_PER_INSERT
                for start in range(0, len(params), step):
                    part = params[start : start + step]
                    sql = self._insert_sqls.get(len(part))
                    if sql is None:
                        sql = self._insert_sqls[len(part)] = self._insert_rows_sql(len(part))
                    conn.exec_driver_sql(sql, tuple(itertools.chain.from_iterable(part)))

    def _insert_rows_sql(self, rows: int) -> str:
        return (
            f"INSERT INTO predictions ({', '.join(_INSERT_COLUMNS)}) "
            f"VALUES {', '.join([self._row_marks] * rows)} "
            "ON CONFLICT (request_id, row_index) DO NOTHING"
        )

    def add_feedback(
        self, items: Iterable[tuple[str, int | None, Any]], *, time: float | None = None
    ) -> FeedbackResult:
        """Attach ground-truth labels ``(request_id, row_index, value)`` to logged predictions.

        ``row_index`` None stands for the request's only row; for a request of several rows it
        is an :class:`~shipyard.errors.InvalidInputError` naming the request (nothing is
        written). A later label for a row replaces the earlier one, and its time (``time``,
        epoch seconds, default now) becomes the row's feedback time. Labels that match no
        logged prediction are **not stored**: they are returned in ``FeedbackResult.unknown``
        for the caller to report. One transaction per call, whatever its size (lookups and
        upserts go in chunks)."""
        checked = [check_item(*item, where=f"item {n}: ") for n, item in enumerate(items)]
        ts_us = _micros(_time.time() if time is None else time)
        try:
            with self.engine.connect() as plain:
                conn = plain.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    return store_feedback(conn, self.dialect, checked, ts_us)
        except sa.exc.SQLAlchemyError as exc:
            raise PredictionLogError(
                f"cannot store feedback in the prediction log {self.safe_url}: {exc}"
            ) from exc

    def purge(self, older_than: datetime | float) -> PurgeResult:
        """Delete the predictions logged before ``older_than`` (a datetime or epoch seconds),
        then the labels that arrived before it or whose prediction is gone. Works in
        transactions of a few thousand rows, so the server's writer (which shares a SQLite file
        with this) never waits long; an interrupted purge leaves whole rows and can be rerun."""
        cutoff = _micros(older_than.timestamp() if isinstance(older_than, datetime) else older_than)
        p, f = predictions.c, feedback.c
        old_predictions = sa.select(p.id).where(p.ts_us < cutoff)
        orphan = ~sa.exists().where(p.request_id == f.request_id, p.row_index == f.row_index)
        old_feedback = sa.select(f.id).where(sa.or_(f.ts_us < cutoff, orphan))
        deleted_predictions = self._delete_in_chunks(predictions, old_predictions)
        deleted_feedback = self._delete_in_chunks(feedback, old_feedback)
        return PurgeResult(deleted_predictions, deleted_feedback, cutoff)

    def count_before(self, older_than: datetime | float) -> tuple[int, int]:
        """How many predictions and labels :meth:`purge` would delete now (for a confirmation)."""
        cutoff = _micros(older_than.timestamp() if isinstance(older_than, datetime) else older_than)
        p, f = predictions.c, feedback.c
        with self.read() as conn:
            n_pred = conn.execute(
                sa.select(sa.func.count()).select_from(predictions).where(p.ts_us < cutoff)
            ).scalar_one()
            # A label whose prediction goes now is purged with it, so count through the join.
            kept = sa.exists().where(
                p.request_id == f.request_id, p.row_index == f.row_index, p.ts_us >= cutoff
            )
            n_feed = conn.execute(
                sa.select(sa.func.count())
                .select_from(feedback)
                .where(sa.or_(f.ts_us < cutoff, ~kept))
            ).scalar_one()
        return int(n_pred), int(n_feed)

    def _delete_in_chunks(self, table: sa.Table, ids: sa.Select[Any]) -> int:
        deleted = 0
        try:
            while True:
                with self.engine.connect() as plain:
                    conn = plain.execution_options(**{WRITE_OPTION: True})
                    with conn.begin():
                        chunk = ids.limit(_PURGE_CHUNK).scalar_subquery()
                        n = conn.execute(sa.delete(table).where(table.c.id.in_(chunk))).rowcount
                deleted += n
                if n < _PURGE_CHUNK:
                    return deleted
        except sa.exc.SQLAlchemyError as exc:
            raise PredictionLogError(
                f"purging {table.name} in the prediction log {self.safe_url} failed after "
                f"{deleted} rows: {exc}; rerun the purge once the database is reachable"
            ) from exc

    def feedback_count(self) -> int:
        with self.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(feedback)).scalar_one())

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.SQLAlchemyError as exc:
            raise PredictionLogError(f"prediction log {self.safe_url} failed: {exc}") from exc

    def count(self) -> int:
        with self.read() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(predictions)).scalar_one()
            )

    def dispose(self) -> None:
        self.engine.dispose()

    def _migrate(self) -> bytes:
        """Create the schema if missing (once, under a lock) and return the store's salt."""
        try:
            with self.engine.connect() as plain:
                conn = plain.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    if self.dialect == "postgresql":
                        conn.execute(
                            sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATE_LOCK_KEY}
                        )
                    metadata.create_all(conn)
                    stored = {k: v for k, v in conn.execute(sa.select(meta.c.key, meta.c.value))}
                    if "schema_version" not in stored:
                        stored = {
                            "schema_version": str(SCHEMA_VERSION),
                            "salt": secrets.token_hex(16),
                        }
                        conn.execute(
                            meta.insert(), [{"key": k, "value": v} for k, v in stored.items()]
                        )
                    elif int(stored["schema_version"]) < SCHEMA_VERSION:
                        stored["schema_version"] = str(self._upgrade(conn, stored))
        except sa.exc.SQLAlchemyError as exc:
            raise PredictionLogError(
                f"cannot open the prediction log {self.safe_url}: {exc}; check that the database "
                "is reachable and writable"
            ) from exc
        if int(stored["schema_version"]) > SCHEMA_VERSION:
            raise PredictionLogError(
                f"the prediction log {self.safe_url} has schema version {stored['schema_version']}, "
                f"newer than this shipyard ({SCHEMA_VERSION}); upgrade shipyard"
            )
        return bytes.fromhex(stored["salt"])

    @staticmethod
    def _upgrade(conn: sa.Connection, stored: dict[str, str]) -> int:
        """Run the upgrade steps from the stored schema version to this one (in the caller's
        transaction, under its lock), then record the new version."""
        for step in range(int(stored["schema_version"]) + 1, SCHEMA_VERSION + 1):
            UPGRADES[step](conn)
        conn.execute(
            meta.update().where(meta.c.key == "schema_version").values(value=str(SCHEMA_VERSION))
        )
        return SCHEMA_VERSION


def _micros(seconds: float) -> int:
    return round(seconds * 1_000_000)
