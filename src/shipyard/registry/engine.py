"""Connecting to the metadata store: SQLite (WAL) by default, PostgreSQL by URL.

Write transactions are serialised: SQLite takes its write lock up front (``BEGIN IMMEDIATE``) and
PostgreSQL takes a transaction-level advisory lock, so version numbers and the audit chain never
race. Migrations run once per process per database, under a cross-process lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from shipyard.errors import StoreError
from shipyard.sqlengine import WRITE_OPTION, open_engine

__all__ = ["VERSION_TABLE", "Database"]

VERSION_TABLE = "shipyard_alembic_version"
HEAD_REVISION = "0006"
_WRITE_LOCK_KEY = 0x5348_4950  # "SHIP": the advisory-lock key of registry writes
_MIGRATED: set[str] = set()
_MIGRATE_GUARD = threading.Lock()


class Database:
    """An engine plus the two kinds of transaction the store uses."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine, self.dialect = open_engine(url, "database URL", StoreError, foreign_keys=True)
        if migrate:
            self.migrate()

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            raise StoreError(f"metadata store {self._safe_url()} failed: {exc.orig}") from exc

    @contextlib.contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A transaction that holds the store's write lock from its first statement."""
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    if self.dialect == "postgresql":
                        conn.execute(
                            sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _WRITE_LOCK_KEY}
                        )
                    yield conn
        except sa.exc.OperationalError as exc:
            raise StoreError(f"metadata store {self._safe_url()} failed: {exc.orig}") from exc

    def migrate(self) -> None:
        """Bring the schema to the head revision (cheap when it already is)."""
        key = self.url
        if key in _MIGRATED:
            return
        with _MIGRATE_GUARD:
            if key in _MIGRATED:
                return
            if self._current_revision() != HEAD_REVISION:
                with self._migration_lock():
                    if self._current_revision() != HEAD_REVISION:
                        self._run_alembic()
            _MIGRATED.add(key)

    def dispose(self) -> None:
        self.engine.dispose()

    def _current_revision(self) -> str | None:
        with self.read() as conn:
            if not sa.inspect(conn).has_table(VERSION_TABLE):
                return None
            row = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
            return None if row is None else str(row[0])

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        if self.dialect == "sqlite":
            database = self.engine.url.database
            if not database or database == ":memory:":
                yield
                return
            with open(f"{database}.migrate.lock", "a+b") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)
        else:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _WRITE_LOCK_KEY + 1})
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(
                        sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _WRITE_LOCK_KEY + 1}
                    )
                    conn.commit()

    def _run_alembic(self) -> None:
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def _safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)
