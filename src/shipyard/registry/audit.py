"""The tamper-evident audit chain, as pure functions.

Each entry stores the sha256 of the previous entry (``prev_hash``) and its own ``hash`` over its
sequence number, time, actor, action, subject, before/after states and ``prev_hash``. Editing an
entry changes its hash; removing or reordering entries breaks the sequence or the links.
:func:`verify_chain` names the first entry that does not check out.

An export (``shipyard audit export``) is a run of consecutive entries as JSON lines or CSV, each
with its ``seq``, ``prev_hash`` and ``hash``, so a reviewer can check it without the database:
:func:`verify_export` trusts the first exported entry's link (an export from entry 1 must start
at the genesis hash) and names the line of the first entry that does not check out. Comparing the
last exported hash with the registry's shows that nothing was cut from the end.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shipyard.errors import InvalidInputError
from shipyard.registry.entities import AuditEntry

__all__ = [
    "EXPORT_FIELDS",
    "GENESIS",
    "ChainProblem",
    "entry_hash",
    "export_csv",
    "export_jsonl",
    "parse_export",
    "verify_chain",
    "verify_export",
]

EXPORT_FIELDS = ("seq", "at", "actor", "action", "subject", "before", "after", "prev_hash", "hash")

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


def verify_chain(
    entries: Iterable[AuditEntry], *, first_seq: int = 1, first_prev: str = GENESIS
) -> ChainProblem | None:
    """Check entries in stored order; return the first problem, or None when intact.
    ``first_seq`` and ``first_prev`` are where the run starts (the whole log by default)."""
    expected_seq = first_seq
    prev = first_prev
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


# -- exports ----------------------------------------------------------------------------------


def _record(entry: AuditEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "before": entry.before,
        "after": entry.after,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def export_jsonl(entries: Iterable[AuditEntry]) -> str:
    """One JSON object per line, fields in :data:`EXPORT_FIELDS` order."""
    return "".join(json.dumps(_record(e), allow_nan=False, default=str) + "\n" for e in entries)


def export_csv(entries: Iterable[AuditEntry]) -> str:
    """A header of :data:`EXPORT_FIELDS`, then one row per entry; ``before`` and ``after`` are
    JSON text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_FIELDS)
    for entry in entries:
        record = _record(entry)
        record["before"] = json.dumps(record["before"], allow_nan=False, default=str)
        record["after"] = json.dumps(record["after"], allow_nan=False, default=str)
        writer.writerow([record[name] for name in EXPORT_FIELDS])
    return out.getvalue()


def parse_export(text: str) -> list[tuple[int, AuditEntry]]:
    """``(line number, entry)`` pairs from an export (JSON lines or CSV, told apart by the first
    character). A malformed line raises ``InvalidInputError`` naming it."""
    stripped = text.lstrip()
    if not stripped:
        return []
    if stripped.startswith("{"):
        return [
            (number, _entry(_json_line(line, number), number))
            for number, line in enumerate(text.splitlines(), start=1)
            if line.strip()
        ]
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != EXPORT_FIELDS:
        raise InvalidInputError(
            f"line 1: a CSV export starts with the header {','.join(EXPORT_FIELDS)}"
        )
    pairs = []
    for row in reader:
        number = reader.line_num
        record: dict[str, Any] = dict(row)
        for name in ("before", "after"):
            record[name] = _json_line(row[name] or "null", number)
        pairs.append((number, _entry(record, number)))
    return pairs


def verify_export(pairs: Sequence[tuple[int, AuditEntry]]) -> str | None:
    """Check an export's chain; None when intact, else what is wrong and on which line."""
    if not pairs:
        return None
    first = pairs[0][1]
    if first.seq == 1 and first.prev_hash != GENESIS:
        return f"line {pairs[0][0]} (entry 1): does not start at the genesis hash: edited"
    problem = verify_chain(
        (entry for _, entry in pairs), first_seq=first.seq, first_prev=first.prev_hash
    )
    if problem is None:
        return None
    lines = {entry.seq: number for number, entry in pairs}
    line = lines.get(problem.seq)
    where = f"line {line} (entry {problem.seq})" if line is not None else f"entry {problem.seq}"
    return f"{where}: {problem.reason}"


def _json_line(text: str, number: int) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidInputError(f"line {number}: not valid JSON ({exc})") from None


def _entry(record: Any, number: int) -> AuditEntry:
    if not isinstance(record, dict):
        raise InvalidInputError(f"line {number}: an export line must be a JSON object")
    missing = [name for name in EXPORT_FIELDS if name not in record]
    if missing:
        raise InvalidInputError(f"line {number}: missing field(s) {', '.join(missing)}")
    try:
        seq = int(record["seq"])
        at = datetime.fromisoformat(str(record["at"]))
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"line {number}: 'seq' must be an integer and 'at' an ISO time"
        ) from None
    return AuditEntry(
        seq=seq,
        at=at,
        actor=str(record["actor"]),
        action=str(record["action"]),
        subject=str(record["subject"]),
        before=record["before"],
        after=record["after"],
        prev_hash=str(record["prev_hash"]),
        hash=str(record["hash"]),
    )
