"""The test PostgreSQL server: a fresh database per use (for the root fixtures and the
many-replica tests; a module of its own so both can import it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

POSTGRES_URL = os.environ.get("SHIPYARD_TEST_POSTGRES_URL", "")


def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database on the test server, dropped afterwards (even with clients left)."""
    if not POSTGRES_URL:
        if os.environ.get("CI"):
            pytest.fail("SHIPYARD_TEST_POSTGRES_URL is not set: run the suite with `make test`")
        pytest.skip("no PostgreSQL server: run `make test` (or scripts/postgres.sh start)")
    import sqlalchemy as sa

    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(POSTGRES_URL).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
