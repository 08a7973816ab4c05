"""Endpoints: the named, served things, stored in the registry database.

An endpoint has a name (the naming rule of models), the model it serves, and its variants:
one ``main`` variant today, following a reference (``churn@champion`` follows the alias when it
moves); the rollouts work adds canary, A/B and shadow variants beside it. Every change writes its
audit entry in the same transaction, through the metadata store's one audit chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from shipyard.errors import ConflictError, InvalidInputError, NotFoundError
from shipyard.registry import schema as t
from shipyard.registry.engine import Database
from shipyard.registry.refs import check_name, parse_ref
from shipyard.registry.store import MetadataStore, _dt, _ts, utcnow

__all__ = ["Endpoint", "EndpointStore", "Variant"]

MAIN = "main"


@dataclass(frozen=True)
class Variant:
    """One way an endpoint answers: a reference and its share of traffic."""

    name: str
    ref: str
    weight: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ref": self.ref, "weight": self.weight}


@dataclass(frozen=True)
class Endpoint:
    name: str
    model: str
    variants: tuple[Variant, ...]
    created_at: datetime
    created_by: str
    updated_at: datetime

    @property
    def main(self) -> Variant:
        for variant in self.variants:
            if variant.name == MAIN:
                return variant
        return self.variants[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "variants": [v.to_dict() for v in self.variants],
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "updated_at": self.updated_at.isoformat(),
        }


def _subject(name: str) -> str:
    # Not the bare name: audit queries for model "churn" must not pick up endpoint "churn".
    return f"endpoint:{name}"


class EndpointStore:
    """Endpoints in the metadata store; composes :class:`MetadataStore` for its audit chain."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._meta = MetadataStore(db)

    def ensure(self, name: str, model: str, ref: str, actor: str) -> Endpoint:
        """The endpoint ``name`` serving ``model`` with one ``main`` variant following ``ref``:
        created if missing, its main variant re-pointed if it follows another reference, and
        left untouched (no audit entry) when it already is so."""
        check_name(name, "endpoint name")
        check_name(model)
        parsed = parse_ref(ref)
        if parsed.model != model:
            raise InvalidInputError(
                f"endpoint {name!r} serves model {model!r}, but reference {ref!r} names model "
                f"{parsed.model!r}; give a reference to {model!r}"
            )
        text = str(parsed)
        with self.db.write() as conn:
            self._meta._model_id(conn, model)  # raises NotFoundError naming the known models
            row = conn.execute(sa.select(t.endpoints).where(t.endpoints.c.name == name)).first()
            now = _ts(utcnow())
            if row is None:
                variants = [Variant(MAIN, text).to_dict()]
                conn.execute(
                    t.endpoints.insert().values(
                        name=name,
                        model=model,
                        variants=variants,
                        created_at=now,
                        created_by=actor,
                        updated_at=now,
                    )
                )
                after = {"model": model, "variants": variants}
                self._meta._audit(conn, actor, "endpoint.create", _subject(name), None, after)
            else:
                if row.model != model:
                    raise ConflictError(
                        f"endpoint {name!r} already serves model {row.model!r}, not {model!r}; "
                        "pick another endpoint name or delete the endpoint first"
                    )
                before = list(row.variants)
                variants = [
                    {**v, "ref": text} if v["name"] == MAIN else dict(v) for v in row.variants
                ]
                if variants != before:
                    conn.execute(
                        t.endpoints.update()
                        .where(t.endpoints.c.id == row.id)
                        .values(variants=variants, updated_at=now)
                    )
                    self._meta._audit(
                        conn,
                        actor,
                        "endpoint.update",
                        _subject(name),
                        {"variants": before},
                        {"variants": variants},
                    )
        return self.get(name)

    def get(self, name: str) -> Endpoint:
        with self.db.read() as conn:
            row = conn.execute(sa.select(t.endpoints).where(t.endpoints.c.name == name)).first()
            if row is None:
                raise NotFoundError(_no_endpoint(conn, name))
            return _endpoint(row)

    def list(self) -> list[Endpoint]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(t.endpoints).order_by(t.endpoints.c.name)).all()
        return [_endpoint(row) for row in rows]

    def delete(self, name: str, actor: str) -> None:
        with self.db.write() as conn:
            row = conn.execute(sa.select(t.endpoints).where(t.endpoints.c.name == name)).first()
            if row is None:
                raise NotFoundError(_no_endpoint(conn, name))
            conn.execute(t.endpoints.delete().where(t.endpoints.c.id == row.id))
            before = {"model": row.model, "variants": row.variants}
            self._meta._audit(conn, actor, "endpoint.delete", _subject(name), before, None)


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        name=row.name,
        model=row.model,
        variants=tuple(Variant(v["name"], v["ref"], float(v["weight"])) for v in row.variants),
        created_at=_dt(row.created_at),
        created_by=row.created_by,
        updated_at=_dt(row.updated_at),
    )


def _no_endpoint(conn: sa.Connection, name: str) -> str:
    names = [
        r[0]
        for r in conn.execute(sa.select(t.endpoints.c.name).order_by(t.endpoints.c.name).limit(20))
    ]
    known = ", ".join(names) if names else "none yet"
    return f"no endpoint named {name!r} (endpoints: {known}); serve a model to create one"
