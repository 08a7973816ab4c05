"""Named leases in the registry database, so a job scheduled on many replicas runs once.

A lease is held by one ``holder`` (a replica's id) until ``expires_at``; another holder can take
it only after it expired. Acquire and renew are one write transaction each (serialised by the
registry's write lock), so two replicas racing for the same lease cannot both win.
"""

from __future__ import annotations

import time

import sqlalchemy as sa

from shipyard.registry import schema as t
from shipyard.registry.engine import Database

__all__ = ["release", "try_acquire"]


def try_acquire(
    db: Database, name: str, holder: str, ttl: float, *, now: float | None = None
) -> bool:
    """Take (or renew) the lease ``name`` for ``ttl`` seconds; False while another holder has it."""
    now = time.time() if now is None else now
    leases = t.leases
    with db.write() as conn:
        row = conn.execute(
            sa.select(leases.c.holder, leases.c.expires_at).where(leases.c.name == name)
        ).first()
        if row is None:
            conn.execute(leases.insert().values(name=name, holder=holder, expires_at=now + ttl))
            return True
        if row.holder != holder and row.expires_at > now:
            return False
        conn.execute(
            leases.update().where(leases.c.name == name).values(holder=holder, expires_at=now + ttl)
        )
        return True


def release(db: Database, name: str, holder: str) -> None:
    """Give the lease up early (only its holder can)."""
    leases = t.leases
    with db.write() as conn:
        conn.execute(leases.delete().where((leases.c.name == name) & (leases.c.holder == holder)))
