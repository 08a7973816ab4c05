"""Alembic environment: always run programmatically by :mod:`shipyard.registry.engine`."""

from __future__ import annotations

from alembic import context

from shipyard.registry.engine import VERSION_TABLE
from shipyard.registry.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
