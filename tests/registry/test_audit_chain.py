"""The audit chain detects edits, removals and reorderings made directly in the database."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from shipyard.registry import schema
from shipyard.registry.audit import verify_chain


def _fill(registry: Any, churn: Any, churn_model: Any) -> None:
    registry.register(churn_model, "churn", reference=churn.X, target=churn.y)
    registry.register(churn_model, "churn", reference=churn.X, target=churn.y)
    registry.set_alias("churn", "champion", 1)
    registry.set_tag("churn/1", "team", "growth")
    registry.set_alias("churn", "champion", 2)


def _verify(registry: Any) -> Any:
    return verify_chain(registry.store.audit_entries())


def test_untouched_chain_verifies(registry: Any, churn: Any, churn_model: Any) -> None:
    _fill(registry, churn, churn_model)
    entries = list(registry.store.audit_entries())
    actions = [e.action for e in entries]
    assert actions == [
        "config.change",
        "model.create",
        "version.register",
        "version.attach",  # the ONNX conversion (or why it was refused)
        "version.register",
        "version.attach",
        "alias.set",
        "tag.set",
        "alias.set",
    ]
    assert _verify(registry) is None
    first_move = entries[actions.index("alias.set")]
    assert first_move.before == {"version": None} and first_move.after == {"version": 1}


def test_edited_entry_is_named(registry: Any, churn: Any, churn_model: Any) -> None:
    _fill(registry, churn, churn_model)
    with registry.db.engine.begin() as conn:
        conn.execute(
            schema.audit_log.update().where(schema.audit_log.c.seq == 4).values(actor="mallory")
        )
    problem = _verify(registry)
    assert problem is not None and problem.seq == 4 and "edited" in problem.reason


def test_removed_entry_is_named(registry: Any, churn: Any, churn_model: Any) -> None:
    _fill(registry, churn, churn_model)
    with registry.db.engine.begin() as conn:
        conn.execute(schema.audit_log.delete().where(schema.audit_log.c.seq == 3))
    problem = _verify(registry)
    assert problem is not None and problem.seq == 3 and "removed" in problem.reason


def test_reordered_entries_are_named(registry: Any, churn: Any, churn_model: Any) -> None:
    _fill(registry, churn, churn_model)
    table = schema.audit_log
    with registry.db.engine.begin() as conn:
        rows = {
            r.seq: r._asdict()
            for r in conn.execute(sa.select(table).where(table.c.seq.in_([4, 5])))
        }
        for seq, other in ((4, 5), (5, 4)):
            values = {k: v for k, v in rows[other].items() if k != "seq"}
            conn.execute(table.update().where(table.c.seq == seq).values(**values))
    problem = _verify(registry)
    assert problem is not None and problem.seq == 4


@pytest.mark.parametrize("column", ["before", "after", "subject", "at"])
def test_any_edited_field_breaks_the_chain(
    registry: Any, churn: Any, churn_model: Any, column: str
) -> None:
    _fill(registry, churn, churn_model)
    value: Any = {"version": 99} if column in ("before", "after") else "2020-01-01T00:00:00+00:00"
    if column == "subject":
        value = "churn@evil"
    with registry.db.engine.begin() as conn:
        conn.execute(
            schema.audit_log.update().where(schema.audit_log.c.seq == 6).values(**{column: value})
        )
    problem = _verify(registry)
    assert problem is not None and problem.seq == 6
