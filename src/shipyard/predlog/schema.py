"""The prediction log's own tables, apart from the registry's Alembic chain.

``predlog_meta`` holds the schema version and the store's salt for hashed features. A new store
is created with ``create_all``; an older one is brought up to date by the steps of
:data:`UPGRADES` (version 2 added ``feedback``, the ground-truth labels).
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

__all__ = ["SCHEMA_VERSION", "UPGRADES", "feedback", "meta", "metadata", "predictions"]

SCHEMA_VERSION = 2

metadata = sa.MetaData()

predictions = sa.Table(
    "predictions",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("request_id", sa.String(128), nullable=False),
    sa.Column("row_index", sa.Integer, nullable=False),
    sa.Column("ts_us", sa.BigInteger, nullable=False),  # microseconds since the epoch, UTC
    sa.Column("endpoint", sa.String(128), nullable=False),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("variant", sa.String(128), nullable=False),
    sa.Column("inputs", sa.Text, nullable=False),  # JSON object: feature -> value
    sa.Column("label", sa.Text, nullable=False),  # JSON value
    sa.Column("probabilities", sa.Text),  # JSON object: class -> probability
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.UniqueConstraint("request_id", "row_index", name="uq_predictions_request_row"),
    sa.Index("ix_predictions_model_version_ts", "model", "version", "ts_us"),
    sa.Index("ix_predictions_model_ts", "model", "ts_us"),
    sa.Index("ix_predictions_ts", "ts_us"),
)

feedback = sa.Table(
    "feedback",
    metadata,
    # The id only gives purges a cheap key to delete in chunks; rows are found by the pair.
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("request_id", sa.String(128), nullable=False),
    sa.Column("row_index", sa.Integer, nullable=False),
    sa.Column("value", sa.Text, nullable=False),  # JSON scalar: the true outcome
    sa.Column("ts_us", sa.BigInteger, nullable=False),  # when the label arrived (latest upsert)
    sa.UniqueConstraint("request_id", "row_index", name="uq_feedback_request_row"),
    sa.Index("ix_feedback_ts", "ts_us"),
)

meta = sa.Table(
    "predlog_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


def _add_feedback(conn: sa.Connection) -> None:
    feedback.create(conn, checkfirst=True)


UPGRADES: dict[int, Callable[[sa.Connection], None]] = {2: _add_feedback}
"""Step ``n`` takes a store from schema version ``n - 1`` to ``n`` (run in one transaction)."""
