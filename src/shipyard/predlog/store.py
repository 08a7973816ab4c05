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
from sqlalchemy.dialects import postgresql, sqlite

from shipyard.predlog.errors import PredictionLogError
from shipyard.predlog.schema import SCHEMA_VERSION, meta, metadata, predictions
from shipyard.sqlengine import WRITE_OPTION, open_engine

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
        self.engine, self.dialect = open_engine(url, "prediction log URL", PredictionLogError)
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
            conn = conn.execution_options(**{WRITE_OPTION: True})
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
