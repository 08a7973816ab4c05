"""API keys: bearer tokens for the server, stored hashed, with scopes and model restrictions.

A token is ``shp_<key id>_<secret>``: the key id (12 hex characters) is public and names the key
in lists, logs and ``revoke``; the secret is 256 random bits. Only the sha256 of the whole token
is stored, so the token is shown once, when the key is created, and never again. With that much
entropy a plain (unsalted) hash is safe, and it lets the server find a key by one indexed lookup.

Scopes: ``predict`` (inference routes), ``read`` (metadata, ``/metrics``, the management API's
reads), ``write`` (the management API's changes) and ``admin``, which implies every other. A key
may be restricted to some endpoint or model names; an unrestricted key reaches every one.

Creating and revoking a key each append an audit entry in the same transaction, through the
metadata store's one audit chain (subject ``key:<key id>``; the hash never enters the log).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from shipyard.errors import ConflictError, InvalidInputError, NotFoundError
from shipyard.registry import schema as t
from shipyard.registry.engine import Database
from shipyard.registry.refs import check_name
from shipyard.registry.store import MetadataStore, _dt, _ts, utcnow

__all__ = ["ADMIN", "PREDICT", "READ", "SCOPES", "WRITE", "ApiKey", "KeyStore", "token_hash"]

PREDICT = "predict"
READ = "read"
WRITE = "write"
ADMIN = "admin"
SCOPES = (PREDICT, READ, WRITE, ADMIN)
PREFIX = "shp_"
_KEY_ID = re.compile(r"[0-9a-f]{12}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._@:+-]{0,99}")


def token_hash(token: str | bytes) -> str:
    """The stored form of a token: sha256, hex."""
    data = token.encode() if isinstance(token, str) else token
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """A key as listed: everything but the token (which is not stored) and its hash."""

    key_id: str
    name: str
    scopes: tuple[str, ...]
    models: tuple[str, ...]
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        return ADMIN in self.scopes or scope in self.scopes

    def reaches(self, names: Iterable[str]) -> bool:
        """Whether the key may act on something known by any of ``names`` (an endpoint and the
        model it serves); always true for an unrestricted key."""
        return not self.models or any(name in self.models for name in names)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.key_id,
            "name": self.name,
            "scopes": list(self.scopes),
            "models": list(self.models),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "revoked_at": None if self.revoked_at is None else self.revoked_at.isoformat(),
            "revoked_by": self.revoked_by,
        }


def _subject(key_id: str) -> str:
    return f"key:{key_id}"


class KeyStore:
    """API keys in the metadata store; composes :class:`MetadataStore` for its audit chain."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._meta = MetadataStore(db)

    def create(
        self,
        scopes: Iterable[str],
        *,
        models: Iterable[str] = (),
        name: str | None = None,
        actor: str,
    ) -> tuple[ApiKey, str]:
        """A new key and its token. The token is returned here and nowhere else, ever."""
        wanted = _check_scopes(scopes)
        restricted = tuple(sorted({check_name(m, "model or endpoint name") for m in models}))
        if name is not None and not _NAME.fullmatch(name):
            raise InvalidInputError(
                f"invalid key name {name!r}: use 1-100 letters, digits, spaces and . _ @ : + -, "
                "starting with a letter or digit"
            )
        with self.db.write() as conn:
            while True:  # 48 random bits: a clash is rare, and then we draw again
                key_id = secrets.token_hex(6)
                taken = conn.execute(
                    sa.select(t.api_keys.c.id).where(t.api_keys.c.key_id == key_id)
                ).first()
                if taken is None:
                    break
            label = name or f"key-{key_id}"
            clash = conn.execute(
                sa.select(t.api_keys.c.key_id).where(
                    t.api_keys.c.name == label, t.api_keys.c.revoked_at.is_(None)
                )
            ).scalar()
            if clash is not None:
                raise ConflictError(
                    f"an active key is already named {label!r} (id {clash}); pick another "
                    f"--name, or revoke it first with: shipyard keys revoke {clash}"
                )
            token = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
            now = utcnow()
            conn.execute(
                t.api_keys.insert().values(
                    key_id=key_id,
                    name=label,
                    token_hash=token_hash(token),
                    scopes=list(wanted),
                    models=list(restricted),
                    created_at=_ts(now),
                    created_by=actor,
                )
            )
            after = {"name": label, "scopes": list(wanted), "models": list(restricted)}
            self._meta._audit(conn, actor, "key.create", _subject(key_id), None, after)
        return self.get(key_id), token

    def revoke(self, key_id: str, actor: str) -> ApiKey:
        """Revoke a key; servers stop accepting it within their cache time (seconds)."""
        with self.db.write() as conn:
            row = self._row(conn, key_id)
            if row.revoked_at is not None:
                raise ConflictError(
                    f"key {key_id} ({row.name}) was already revoked at {row.revoked_at} "
                    f"by {row.revoked_by}"
                )
            now = _ts(utcnow())
            conn.execute(
                t.api_keys.update()
                .where(t.api_keys.c.id == row.id)
                .values(revoked_at=now, revoked_by=actor)
            )
            self._meta._audit(
                conn,
                actor,
                "key.revoke",
                _subject(key_id),
                {"name": row.name, "revoked_at": None},
                {"name": row.name, "revoked_at": now},
            )
        return self.get(key_id)

    def get(self, key_id: str) -> ApiKey:
        with self.db.read() as conn:
            return _key(self._row(conn, key_id))

    def list(self, *, include_revoked: bool = True) -> list[ApiKey]:
        query = sa.select(t.api_keys).order_by(t.api_keys.c.id)
        if not include_revoked:
            query = query.where(t.api_keys.c.revoked_at.is_(None))
        with self.db.read() as conn:
            return [_key(row) for row in conn.execute(query)]

    def verify(self, token: str) -> ApiKey | None:
        """The active key whose token this is, or None (unknown, malformed or revoked)."""
        if not token.startswith(PREFIX) or len(token) > 200:
            return None
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(t.api_keys).where(t.api_keys.c.token_hash == token_hash(token))
            ).first()
        if row is None or row.revoked_at is not None:
            return None
        return _key(row)

    def any_exist(self) -> bool:
        """Whether any key was ever created (revoked ones count: once an operator uses keys,
        revoking the last one must not open the server)."""
        with self.db.read() as conn:
            return conn.execute(sa.select(t.api_keys.c.id).limit(1)).first() is not None

    def _row(self, conn: sa.Connection, key_id: str) -> Any:
        found = None
        if _KEY_ID.fullmatch(key_id):
            found = conn.execute(sa.select(t.api_keys).where(t.api_keys.c.key_id == key_id)).first()
        if found is None:
            ids = [
                r[0]
                for r in conn.execute(
                    sa.select(t.api_keys.c.key_id)
                    .where(t.api_keys.c.revoked_at.is_(None))
                    .order_by(t.api_keys.c.id)
                    .limit(20)
                )
            ]
            known = ", ".join(ids) if ids else "none"
            raise NotFoundError(
                f"no API key with id {key_id!r} (active keys: {known}); "
                "see them with: shipyard keys list"
            )
        return found


def _check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    given = {s.strip().lower() for s in scopes}
    if not given:
        raise InvalidInputError(
            f"a key needs at least one scope: give --scope one or more times ({', '.join(SCOPES)})"
        )
    unknown = sorted(given - set(SCOPES))
    if unknown:
        raise InvalidInputError(
            f"unknown scope {unknown[0]!r}: the scopes are {', '.join(SCOPES)} "
            "(admin implies all the others)"
        )
    return tuple(s for s in SCOPES if s in given)


def _key(row: Any) -> ApiKey:
    return ApiKey(
        key_id=row.key_id,
        name=row.name,
        scopes=tuple(row.scopes),
        models=tuple(row.models),
        created_at=_dt(row.created_at),
        created_by=row.created_by,
        revoked_at=None if row.revoked_at is None else _dt(row.revoked_at),
        revoked_by=row.revoked_by,
    )
