"""The tamper-evident audit chain, as pure functions.

Each entry stores the sha256 of the previous entry (``prev_hash``) and its own ``hash`` over its
sequence number, time, actor, action, subject, before/after states and ``prev_hash``. Editing an
entry changes its hash; removing or reordering entries breaks the sequence or the links.
:func:`verify_chain` names the first entry that does not check out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shipyard.registry.entities import AuditEntry

__all__ = ["GENESIS", "ChainProblem", "entry_hash", "verify_chain"]

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, allow_nan=False)


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    before: Any,
    after: Any,
    prev_hash: str,
) -> str:
    payload = canonical_json(
        {
            "seq": seq,
            "at": at.isoformat(),
            "actor": actor,
            "action": action,
            "subject": subject,
            "before": before,
            "after": after,
            "prev": prev_hash,
        }
    )
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"audit entry {self.seq}: {self.reason}"


def verify_chain(entries: Iterable[AuditEntry]) -> ChainProblem | None:
    """Check entries in stored order; return the first problem, or None when intact."""
    expected_seq = 1
    prev = GENESIS
    for entry in entries:
        if entry.seq != expected_seq:
            if entry.seq > expected_seq:
                return ChainProblem(
                    expected_seq, f"missing (next stored entry is {entry.seq}): removed"
                )
            return ChainProblem(entry.seq, f"out of order (expected {expected_seq}): reordered")
        if entry.prev_hash != prev:
            return ChainProblem(
                entry.seq, "does not link to the previous entry: removed, reordered or edited"
            )
        recomputed = entry_hash(
            seq=entry.seq,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            subject=entry.subject,
            before=entry.before,
            after=entry.after,
            prev_hash=entry.prev_hash,
        )
        if recomputed != entry.hash:
            return ChainProblem(entry.seq, "content does not match its hash: edited")
        prev = entry.hash
        expected_seq += 1
    return None
