"""The migrations produce exactly the tables in ``schema.metadata``, and endpoints are stored."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shipyard.errors import ConflictError, InvalidInputError, NotFoundError
from shipyard.registry.endpoints import EndpointStore
from shipyard.registry.engine import HEAD_REVISION, VERSION_TABLE, Database
from shipyard.registry.schema import metadata


def test_migrated_database_matches_schema(database_url: str) -> None:
    db = Database(database_url)
    try:
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"version_table": VERSION_TABLE, "compare_type": True}
            )
            assert compare_metadata(context, metadata) == []
            revision = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
        assert revision == HEAD_REVISION
    finally:
        db.dispose()


def _registered(registry: Any, name: str = "churn") -> None:
    import numpy as np
    from sklearn.linear_model import LinearRegression

    X = np.arange(20, dtype=float).reshape(10, 2)
    registry.register(LinearRegression().fit(X, X[:, 0]), name, reference=X)


def test_endpoint_store_lifecycle_is_audited(registry: Any) -> None:
    _registered(registry)
    store = EndpointStore(registry.db)
    created = store.ensure("churn", "churn", "churn@champion", "tester")
    assert created.main.ref == "churn@champion" and created.main.weight == 1.0
    assert store.ensure("churn", "churn", "churn@champion", "tester") == created  # no-op
    moved = store.ensure("churn", "churn", "churn/1", "tester")
    assert moved.main.ref == "churn/1" and moved.created_at == created.created_at
    assert [e.name for e in store.list()] == ["churn"]
    store.delete("churn", "tester")
    assert store.list() == []
    actions = [e.action for e in registry.audit_log(subject="endpoint:churn")]
    assert actions == ["endpoint.create", "endpoint.update", "endpoint.delete"]
    assert registry.verify_audit() > 3
    assert not any(e.action.startswith("endpoint") for e in registry.audit_log(subject="churn"))


def test_endpoint_store_refuses_what_does_not_fit(registry: Any) -> None:
    _registered(registry)
    store = EndpointStore(registry.db)
    with pytest.raises(NotFoundError, match="no model named 'fraud'"):
        store.ensure("fraud", "fraud", "fraud@champion", "tester")
    with pytest.raises(InvalidInputError, match="names model 'fraud'"):
        store.ensure("churn", "churn", "fraud@champion", "tester")
    with pytest.raises(InvalidInputError, match="invalid endpoint name"):
        store.ensure("Churn!", "churn", "churn", "tester")
    store.ensure("main", "churn", "churn", "tester")
    _registered(registry, "other")
    with pytest.raises(ConflictError, match="already serves model 'churn'"):
        store.ensure("main", "other", "other", "tester")
    with pytest.raises(NotFoundError, match=r"no endpoint named 'nope'.*endpoints: main"):
        store.get("nope")
    with pytest.raises(NotFoundError):
        store.delete("nope", "tester")
