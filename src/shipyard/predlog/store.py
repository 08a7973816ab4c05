"""The prediction log's database: its own SQLite file (WAL) by default, PostgreSQL by URL.

Heavy logging must never block registry writes, so this is a separate database with its own
engine and schema version (``predlog_meta``), not the registry's. Rows go in with
``INSERT ... ON CONFLICT (request_id, row_index) DO NOTHING``, one transaction per batch, so a
retried request — or a batch retried after a lost commit acknowledgement — is recorded once.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite

from shipyard.predlog.errors import PredictionLogError
from shipyard.predlog.schema import SCHEMA_VERSION, meta, metadata, predictions

if TYPE_CHECKING:
    from shipyard.settings import Settings

__all__ = ["PredictionStore", "default_url"]

_MIGRATE_LOCK_KEY = 0x5052_4C47  # "PRLG": advisory lock around schema creation on PostgreSQL


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
        try:
            parsed = sa.engine.make_url(url)
        except sa.exc.ArgumentError as exc:
            raise PredictionLogError(
                f"invalid prediction log URL {url!r}: use sqlite:///PATH or "
                "postgresql+psycopg://USER@HOST:PORT/DB"
            ) from exc
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {}
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 60, "check_same_thread": False}
        elif self.dialect == "postgresql":
            kwargs["pool_pre_ping"] = True
        else:
            raise PredictionLogError(
                f"prediction log URL {url!r}: only SQLite and PostgreSQL are supported"
            )
        try:
            self.engine = sa.create_engine(parsed, **kwargs)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise PredictionLogError(
                f"cannot use prediction log URL {url!r}: {exc} "
                "(PostgreSQL needs: pip install 'shipyard[postgres]')"
            ) from exc
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine)
        self._insert = (
            sqlite.insert(predictions)
            if self.dialect == "sqlite"
            else postgresql.insert(predictions)
        ).on_conflict_do_nothing(index_elements=["request_id", "row_index"])
        self.salt = self._migrate()

    @property
    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def insert(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert rows in one transaction; rows already stored are skipped. Raises SQLAlchemy's
        errors as they are: the writer retries them."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(predlog_write=True)
            with conn.begin():
                conn.execute(self._insert, list(rows))

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
                conn = plain.execution_options(predlog_write=True)
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


def _configure_sqlite(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" event decides, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Writers take the lock up front, so two of them queue on busy_timeout instead of failing
        # on a lock upgrade; readers never wait for writers (WAL).
        if conn.get_execution_options().get("predlog_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
