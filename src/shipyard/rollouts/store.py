"""Rollouts in the registry database (the ``rollouts`` table of migration 0004).

A rollout row holds the endpoint, the model, the baseline and candidate versions, the mode
(``canary``, ``ab`` or ``shadow``), the status, the plan (:meth:`RolloutPlan.to_dict`) and the
state (:meth:`RolloutState.to_dict`, plus the controller's running counters under ``observed``).
Every change is one write transaction that also changes the endpoint's routing (through
:meth:`EndpointStore.set_routing`), moves the model's aliases, and appends its audit entry
(``rollout.start``, ``rollout.advance``, ``rollout.promote``, ...; subject ``rollout:ENDPOINT``),
so a rollout's step, the traffic it sends, its aliases and its audit entry land together or not
at all.

The aliases tell a rollout's story in the model's alias history, as MLflow users read it: the
start points ``challenger`` at the candidate; a rollback removes ``challenger``; a promotion
removes ``challenger`` and moves ``champion`` to the candidate. Each move is an audited alias
move (``alias.set`` / ``alias.delete``, subject ``MODEL@ALIAS``) by the rollout's actor. A
``challenger`` that someone pointed elsewhere meanwhile is left alone at the end.
Evaluations that only hold update the state without an audit entry (they come every few seconds).

One endpoint has at most one active rollout (running, paused or stopped): starting another is a
:class:`~shipyard.errors.ConflictError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa

from shipyard.errors import ConflictError, InvalidInputError, NotFoundError
from shipyard.registry import schema as t
from shipyard.registry.endpoints import (
    MAIN,
    Endpoint,
    EndpointStore,
    Policy,
    Variant,
    _endpoint,
    _no_endpoint,
)
from shipyard.registry.engine import Database
from shipyard.registry.refs import parse_ref
from shipyard.registry.store import MetadataStore, _dt, _ts, utcnow
from shipyard.rollouts.machine import RolloutState, Transition
from shipyard.rollouts.plan import RolloutPlan

__all__ = ["ACTIVE", "MODES", "Rollout", "RolloutStore", "routing_for"]

Mode = Literal["canary", "ab", "shadow"]
MODES: tuple[Mode, ...] = ("canary", "ab", "shadow")
ACTIVE = ("running", "paused", "stopped")
CHAMPION = "champion"
CHALLENGER = "challenger"
CANDIDATE = "candidate"
SHADOW = "shadow"
_STATUS = {"progressing": "running"}  # the machine's phase -> the row's status


def status_of(state: RolloutState) -> str:
    return _STATUS.get(state.phase, state.phase)


@dataclass(frozen=True)
class Rollout:
    id: int
    endpoint: str
    model: str
    baseline_version: int | None
    candidate_version: int
    mode: Mode
    status: str
    plan: RolloutPlan
    state: RolloutState
    observed: dict[str, Any]
    created_at: datetime
    created_by: str
    updated_at: datetime
    ended_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def candidate_variant(self) -> str:
        return SHADOW if self.mode == "shadow" else CANDIDATE

    @property
    def candidate_ref(self) -> str:
        return f"{self.model}/{self.candidate_version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "endpoint": self.endpoint,
            "model": self.model,
            "baseline_version": self.baseline_version,
            "candidate_version": self.candidate_version,
            "mode": self.mode,
            "status": self.status,
            "weight": self.state.weight,
            "step": self.state.step_index + 1,
            "steps": list(self.plan.steps),
            "plan": self.plan.to_dict(),
            "state": self.state.to_dict(),
            "last_decision": self.observed.get("last_decision"),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "updated_at": self.updated_at.isoformat(),
            "ended_at": None if self.ended_at is None else self.ended_at.isoformat(),
        }


def routing_for(
    endpoint: Endpoint, rollout: Rollout, weight: float, *, finished: str | None = None
) -> tuple[Policy, list[Variant], str | None]:
    """The endpoint's policy, variants and key for ``rollout`` at candidate ``weight`` (%).

    A finished rollout returns the endpoint to its main variant alone; after a promotion a main
    variant pinned to a version is re-pointed to the candidate (one following an alias follows
    the alias, which the promotion moved)."""
    main = endpoint.main
    if finished is not None:
        ref = main.ref
        if finished == "promoted" and parse_ref(ref).version is not None:
            ref = rollout.candidate_ref
        return "single", [Variant(MAIN, ref)], None
    if rollout.mode == "shadow":
        share = endpoint.shadow.weight if endpoint.shadow is not None else 1.0
        return (
            "shadow",
            [Variant(MAIN, main.ref), Variant(SHADOW, rollout.candidate_ref, share, shadow=True)],
            None,
        )
    share = min(max(weight / 100.0, 0.0), 1.0)
    variants = [
        Variant(MAIN, main.ref, 1.0 - share),
        Variant(CANDIDATE, rollout.candidate_ref, share),
    ]
    if rollout.mode == "ab":
        return "ab", variants, endpoint.key
    return "canary", variants, None


class RolloutStore:
    """Create, read and advance rollouts; each change audited in its own transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._meta = MetadataStore(db)
        self._endpoints = EndpointStore(db)

    def create(
        self,
        endpoint: str,
        candidate_version: int,
        mode: Mode,
        plan: RolloutPlan,
        state: RolloutState,
        actor: str,
        *,
        baseline_version: int | None,
        key: str | None = None,
        shadow_share: float = 1.0,
    ) -> Rollout:
        """Start a rollout: the row, the endpoint's new routing and ``rollout.start``."""
        if mode not in MODES:
            raise InvalidInputError(f"unknown rollout mode {mode!r}; use one of {', '.join(MODES)}")
        if not 0.0 < shadow_share <= 1.0:
            raise InvalidInputError(
                f"--shadow must be a share in (0, 100] percent, got {shadow_share * 100:g}"
            )
        with self.db.write() as conn:
            current = self._endpoint(conn, endpoint)
            model_id = self._meta._model_id(conn, current.model)
            self._meta._version_row(conn, model_id, current.model, candidate_version)
            if candidate_version == baseline_version:
                raise ConflictError(
                    f"{current.model}/{candidate_version} already serves endpoint {endpoint!r} "
                    "as its baseline; roll out another version"
                )
            active = self._active_row(conn, endpoint)
            if active is not None:
                raise ConflictError(
                    f"endpoint {endpoint!r} already has an active rollout (#{active.id}, "
                    f"{active.status}, candidate version {active.candidate_version}); promote, "
                    f"roll back or wait for it first (shipyard rollout status {endpoint})"
                )
            now = _ts(utcnow())
            result = conn.execute(
                t.rollouts.insert().values(
                    endpoint=endpoint,
                    model=current.model,
                    baseline_version=baseline_version,
                    candidate_version=candidate_version,
                    mode=mode,
                    status=status_of(state),
                    plan=plan.to_dict(),
                    state=state.to_dict(),
                    created_at=now,
                    created_by=actor,
                    updated_at=now,
                    ended_at=None,
                )
            )
            pk = result.inserted_primary_key
            assert pk is not None
            rollout = self._rollout(self._row(conn, int(pk[0])))
            # The endpoint's key and shadow share are what routing_for reads back at each step.
            seeded = Endpoint(
                current.name, current.model, current.variants, current.created_at,
                current.created_by, current.updated_at, current.policy, key,
            )  # fmt: skip
            if mode == "shadow":
                seeded = Endpoint(
                    current.name, current.model,
                    (current.main, Variant(SHADOW, rollout.candidate_ref, shadow_share, True)),
                    current.created_at, current.created_by, current.updated_at, "shadow", None,
                )  # fmt: skip
            policy, variants, rkey = routing_for(seeded, rollout, state.weight)
            self._endpoints.set_routing(endpoint, policy, variants, actor, key=rkey, conn=conn)
            self._point(conn, rollout, CHALLENGER, actor)
            self._meta._audit(
                conn,
                actor,
                "rollout.start",
                _subject(endpoint),
                None,
                {
                    "id": rollout.id,
                    "mode": mode,
                    "baseline_version": baseline_version,
                    "candidate_version": candidate_version,
                    "weight": state.weight,
                    "plan": plan.to_dict(),
                },
            )
        return rollout

    def get(self, rollout_id: int) -> Rollout:
        with self.db.read() as conn:
            return self._rollout(self._row(conn, rollout_id))

    def latest(self, endpoint: str) -> Rollout:
        """The endpoint's newest rollout (active or not)."""
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(t.rollouts)
                .where(t.rollouts.c.endpoint == endpoint)
                .order_by(t.rollouts.c.id.desc())
                .limit(1)
            ).first()
            if row is None:
                self._endpoint(conn, endpoint)  # names the known endpoints when it is unknown
                raise NotFoundError(
                    f"endpoint {endpoint!r} has no rollout yet; start one with "
                    f"shipyard rollout start {endpoint} --version N"
                )
            return self._rollout(row)

    def active(self, endpoint: str) -> Rollout | None:
        with self.db.read() as conn:
            row = self._active_row(conn, endpoint)
            return None if row is None else self._rollout(row)

    def list(self, *, active_only: bool = False, endpoint: str | None = None) -> list[Rollout]:
        query = sa.select(t.rollouts).order_by(t.rollouts.c.id)
        if active_only:
            query = query.where(t.rollouts.c.status.in_(ACTIVE))
        if endpoint is not None:
            query = query.where(t.rollouts.c.endpoint == endpoint)
        with self.db.read() as conn:
            return [self._rollout(row) for row in conn.execute(query).all()]

    def record(self, rollout: Rollout, state: RolloutState, observed: dict[str, Any]) -> Rollout:
        """Persist an evaluation that holds: the state and counters, no audit entry. Refused
        (ConflictError) when the row changed since ``rollout`` was read (an operator acted)."""
        with self.db.write() as conn:
            self._check_unchanged(conn, rollout)
            conn.execute(
                t.rollouts.update()
                .where(t.rollouts.c.id == rollout.id)
                .values(state={**state.to_dict(), "observed": observed}, updated_at=_ts(utcnow()))
            )
            return self._rollout(self._row(conn, rollout.id))

    def apply(
        self,
        rollout: Rollout,
        transition: Transition,
        actor: str,
        observed: dict[str, Any] | None = None,
    ) -> Rollout:
        """Persist a decision: the state, the endpoint's routing for the new weight (or back to
        one variant when finished), ``challenger`` removed when finished and ``champion`` moved
        on promotion, and the audit entry ``rollout.ACTION``, all in one transaction."""
        state, decision = transition.state, transition.decision
        status = status_of(state)
        finished = status if status in ("promoted", "rolled_back") else None
        observed = dict(rollout.observed if observed is None else observed)
        observed["last_decision"] = decision.to_dict()
        now = _ts(utcnow())
        with self.db.write() as conn:
            self._check_unchanged(conn, rollout)
            conn.execute(
                t.rollouts.update()
                .where(t.rollouts.c.id == rollout.id)
                .values(
                    status=status,
                    state={**state.to_dict(), "observed": observed},
                    updated_at=now,
                    ended_at=now if finished else None,
                )
            )
            endpoint = self._endpoint(conn, rollout.endpoint)
            if finished:
                self._drop_challenger(conn, rollout, actor)
            if finished == "promoted":
                self._point(conn, rollout, CHAMPION, actor)
            if finished or decision.weight != rollout.state.weight:
                policy, variants, key = routing_for(
                    endpoint, rollout, decision.weight, finished=finished
                )
                self._endpoints.set_routing(
                    rollout.endpoint, policy, variants, actor, key=key, conn=conn
                )
            self._meta._audit(
                conn,
                actor,
                f"rollout.{decision.action.value}",
                _subject(rollout.endpoint),
                {"id": rollout.id, "status": rollout.status, "weight": rollout.state.weight},
                {
                    "id": rollout.id,
                    "status": status,
                    "weight": decision.weight,
                    "reasons": list(decision.reasons),
                },
            )
            return self._rollout(self._row(conn, rollout.id))

    # -- internals ----------------------------------------------------------------------------

    def _point(self, conn: sa.Connection, rollout: Rollout, alias: str, actor: str) -> None:
        """Point ``alias`` at the candidate (an audited alias move; none if it already is)."""
        meta = self._meta
        model_id = meta._model_id(conn, rollout.model)
        meta._version_row(conn, model_id, rollout.model, rollout.candidate_version)
        before = meta._alias_version(conn, model_id, alias)
        if before == rollout.candidate_version:
            return
        if before is None:
            conn.execute(
                t.aliases.insert().values(
                    model_id=model_id, alias=alias, version=rollout.candidate_version
                )
            )
        else:
            conn.execute(
                t.aliases.update()
                .where(t.aliases.c.model_id == model_id, t.aliases.c.alias == alias)
                .values(version=rollout.candidate_version)
            )
        meta._record_move(
            conn, model_id, rollout.model, alias, before, rollout.candidate_version, actor,
            utcnow(),
        )  # fmt: skip

    def _drop_challenger(self, conn: sa.Connection, rollout: Rollout, actor: str) -> None:
        """Remove ``challenger`` if it still names the candidate (an audited alias move)."""
        meta = self._meta
        model_id = meta._model_id(conn, rollout.model)
        if meta._alias_version(conn, model_id, CHALLENGER) != rollout.candidate_version:
            return
        conn.execute(
            t.aliases.delete().where(
                t.aliases.c.model_id == model_id, t.aliases.c.alias == CHALLENGER
            )
        )
        meta._record_move(
            conn, model_id, rollout.model, CHALLENGER, rollout.candidate_version, None, actor,
            utcnow(),
        )  # fmt: skip

    def _check_unchanged(self, conn: sa.Connection, rollout: Rollout) -> None:
        row = self._row(conn, rollout.id)
        if row.status != rollout.status or _dt(row.updated_at) != rollout.updated_at:
            raise ConflictError(
                f"rollout #{rollout.id} on {rollout.endpoint!r} changed meanwhile (now "
                f"{row.status}); read it again"
            )

    def _endpoint(self, conn: sa.Connection, name: str) -> Endpoint:
        row = conn.execute(sa.select(t.endpoints).where(t.endpoints.c.name == name)).first()
        if row is None:
            raise NotFoundError(_no_endpoint(conn, name))
        return _endpoint(row)

    def _active_row(self, conn: sa.Connection, endpoint: str) -> Any:
        return conn.execute(
            sa.select(t.rollouts)
            .where(t.rollouts.c.endpoint == endpoint, t.rollouts.c.status.in_(ACTIVE))
            .order_by(t.rollouts.c.id.desc())
            .limit(1)
        ).first()

    def _row(self, conn: sa.Connection, rollout_id: int) -> Any:
        row = conn.execute(sa.select(t.rollouts).where(t.rollouts.c.id == rollout_id)).first()
        if row is None:
            raise NotFoundError(f"no rollout #{rollout_id}")
        return row

    def _rollout(self, row: Any) -> Rollout:
        data = dict(row.state)
        observed = data.pop("observed", {}) or {}
        return Rollout(
            id=int(row.id),
            endpoint=row.endpoint,
            model=row.model,
            baseline_version=row.baseline_version,
            candidate_version=int(row.candidate_version),
            mode=row.mode,
            status=row.status,
            plan=RolloutPlan.from_dict(row.plan),
            state=RolloutState.from_dict(data),
            observed=dict(observed),
            created_at=_dt(row.created_at),
            created_by=row.created_by,
            updated_at=_dt(row.updated_at),
            ended_at=None if row.ended_at is None else _dt(row.ended_at),
        )


def _subject(endpoint: str) -> str:
    return f"rollout:{endpoint}"
