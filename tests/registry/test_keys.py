"""API keys in the registry: stored hashed, scoped, restricted, revocable, audited."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import sqlalchemy as sa

from shipyard.errors import ConflictError, InvalidInputError, InvalidNameError, NotFoundError
from shipyard.registry import schema as t
from shipyard.registry.keys import KeyStore


def test_token_is_shown_once_and_stored_hashed(registry: Any) -> None:
    store = KeyStore(registry.db)
    assert not store.any_exist()
    key, token = store.create(["read", "predict"], name="ci", actor="tester")
    assert token.startswith(f"shp_{key.key_id}_") and len(token) > 50
    assert key.scopes == ("predict", "read")  # canonical order
    assert key.models == () and key.name == "ci" and key.created_by == "tester" and key.active
    with registry.db.read() as conn:
        row = conn.execute(sa.select(t.api_keys)).one()
        dump = repr(tuple(row)) + repr([tuple(r) for r in conn.execute(sa.select(t.audit_log))])
    secret = token.split("_", 2)[2]  # after "shp_<id>_"; the secret itself may hold "_"
    assert token not in dump and secret not in dump
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.token_hash not in repr([e.to_dict() for e in registry.audit_log()])
    assert "token" not in key.to_dict() and "hash" not in str(key.to_dict())
    assert store.verify(token) == key
    assert store.any_exist()


def test_verify_refuses_what_is_not_a_live_token(registry: Any) -> None:
    store = KeyStore(registry.db)
    key, token = store.create(["predict"], actor="tester")
    assert key.name == f"key-{key.key_id}"
    for bad in ("", "Bearer x", token[:-1], token + "x", "shp_" + "0" * 60, "x" * 10_000):
        assert store.verify(bad) is None
    revoked = store.revoke(key.key_id, "admin-user")
    assert revoked.revoked_by == "admin-user" and revoked.revoked_at is not None
    assert not revoked.active
    assert store.verify(token) is None
    assert store.any_exist()  # a revoked key still means "this store uses keys"


def test_scopes_and_model_restrictions(registry: Any) -> None:
    store = KeyStore(registry.db)
    admin, _ = store.create(["admin"], actor="tester")
    assert all(admin.allows(s) for s in ("predict", "read", "write", "admin"))
    reader, _ = store.create(["READ"], models=["churn", "fraud", "churn"], actor="tester")
    assert reader.allows("read") and not reader.allows("predict") and not reader.allows("write")
    assert reader.models == ("churn", "fraud")
    assert reader.reaches(["churn"]) and reader.reaches(["main", "fraud"])
    assert not reader.reaches(["other"])
    assert admin.reaches(["anything"])
    with pytest.raises(InvalidInputError, match="at least one scope"):
        store.create([], actor="tester")
    with pytest.raises(InvalidInputError, match=r"unknown scope 'root'.*predict, read, write"):
        store.create(["read", "root"], actor="tester")
    with pytest.raises(InvalidNameError, match="model or endpoint name"):
        store.create(["read"], models=["Churn!"], actor="tester")
    with pytest.raises(InvalidInputError, match="invalid key name"):
        store.create(["read"], name="\nnope", actor="tester")
    assert len(store.list()) == 2


def test_names_are_unique_among_active_keys(registry: Any) -> None:
    store = KeyStore(registry.db)
    first, _ = store.create(["predict"], name="ci", actor="tester")
    with pytest.raises(ConflictError, match=f"already named 'ci' \\(id {first.key_id}\\)"):
        store.create(["predict"], name="ci", actor="tester")
    store.revoke(first.key_id, "tester")
    second, _ = store.create(["predict"], name="ci", actor="tester")  # a rotated key
    assert [k.key_id for k in store.list()] == [first.key_id, second.key_id]
    assert [k.key_id for k in store.list(include_revoked=False)] == [second.key_id]


def test_revoke_errors(registry: Any) -> None:
    store = KeyStore(registry.db)
    key, _ = store.create(["predict"], actor="tester")
    with pytest.raises(NotFoundError, match=rf"no API key with id 'nope'.*{key.key_id}"):
        store.revoke("nope", "tester")
    with pytest.raises(NotFoundError):
        store.get("0" * 12)
    store.revoke(key.key_id, "tester")
    with pytest.raises(ConflictError, match="already revoked"):
        store.revoke(key.key_id, "tester")


def test_create_and_revoke_are_audited(registry: Any) -> None:
    store = KeyStore(registry.db)
    key, _ = store.create(["predict"], models=["churn"], name="bot", actor="alice")
    store.revoke(key.key_id, "bob")
    entries = registry.audit_log(subject=f"key:{key.key_id}")
    assert [(e.action, e.actor) for e in entries] == [
        ("key.create", "alice"),
        ("key.revoke", "bob"),
    ]
    assert entries[0].after == {"name": "bot", "scopes": ["predict"], "models": ["churn"]}
    assert entries[1].before["revoked_at"] is None and entries[1].after["revoked_at"]
    assert registry.verify_audit() >= 2
