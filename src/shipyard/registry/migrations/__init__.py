"""Alembic migrations of the metadata store (version table ``shipyard_alembic_version``)."""
