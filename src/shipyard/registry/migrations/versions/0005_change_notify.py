"""change notifications: PostgreSQL tells listeners about every audited registry change

Every registry mutation appends an ``audit_log`` row in its own write transaction, so a trigger on
that insert announces every change without the writers knowing: ``pg_notify('shipyard_changes',
subject)``. PostgreSQL delivers a notification only when its transaction commits (and drops it on
rollback), so a listener never hears of a change it cannot read yet. SQLite has no equivalent; on
it this revision changes nothing (a single machine's replicas poll the file).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"

CHANNEL = "shipyard_changes"  # also registry/changes.py's CHANNEL


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION shipyard_notify_change() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', NEW.subject);
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER shipyard_audit_notify AFTER INSERT ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION shipyard_notify_change()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS shipyard_audit_notify ON audit_log")
    op.execute("DROP FUNCTION IF EXISTS shipyard_notify_change()")
