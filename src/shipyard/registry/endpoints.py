"""Endpoints: the named, served things, stored in the registry database.

An endpoint has a name (the naming rule of models), the model it serves, its variants and the
policy that routes requests among them:

- ``single``: one ``main`` variant follows a reference (``churn@champion`` follows the alias);
- ``canary``: each request goes to a variant at random, in proportion to the weights;
- ``ab``: sticky, by a hash of a request key (``header:x-user-id`` or ``field:user_id``), so a
  user always sees the same variant; the split follows the weights;
- ``shadow``: ``main`` answers every request, and a share of them (the shadow variant's weight)
  is also sent to the ``shadow`` variant, whose answer is logged and never returned.

The ``variants`` column is a JSON list (migration 0002); the routing policy and the A/B key
travel in the main variant's entry (``"policy"``, ``"key"``), and a shadow variant's entry says
``"shadow": true``, so a reader that knows only name, ref and weight still reads it. Every change
writes its audit entry in the same transaction, through the metadata store's one audit chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa

from shipyard.errors import ConflictError, InvalidInputError, NotFoundError
from shipyard.registry import schema as t
from shipyard.registry.engine import Database
from shipyard.registry.refs import check_name, parse_ref
from shipyard.registry.store import MetadataStore, _dt, _ts, utcnow

__all__ = ["POLICIES", "Endpoint", "EndpointStore", "Policy", "Variant", "parse_key"]

MAIN = "main"
Policy = Literal["single", "canary", "ab", "shadow"]
POLICIES: tuple[Policy, ...] = ("single", "canary", "ab", "shadow")
_KEY_KINDS = ("header", "field")


def parse_key(text: str) -> tuple[str, str]:
    """``header:x-user-id`` -> ("header", "x-user-id"); ``field:user_id`` -> ("field", "user_id").
    Header names are matched in lower case, as ASGI gives them."""
    kind, colon, name = text.partition(":")
    name = name.strip()
    if not colon or kind not in _KEY_KINDS or not name or len(name) > 200:
        raise InvalidInputError(
            f"invalid A/B key {text!r}: expected header:NAME (a request header, as in "
            "header:x-user-id) or field:NAME (a request-level field, as in field:user_id)"
        )
    return kind, name.lower() if kind == "header" else name


@dataclass(frozen=True)
class Variant:
    """One way an endpoint answers: a reference and its share of traffic (for a shadow variant,
    the share of requests also sent to it)."""

    name: str
    ref: str
    weight: float = 1.0
    shadow: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "ref": self.ref, "weight": self.weight}
        if self.shadow:
            out["shadow"] = True
        return out


@dataclass(frozen=True)
class Endpoint:
    name: str
    model: str
    variants: tuple[Variant, ...]
    created_at: datetime
    created_by: str
    updated_at: datetime
    policy: Policy = "single"
    key: str | None = None

    @property
    def main(self) -> Variant:
        for variant in self.variants:
            if variant.name == MAIN:
                return variant
        return self.variants[0]

    @property
    def serving(self) -> tuple[Variant, ...]:
        """The variants that answer requests (every one but a shadow)."""
        return tuple(v for v in self.variants if not v.shadow)

    @property
    def shadow(self) -> Variant | None:
        return next((v for v in self.variants if v.shadow), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "policy": self.policy,
            "key": self.key,
            "variants": [v.to_dict() for v in self.variants],
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "updated_at": self.updated_at.isoformat(),
        }


def check_routing(
    model: str, policy: str, variants: Sequence[Variant], key: str | None
) -> tuple[Variant, ...]:
    """The variants of a routing change, checked: one ``main``, names unique, references to
    ``model``, weights in [0, 1] summing to 1 over the serving variants, a key exactly for
    ``ab``, one shadow exactly for ``shadow``. Errors name the field and the fix."""
    if policy not in POLICIES:
        raise InvalidInputError(f"unknown policy {policy!r}; use one of {', '.join(POLICIES)}")
    names = [v.name for v in variants]
    if MAIN not in names or len(set(names)) != len(names):
        raise InvalidInputError(
            f"variants {names}: an endpoint needs exactly one variant named 'main' and unique names"
        )
    checked = []
    for v in variants:
        check_name(v.name, "variant name")
        parsed = parse_ref(v.ref)
        if parsed.model != model:
            raise InvalidInputError(
                f"variant {v.name!r}: reference {v.ref!r} names model {parsed.model!r}, but the "
                f"endpoint serves {model!r}"
            )
        if not 0.0 <= v.weight <= 1.0:
            raise InvalidInputError(
                f"variant {v.name!r}: weight {v.weight} must be between 0 and 1"
            )
        checked.append(replace(v, ref=str(parsed), weight=float(v.weight)))
    shadows = [v for v in checked if v.shadow]
    serving = [v for v in checked if not v.shadow]
    if (
        (policy == "shadow") != bool(shadows)
        or len(shadows) > 1
        or any(v.name == MAIN for v in shadows)
    ):
        raise InvalidInputError(
            "policy 'shadow' takes exactly one shadow variant beside 'main'; other policies none"
        )
    if policy == "single" and len(serving) != 1:
        raise InvalidInputError("policy 'single' takes one variant, 'main'")
    if policy in ("canary", "ab") and len(serving) < 2:
        raise InvalidInputError(f"policy {policy!r} takes at least two serving variants")
    total = sum(v.weight for v in serving)
    if policy in ("canary", "ab") and abs(total - 1.0) > 1e-9:
        raise InvalidInputError(
            f"the serving variants' weights sum to {total:g}; they must sum to 1"
        )
    if (policy == "ab") != (key is not None):
        raise InvalidInputError("policy 'ab' needs a key (header:NAME or field:NAME); others none")
    if key is not None:
        parse_key(key)
    if policy in ("single", "shadow"):  # main answers everything
        checked = [replace(v, weight=1.0) if v.name == MAIN else v for v in checked]
    return tuple(checked)


def _rows(policy: str, key: str | None, variants: Sequence[Variant]) -> list[dict[str, Any]]:
    rows = [v.to_dict() for v in variants]
    if policy != "single":
        for row in rows:
            if row["name"] == MAIN:
                row["policy"] = policy
                if key is not None:
                    row["key"] = key
    return rows


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

    def create(self, name: str, model: str, ref: str | None, actor: str) -> Endpoint:
        """A new endpoint ``name`` serving ``model`` through ``ref`` (default ``model@champion``);
        ConflictError if the name is taken."""
        check_name(name, "endpoint name")
        with self.db.read() as conn:
            taken = conn.execute(
                sa.select(t.endpoints.c.model).where(t.endpoints.c.name == name)
            ).scalar()
        if taken is not None:
            raise ConflictError(
                f"endpoint {name!r} already exists (serving {taken!r}); pick another name"
            )
        return self.ensure(name, model, ref or f"{model}@champion", actor)

    def set_routing(
        self,
        name: str,
        policy: Policy,
        variants: Sequence[Variant],
        actor: str,
        *,
        key: str | None = None,
        conn: sa.Connection | None = None,
    ) -> Endpoint:
        """Replace the endpoint's variants and policy (audited ``endpoint.route``); inside the
        caller's write transaction when ``conn`` is given (a rollout's step and its routing
        change land together)."""
        if conn is None:
            with self.db.write() as own:
                self._route(own, name, policy, variants, actor, key)
            return self.get(name)
        return self._route(conn, name, policy, variants, actor, key)

    def _route(
        self,
        conn: sa.Connection,
        name: str,
        policy: Policy,
        variants: Sequence[Variant],
        actor: str,
        key: str | None,
    ) -> Endpoint:
        row = conn.execute(sa.select(t.endpoints).where(t.endpoints.c.name == name)).first()
        if row is None:
            raise NotFoundError(_no_endpoint(conn, name))
        checked = check_routing(row.model, policy, variants, key)
        for v in checked:
            self._meta._model_id(conn, parse_ref(v.ref).model)
        rows = _rows(policy, key, checked)
        before = list(row.variants)
        now = _ts(utcnow())
        if rows != before:
            conn.execute(
                t.endpoints.update()
                .where(t.endpoints.c.id == row.id)
                .values(variants=rows, updated_at=now)
            )
            self._meta._audit(
                conn, actor, "endpoint.route", _subject(name), {"variants": before},
                {"variants": rows},
            )  # fmt: skip
        fresh = conn.execute(sa.select(t.endpoints).where(t.endpoints.c.id == row.id)).one()
        return _endpoint(fresh)

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
    variants = tuple(
        Variant(v["name"], v["ref"], float(v["weight"]), bool(v.get("shadow", False)))
        for v in row.variants
    )
    main = next((v for v in row.variants if v["name"] == MAIN), row.variants[0])
    policy = main.get("policy", "single")
    return Endpoint(
        name=row.name,
        model=row.model,
        variants=variants,
        created_at=_dt(row.created_at),
        created_by=row.created_by,
        updated_at=_dt(row.updated_at),
        policy=policy if policy in POLICIES else "single",
        key=main.get("key"),
    )


def _no_endpoint(conn: sa.Connection, name: str) -> str:
    names = [
        r[0]
        for r in conn.execute(sa.select(t.endpoints.c.name).order_by(t.endpoints.c.name).limit(20))
    ]
    known = ", ".join(names) if names else "none yet"
    return f"no endpoint named {name!r} (endpoints: {known}); serve a model to create one"
