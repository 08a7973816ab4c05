"""The SQL metadata store: models, versions, aliases, tags, attachments and the audit chain.

Every mutation runs in one write transaction that also appends its audit entry, so the
record and its audit entry land together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from shipyard.errors import InvalidInputError, NotFoundError
from shipyard.registry import schema as t
from shipyard.registry.audit import GENESIS, entry_hash
from shipyard.registry.engine import Database
from shipyard.registry.entities import (
    AliasMove,
    Attachment,
    AuditEntry,
    Model,
    ModelVersion,
    VersionStatus,
)
from shipyard.registry.refs import ModelRef, check_name

__all__ = ["MetadataStore", "utcnow"]

_USABLE = (VersionStatus.CANDIDATE.value, VersionStatus.APPROVED.value)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


class MetadataStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- writes -------------------------------------------------------------------------------

    def add_version(
        self,
        *,
        model: str,
        flavor: str,
        artifact_digest: str,
        artifact_size: int,
        signature: dict[str, Any] | None,
        metrics: Mapping[str, float],
        params: Mapping[str, Any],
        lineage: Mapping[str, Any],
        profile_digest: str | None,
        sample_digest: str | None,
        tags: Mapping[str, str],
        description: str,
        actor: str,
    ) -> ModelVersion:
        check_name(model)
        now = utcnow()
        with self.db.write() as conn:
            model_id = self._ensure_model(conn, model, actor, now)
            number = (
                1
                + conn.execute(
                    sa.select(t.models.c.last_version).where(t.models.c.id == model_id)
                ).scalar_one()
            )
            conn.execute(
                t.models.update().where(t.models.c.id == model_id).values(last_version=number)
            )
            identity = {
                "flavor": flavor,
                "artifact_digest": artifact_digest,
                "artifact_size": artifact_size,
                "signature": signature,
                "metrics": dict(metrics),
                "params": dict(params),
                "lineage": dict(lineage),
                "profile_digest": profile_digest,
                "sample_digest": sample_digest,
            }
            conn.execute(
                t.versions.insert().values(
                    model_id=model_id,
                    version=number,
                    status=VersionStatus.CANDIDATE.value,
                    description=description,
                    created_at=_ts(now),
                    created_by=actor,
                    **identity,
                )
            )
            for key, value in tags.items():
                conn.execute(
                    t.tags.insert().values(model_id=model_id, version=number, key=key, value=value)
                )
            self._audit(
                conn,
                actor,
                "version.register",
                f"{model}/{number}",
                None,
                {**identity, "tags": dict(tags)},
            )
        return self.get_version(model, number)

    def set_alias(self, model: str, alias: str, version: int, actor: str) -> AliasMove:
        check_name(alias, "alias")
        now = utcnow()
        with self.db.write() as conn:
            model_id = self._model_id(conn, model)
            self._version_row(conn, model_id, model, version)
            current = self._alias_version(conn, model_id, alias)
            if current is None:
                conn.execute(
                    t.aliases.insert().values(model_id=model_id, alias=alias, version=version)
                )
            else:
                conn.execute(
                    t.aliases.update()
                    .where(t.aliases.c.model_id == model_id, t.aliases.c.alias == alias)
                    .values(version=version)
                )
            move = self._record_move(conn, model_id, model, alias, current, version, actor, now)
        return move

    def delete_alias(self, model: str, alias: str, actor: str) -> AliasMove:
        now = utcnow()
        with self.db.write() as conn:
            model_id = self._model_id(conn, model)
            current = self._alias_version(conn, model_id, alias)
            if current is None:
                raise NotFoundError(f"model {model!r} has no alias {alias!r}")
            conn.execute(
                t.aliases.delete().where(
                    t.aliases.c.model_id == model_id, t.aliases.c.alias == alias
                )
            )
            return self._record_move(conn, model_id, model, alias, current, None, actor, now)

    def set_tag(self, model: str, version: int | None, key: str, value: str, actor: str) -> None:
        if not key or len(key) > 200:
            raise InvalidInputError(f"tag key {key!r} must be 1-200 characters")
        with self.db.write() as conn:
            model_id = self._model_id(conn, model)
            number = 0 if version is None else version
            if version is not None:
                self._version_row(conn, model_id, model, version)
            where = (t.tags.c.model_id == model_id, t.tags.c.version == number, t.tags.c.key == key)
            before = conn.execute(sa.select(t.tags.c.value).where(*where)).scalar()
            if before is None:
                conn.execute(
                    t.tags.insert().values(model_id=model_id, version=number, key=key, value=value)
                )
            else:
                conn.execute(t.tags.update().where(*where).values(value=value))
            subject = model if version is None else f"{model}/{version}"
            self._audit(conn, actor, "tag.set", subject, _kv(key, before), _kv(key, value))

    def delete_tag(self, model: str, version: int | None, key: str, actor: str) -> None:
        with self.db.write() as conn:
            model_id = self._model_id(conn, model)
            number = 0 if version is None else version
            where = (t.tags.c.model_id == model_id, t.tags.c.version == number, t.tags.c.key == key)
            before = conn.execute(sa.select(t.tags.c.value).where(*where)).scalar()
            subject = model if version is None else f"{model}/{version}"
            if before is None:
                raise NotFoundError(f"{subject} has no tag {key!r}")
            conn.execute(t.tags.delete().where(*where))
            self._audit(conn, actor, "tag.delete", subject, _kv(key, before), None)

    def set_status(self, model: str, version: int, status: VersionStatus, actor: str) -> None:
        with self.db.write() as conn:
            model_id = self._model_id(conn, model)
            row = self._version_row(conn, model_id, model, version)
            conn.execute(
                t.versions.update().where(t.versions.c.id == row.id).values(status=status.value)
            )
            self._audit(
                conn,
                actor,
                "version.status",
                f"{model}/{version}",
                {"status": row.status},
                {"status": status.value},
            )

    def attach(
        self,
        model: str,
        version: int,
        kind: str,
        digest: str | None,
        data: Mapping[str, Any],
        actor: str,
    ) -> Attachment:
        now = utcnow()
        with self.db.write() as conn:
            model_id = self._model_id(conn, model)
            row = self._version_row(conn, model_id, model, version)
            conn.execute(
                t.attachments.insert().values(
                    version_id=row.id,
                    kind=kind,
                    digest=digest,
                    data=dict(data),
                    created_at=_ts(now),
                    created_by=actor,
                )
            )
            self._audit(
                conn,
                actor,
                "version.attach",
                f"{model}/{version}",
                None,
                {"kind": kind, "digest": digest, "data": dict(data)},
            )
        return Attachment(model, version, kind, digest, dict(data), now, actor)

    def record_event(self, action: str, subject: str, before: Any, after: Any, actor: str) -> None:
        """An audit entry for something that is not a row change (a config change, a pickle load)."""
        with self.db.write() as conn:
            self._audit(conn, actor, action, subject, before, after)

    def record_config(self, snapshot: Mapping[str, Any], actor: str) -> bool:
        """Audit the operator settings when they differ from the last ones recorded (turning on
        ``allow_pickle`` is a change a reviewer must see). Returns True when an entry was written."""
        current = dict(snapshot)
        with self.db.read() as conn:
            if self._last_config(conn) == current:
                return False
        with self.db.write() as conn:
            before = self._last_config(conn)
            if before == current:
                return False
            self._audit(conn, actor, "config.change", "settings", before, current)
        return True

    def _last_config(self, conn: sa.Connection) -> Any:
        return conn.execute(
            sa.select(t.audit_log.c.after)
            .where(t.audit_log.c.action == "config.change")
            .order_by(t.audit_log.c.seq.desc())
            .limit(1)
        ).scalar()

    # -- reads --------------------------------------------------------------------------------

    def change_mark(self) -> int:
        """The sequence number of the newest audit entry (0 before any). Every registry change
        appends one in its own transaction, so an unchanged mark means nothing was changed:
        a poller compares marks (one indexed read) before re-reading what it follows."""
        with self.db.read() as conn:
            return int(conn.execute(sa.select(sa.func.max(t.audit_log.c.seq))).scalar() or 0)

    def get_model(self, name: str) -> Model:
        with self.db.read() as conn:
            row = conn.execute(sa.select(t.models).where(t.models.c.name == name)).first()
            if row is None:
                raise NotFoundError(_no_model(conn, name))
            return self._model(conn, row)

    def list_models(self) -> list[Model]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(t.models).order_by(t.models.c.name)).all()
            return [self._model(conn, row) for row in rows]

    def get_version(self, model: str, version: int) -> ModelVersion:
        with self.db.read() as conn:
            model_id = self._model_id(conn, model)
            return self._version(conn, model, self._version_row(conn, model_id, model, version))

    def list_versions(self, model: str | None = None) -> list[ModelVersion]:
        with self.db.read() as conn:
            query = sa.select(t.versions, t.models.c.name).join(t.models)
            if model is not None:
                query = query.where(t.models.c.id == self._model_id(conn, model))
            rows = conn.execute(query.order_by(t.models.c.name, t.versions.c.version)).all()
            return [self._version(conn, row.name, row) for row in rows]

    def resolve(self, ref: ModelRef) -> ModelVersion:
        """The version a reference names; ``churn`` means ``champion``, else the latest version
        that is not rejected or archived."""
        with self.db.read() as conn:
            model_id = self._model_id(conn, ref.model)
            if ref.version is not None:
                number = ref.version
            elif ref.alias is not None:
                found = self._alias_version(conn, model_id, ref.alias)
                if found is None:
                    names = self._aliases(conn, model_id)
                    known = ", ".join(sorted(names)) or "none yet"
                    raise NotFoundError(
                        f"model {ref.model!r} has no alias {ref.alias!r} (its aliases: {known}); "
                        f"set one with: shipyard alias set {ref.model} {ref.alias} VERSION"
                    )
                number = found
            else:
                found = self._alias_version(conn, model_id, "champion")
                if found is None:
                    found = conn.execute(
                        sa.select(sa.func.max(t.versions.c.version)).where(
                            t.versions.c.model_id == model_id, t.versions.c.status.in_(_USABLE)
                        )
                    ).scalar()
                if found is None:
                    raise NotFoundError(
                        f"model {ref.model!r} has no champion and no version that is not "
                        "rejected or archived"
                    )
                number = found
            return self._version(
                conn, ref.model, self._version_row(conn, model_id, ref.model, number)
            )

    def alias_history(self, model: str, alias: str | None = None) -> list[AliasMove]:
        with self.db.read() as conn:
            model_id = self._model_id(conn, model)
            query = sa.select(t.alias_history).where(t.alias_history.c.model_id == model_id)
            if alias is not None:
                query = query.where(t.alias_history.c.alias == alias)
            rows = conn.execute(query.order_by(t.alias_history.c.id)).all()
            return [
                AliasMove(model, r.alias, r.from_version, r.to_version, r.actor, _dt(r.at))
                for r in rows
            ]

    def attachments(self, model: str, version: int) -> list[Attachment]:
        with self.db.read() as conn:
            model_id = self._model_id(conn, model)
            row = self._version_row(conn, model_id, model, version)
            rows = conn.execute(
                sa.select(t.attachments)
                .where(t.attachments.c.version_id == row.id)
                .order_by(t.attachments.c.id)
            ).all()
            return [
                Attachment(
                    model, version, r.kind, r.digest, r.data, _dt(r.created_at), r.created_by
                )
                for r in rows
            ]

    def audit_entries(
        self, subject: str | None = None, limit: int | None = None
    ) -> Iterator[AuditEntry]:
        with self.db.read() as conn:
            query = sa.select(t.audit_log)
            if subject is not None:
                query = query.where(
                    sa.or_(
                        t.audit_log.c.subject == subject,
                        t.audit_log.c.subject.like(f"{subject}/%"),
                        t.audit_log.c.subject.like(f"{subject}@%"),
                    )
                )
            if limit is not None:
                query = query.order_by(t.audit_log.c.seq.desc()).limit(limit)
                rows = list(reversed(conn.execute(query).all()))
            else:
                rows = list(conn.execute(query.order_by(t.audit_log.c.seq)).all())
        for r in rows:
            yield AuditEntry(
                r.seq,
                _dt(r.at),
                r.actor,
                r.action,
                r.subject,
                r.before,
                r.after,
                r.prev_hash,
                r.hash,
            )

    # -- helpers ------------------------------------------------------------------------------

    def _audit(
        self, conn: sa.Connection, actor: str, action: str, subject: str, before: Any, after: Any
    ) -> None:
        last = conn.execute(
            sa.select(t.audit_log.c.seq, t.audit_log.c.hash)
            .order_by(t.audit_log.c.seq.desc())
            .limit(1)
        ).first()
        seq, prev = (1, GENESIS) if last is None else (last.seq + 1, last.hash)
        at = utcnow()
        # Hash what the database will give back: JSON round-trips, and times are stored as text.
        at = _dt(_ts(at))
        digest = entry_hash(
            seq=seq,
            at=at,
            actor=actor,
            action=action,
            subject=subject,
            before=before,
            after=after,
            prev_hash=prev,
        )
        conn.execute(
            t.audit_log.insert().values(
                seq=seq,
                at=_ts(at),
                actor=actor,
                action=action,
                subject=subject,
                before=before,
                after=after,
                prev_hash=prev,
                hash=digest,
            )
        )

    def _ensure_model(self, conn: sa.Connection, name: str, actor: str, now: datetime) -> int:
        found = conn.execute(sa.select(t.models.c.id).where(t.models.c.name == name)).scalar()
        if found is not None:
            return int(found)
        result = conn.execute(
            t.models.insert().values(
                name=name, description="", created_at=_ts(now), created_by=actor, last_version=0
            )
        )
        self._audit(conn, actor, "model.create", name, None, {"name": name})
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def _model_id(self, conn: sa.Connection, name: str) -> int:
        found = conn.execute(sa.select(t.models.c.id).where(t.models.c.name == name)).scalar()
        if found is None:
            raise NotFoundError(_no_model(conn, name))
        return int(found)

    def _version_row(self, conn: sa.Connection, model_id: int, model: str, version: int) -> Any:
        row = conn.execute(
            sa.select(t.versions).where(
                t.versions.c.model_id == model_id, t.versions.c.version == version
            )
        ).first()
        if row is None:
            latest = conn.execute(
                sa.select(sa.func.max(t.versions.c.version)).where(
                    t.versions.c.model_id == model_id
                )
            ).scalar()
            have = f"its versions are 1..{latest}" if latest else "it has no versions yet"
            raise NotFoundError(f"model {model!r} has no version {version} ({have})")
        return row

    def _alias_version(self, conn: sa.Connection, model_id: int, alias: str) -> int | None:
        found = conn.execute(
            sa.select(t.aliases.c.version).where(
                t.aliases.c.model_id == model_id, t.aliases.c.alias == alias
            )
        ).scalar()
        return None if found is None else int(found)

    def _aliases(
        self, conn: sa.Connection, model_id: int, version: int | None = None
    ) -> dict[str, int]:
        query = sa.select(t.aliases.c.alias, t.aliases.c.version).where(
            t.aliases.c.model_id == model_id
        )
        if version is not None:
            query = query.where(t.aliases.c.version == version)
        return {r.alias: r.version for r in conn.execute(query)}

    def _tags(self, conn: sa.Connection, model_id: int, version: int) -> dict[str, str]:
        rows = conn.execute(
            sa.select(t.tags.c.key, t.tags.c.value).where(
                t.tags.c.model_id == model_id, t.tags.c.version == version
            )
        )
        return {r.key: r.value for r in rows}

    def _record_move(
        self,
        conn: sa.Connection,
        model_id: int,
        model: str,
        alias: str,
        before: int | None,
        after: int | None,
        actor: str,
        now: datetime,
    ) -> AliasMove:
        conn.execute(
            t.alias_history.insert().values(
                model_id=model_id,
                alias=alias,
                from_version=before,
                to_version=after,
                actor=actor,
                at=_ts(now),
            )
        )
        action = "alias.delete" if after is None else "alias.set"
        self._audit(
            conn, actor, action, f"{model}@{alias}", {"version": before}, {"version": after}
        )
        return AliasMove(model, alias, before, after, actor, now)

    def _model(self, conn: sa.Connection, row: Any) -> Model:
        latest = row.last_version or None
        return Model(
            name=row.name,
            created_at=_dt(row.created_at),
            created_by=row.created_by,
            description=row.description,
            tags=self._tags(conn, row.id, 0),
            aliases=self._aliases(conn, row.id),
            latest_version=latest,
        )

    def _version(self, conn: sa.Connection, model: str, row: Any) -> ModelVersion:
        attachments = conn.execute(
            sa.select(t.attachments.c.kind, t.attachments.c.digest)
            .where(t.attachments.c.version_id == row.id)
            .order_by(t.attachments.c.id)
        )
        return ModelVersion(
            model=model,
            version=row.version,
            flavor=row.flavor,
            artifact_digest=row.artifact_digest,
            artifact_size=row.artifact_size,
            signature=row.signature,
            metrics=row.metrics,
            params=row.params,
            lineage=row.lineage,
            profile_digest=row.profile_digest,
            sample_digest=row.sample_digest,
            created_at=_dt(row.created_at),
            created_by=row.created_by,
            status=VersionStatus(row.status),
            description=row.description,
            tags=self._tags(conn, row.model_id, row.version),
            aliases=tuple(sorted(self._aliases(conn, row.model_id, row.version))),
            attachments={a.kind: a.digest or "" for a in attachments},
        )


def _kv(key: str, value: str | None) -> dict[str, str] | None:
    return None if value is None else {key: value}


def _no_model(conn: sa.Connection, name: str) -> str:
    names = [
        r[0] for r in conn.execute(sa.select(t.models.c.name).order_by(t.models.c.name).limit(20))
    ]
    known = ", ".join(names) if names else "none registered yet"
    return f"no model named {name!r} (models: {known})"
