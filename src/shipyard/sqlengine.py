"""One way to open a SQLAlchemy engine on SQLite or PostgreSQL, shared by the registry's metadata
store and the prediction log.

SQLite runs in WAL mode with ``synchronous=FULL`` and a long busy timeout; a connection given the
execution option ``shipyard_write=True`` begins with ``BEGIN IMMEDIATE`` so writers queue for the
lock up front instead of failing on a lock upgrade, while readers never wait (WAL).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from shipyard.errors import ShipyardError

__all__ = ["WRITE_OPTION", "open_engine"]

WRITE_OPTION = "shipyard_write"


def open_engine(
    url: str, what: str, error: type[ShipyardError], *, foreign_keys: bool = False
) -> tuple[sa.Engine, str]:
    """The engine for ``url`` and its dialect name; bad URLs raise ``error`` naming ``what``."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise error(
            f"invalid {what} {url!r}: use sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB"
        ) from exc
    dialect = parsed.get_backend_name()
    kwargs: dict[str, Any] = {}
    if dialect == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 60, "check_same_thread": False}
    elif dialect == "postgresql":
        kwargs["pool_pre_ping"] = True
    else:
        raise error(f"{what} {url!r}: only SQLite and PostgreSQL are supported")
    try:
        engine = sa.create_engine(parsed, **kwargs)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise error(
            f"cannot use {what} {url!r}: {exc} (PostgreSQL needs: pip install 'shipyard[postgres]')"
        ) from exc
    if dialect == "sqlite":
        _configure_sqlite(engine, foreign_keys)
    return engine, dialect


def _configure_sqlite(engine: sa.Engine, foreign_keys: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        if foreign_keys:
            cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
