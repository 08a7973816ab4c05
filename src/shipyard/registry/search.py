"""Filtering versions by tags, metric conditions and status (pure)."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

from shipyard.errors import InvalidInputError
from shipyard.registry.entities import ModelVersion

__all__ = ["filter_versions", "parse_condition"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
}
_CONDITION = re.compile(r"^\s*([A-Za-z0-9_.\-/]+)\s*(>=|<=|==|!=|>|<|=)\s*(\S+)\s*$")


def parse_condition(text: str) -> tuple[str, Callable[[float, float], bool], float]:
    match = _CONDITION.match(text)
    if not match:
        raise InvalidInputError(
            f"invalid metric condition {text!r}: write NAME OP NUMBER, as in 'auc>=0.8' "
            "(operators: >=, <=, >, <, ==, !=)"
        )
    name, op, raw = match.groups()
    try:
        value = float(raw)
    except ValueError as exc:
        raise InvalidInputError(
            f"invalid metric condition {text!r}: {raw!r} is not a number"
        ) from exc
    return name, _OPS[op], value


def filter_versions(
    versions: Iterable[ModelVersion],
    *,
    tags: Mapping[str, str] | None = None,
    metrics: Sequence[str] = (),
    status: str | None = None,
    order_by: str | None = None,
    limit: int | None = None,
) -> list[ModelVersion]:
    conditions = [parse_condition(c) for c in metrics]
    found = [
        v
        for v in versions
        if all(v.tags.get(k) == str(val) for k, val in (tags or {}).items())
        and all(name in v.metrics and op(v.metrics[name], value) for name, op, value in conditions)
        and (status is None or v.status == status)
    ]
    if order_by:
        key = order_by.lstrip("-")
        descending = order_by.startswith("-")
        with_metric = [v for v in found if key in v.metrics]
        with_metric.sort(key=lambda v: v.metrics[key], reverse=descending)
        found = with_metric + [v for v in found if key not in v.metrics]
    return found[:limit] if limit is not None else found
