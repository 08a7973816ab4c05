"""The metadata store's tables (SQLAlchemy Core). Changes go through an Alembic migration in
``migrations/versions``; a test checks that the migrations produce exactly these tables."""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["metadata"]

metadata = sa.MetaData()

# Times are stored as ISO-8601 UTC text: identical on SQLite and PostgreSQL, and hashed verbatim
# by the audit chain.
_Time = sa.String(40)

models = sa.Table(
    "models",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(63), nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("created_at", _Time, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("last_version", sa.Integer, nullable=False, default=0),
)

versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "model_id", sa.Integer, sa.ForeignKey("models.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("flavor", sa.String(40), nullable=False),
    sa.Column("artifact_digest", sa.String(64), nullable=False),
    sa.Column("artifact_size", sa.BigInteger, nullable=False),
    sa.Column("signature", sa.JSON, nullable=True),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("lineage", sa.JSON, nullable=False),
    sa.Column("profile_digest", sa.String(64), nullable=True),
    sa.Column("sample_digest", sa.String(64), nullable=True),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("created_at", _Time, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "model_id", sa.Integer, sa.ForeignKey("models.id", ondelete="CASCADE"), nullable=False
    ),
    # 0 for a tag on the model itself, else the version number.
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.UniqueConstraint("model_id", "version", "key", name="uq_tags_model_version_key"),
)

aliases = sa.Table(
    "aliases",
    metadata,
    sa.Column(
        "model_id", sa.Integer, sa.ForeignKey("models.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("alias", sa.String(63), primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)

alias_history = sa.Table(
    "alias_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "model_id", sa.Integer, sa.ForeignKey("models.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("alias", sa.String(63), nullable=False),
    sa.Column("from_version", sa.Integer, nullable=True),
    sa.Column("to_version", sa.Integer, nullable=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", _Time, nullable=False),
)

attachments = sa.Table(
    "attachments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "version_id",
        sa.Integer,
        sa.ForeignKey("model_versions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("kind", sa.String(100), nullable=False),
    sa.Column("digest", sa.String(64), nullable=True),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("created_at", _Time, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", _Time, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("before", sa.JSON, nullable=True),
    sa.Column("after", sa.JSON, nullable=True),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

sa.Index("ix_model_versions_model", versions.c.model_id)
sa.Index("ix_alias_history_model", alias_history.c.model_id, alias_history.c.alias)
sa.Index("ix_attachments_version", attachments.c.version_id)
sa.Index("ix_audit_subject", audit_log.c.subject)

endpoints = sa.Table(
    "endpoints",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(63), nullable=False, unique=True),
    sa.Column("model", sa.String(63), nullable=False),
    # [{"name": "main", "ref": "churn@champion", "weight": 1.0}, ...]
    sa.Column("variants", sa.JSON, nullable=False),
    sa.Column("created_at", _Time, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("updated_at", _Time, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # The public part of the token ("shp_<key_id>_<secret>"): what lists, logs and revoke use.
    sa.Column("key_id", sa.String(16), nullable=False, unique=True),
    sa.Column("name", sa.String(100), nullable=False),
    # sha256 of the whole token, hex; the token itself is never stored.
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("scopes", sa.JSON, nullable=False),  # ["predict", "read", ...]
    sa.Column("models", sa.JSON, nullable=False),  # endpoint/model names; [] means any
    sa.Column("created_at", _Time, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("revoked_at", _Time, nullable=True),
    sa.Column("revoked_by", sa.String(200), nullable=True),
)

# -- operations (0004): rollouts, alerts, monitor runs, leases --------------------------------

rollouts = sa.Table(
    "rollouts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("endpoint", sa.String(63), nullable=False),
    sa.Column("model", sa.String(63), nullable=False),
    sa.Column("baseline_version", sa.Integer, nullable=True),
    sa.Column("candidate_version", sa.Integer, nullable=False),
    sa.Column("mode", sa.String(20), nullable=False),  # canary | ab | shadow
    # running | paused | stopped | promoted | rolled_back
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("plan", sa.JSON, nullable=False),  # RolloutPlan.to_dict()
    sa.Column("state", sa.JSON, nullable=False),  # RolloutState.to_dict()
    sa.Column("created_at", _Time, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("updated_at", _Time, nullable=False),
    sa.Column("ended_at", _Time, nullable=True),
)
sa.Index("ix_rollouts_endpoint", rollouts.c.endpoint, rollouts.c.status)

alert_rules = sa.Table(
    "alert_rules",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
    sa.Column("model", sa.String(63), nullable=True),  # None: every model
    sa.Column("spec", sa.JSON, nullable=False),  # the rule as in the config file
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("created_at", _Time, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("updated_at", _Time, nullable=False),
)

alert_events = sa.Table(
    "alert_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("rule", sa.String(100), nullable=False),
    sa.Column("model", sa.String(63), nullable=True),
    sa.Column("state", sa.String(20), nullable=False),  # firing | resolved
    sa.Column("severity", sa.String(20), nullable=False),
    sa.Column("value", sa.Float, nullable=True),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("at", _Time, nullable=False),
)
sa.Index("ix_alert_events_rule", alert_events.c.rule, alert_events.c.at)

monitor_runs = sa.Table(
    "monitor_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("model", sa.String(63), nullable=False),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("window_start", _Time, nullable=True),
    sa.Column("window_end", _Time, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # ok | drift | alert | error
    sa.Column("report", sa.JSON, nullable=False),
    sa.Column("started_at", _Time, nullable=False),
    sa.Column("finished_at", _Time, nullable=True),
)
sa.Index("ix_monitor_runs_model", monitor_runs.c.model, monitor_runs.c.window_end)

# A named lease (a scheduled monitor run, a rollout controller tick) held by one replica until
# ``expires_at`` (epoch seconds), so a job on many replicas runs once.
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

# Metered serving use (migration 0006): one row per replica, interval and version, appended by
# the server's usage flush. Cost is computed when read (prices may change); see
# ``monitoring/cost.py``.
usage_intervals = sa.Table(
    "usage_intervals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("replica", sa.String(100), nullable=False),
    sa.Column("endpoint", sa.String(63), nullable=False),
    sa.Column("model", sa.String(63), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("variant", sa.String(63), nullable=False),
    sa.Column("start", _Time, nullable=False),
    sa.Column("end", _Time, nullable=False),
    sa.Column("requests", sa.BigInteger, nullable=False),
    sa.Column("predictions", sa.BigInteger, nullable=False),
    sa.Column("cpu_seconds", sa.Float, nullable=False),
    sa.Column("memory_bytes", sa.BigInteger, nullable=False),
    sa.Column("resident_seconds", sa.Float, nullable=False),
    sa.Column("cpu_request", sa.Float, nullable=False),  # vCPUs granted to this version
    sa.Column("memory_request_bytes", sa.BigInteger, nullable=False),
)
sa.Index(
    "ix_usage_intervals_model",
    usage_intervals.c.model,
    usage_intervals.c.version,
    usage_intervals.c.end,
)
