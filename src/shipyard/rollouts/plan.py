"""A progressive rollout plan: steps, bake, guardrails and the metric to win, as frozen data.

A plan comes from YAML or a dict and is checked strictly: an unknown key, a wrong type or an
out-of-range value raises :class:`~shipyard.errors.InvalidInputError` naming the field
(``plan.guardrails.max_error_rate``). Example::

    steps: [5, 25, 50, 100]          # candidate's share of traffic, percent; ends at 100
    min_bake: 5m                     # per step: seconds, or "30s", "5m", "1h"
    min_samples: 1000                # candidate requests per step before a step may pass
    inconclusive_limit: 20           # inconclusive evaluations of the deciding step, then stop
    guardrails:
      max_error_rate: 0.05           # absolute
      max_error_rate_increase: 0.01  # over the baseline's rate
      max_p99_latency_ms: 250
      max_p99_latency_ratio: 1.5     # over the baseline's p99
      drift: true                    # a drift flag on the candidate rolls back
      metric_non_inferiority: true   # the metric worse than -margin rolls back
    metric:
      name: conversion
      kind: binary                   # or continuous
      higher_is_better: true
      margin: 0.005                  # non-inferiority margin, in the metric's units
      promote_when: not_worse        # or better
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from shipyard.errors import InvalidInputError

__all__ = ["Guardrails", "MetricSpec", "RolloutPlan"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def _fail(path: str, message: str) -> InvalidInputError:
    return InvalidInputError(f"{path}: {message}")


def _number(value: Any, path: str, *, low: float = 0.0, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(path, f"expected a number, got {value!r}")
    if not low <= value <= high:
        raise _fail(path, f"must be between {low:g} and {high:g}, got {value!r}")
    return float(value)


def _optional_number(
    value: Any, path: str, *, low: float = 0.0, high: float = math.inf
) -> float | None:
    return None if value is None else _number(value, path, low=low, high=high)


def _integer(value: Any, path: str, *, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, f"expected a whole number, got {value!r}")
    if value < low:
        raise _fail(path, f"must be >= {low}, got {value}")
    return value


def _flag(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(path, f"expected true or false, got {value!r}")
    return value


def _duration(value: Any, path: str) -> float:
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise _fail(
                path, f"expected seconds or a duration like '30s', '5m', '1h', got {value!r}"
            )
        return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return _number(value, path)


def _mapping(data: Any, path: str, known: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _fail(path, f"expected a mapping, got {type(data).__name__}")
    unknown = sorted(set(map(str, data)) - known)
    if unknown:
        raise _fail(
            f"{path}.{unknown[0]}", f"unknown field; expected one of {', '.join(sorted(known))}"
        )
    return data


@dataclass(frozen=True)
class Guardrails:
    """Conditions that roll the candidate back at once, checked at every evaluation.

    Error-rate guardrails are sequential: they fire when the always-valid interval of the
    candidate's error rate (or of its increase over the baseline) lies wholly above the limit,
    at ``alpha``, so a noisy handful of errors does not roll back and a model failing every
    request does within a few dozen requests. Latency has no sufficient statistic for p99, so
    its guardrails compare the reported p99 once ``min_requests`` requests were served.
    """

    max_error_rate: float | None = None
    max_error_rate_increase: float | None = None
    max_p99_latency_ms: float | None = None
    max_p99_latency_ratio: float | None = None
    drift: bool = True
    metric_non_inferiority: bool = True
    min_requests: int = 20
    alpha: float = 0.01

    @classmethod
    def from_dict(cls, data: Any, path: str = "plan.guardrails") -> Guardrails:
        d = _mapping(data, path, {f.name for f in fields(cls)})
        return cls(
            max_error_rate=_optional_number(
                d.get("max_error_rate"), f"{path}.max_error_rate", high=1.0
            ),
            max_error_rate_increase=_optional_number(
                d.get("max_error_rate_increase"), f"{path}.max_error_rate_increase", high=1.0
            ),
            max_p99_latency_ms=_optional_number(
                d.get("max_p99_latency_ms"), f"{path}.max_p99_latency_ms"
            ),
            max_p99_latency_ratio=_optional_number(
                d.get("max_p99_latency_ratio"), f"{path}.max_p99_latency_ratio", low=1.0
            ),
            drift=_flag(d.get("drift", True), f"{path}.drift"),
            metric_non_inferiority=_flag(
                d.get("metric_non_inferiority", True), f"{path}.metric_non_inferiority"
            ),
            min_requests=_integer(d.get("min_requests", 20), f"{path}.min_requests", low=1),
            alpha=_number(d.get("alpha", 0.01), f"{path}.alpha", low=1e-9, high=0.5),
        )


@dataclass(frozen=True)
class MetricSpec:
    """The online metric the candidate must win on, and what winning means.

    ``promote_when="better"`` promotes only when the candidate is better with always-valid
    confidence 1 - alpha. ``"not_worse"`` promotes when it is shown to be no worse than the
    baseline by more than ``margin``: the null "candidate worse by margin or more" is rejected,
    so a model that is worse by the margin is promoted with probability at most alpha.
    ``mixing_sd`` is the mSPRT's tau, the size of effect one expects, in metric units; when
    unset it is 0.1 standard deviations of the metric (or ``margin`` when larger).
    """

    name: str
    kind: Literal["binary", "continuous"] = "binary"
    higher_is_better: bool = True
    margin: float = 0.0
    promote_when: Literal["better", "not_worse"] = "not_worse"
    mixing_sd: float | None = None

    @classmethod
    def from_dict(cls, data: Any, path: str = "plan.metric") -> MetricSpec:
        d = _mapping(data, path, {f.name for f in fields(cls)})
        name = d.get("name")
        if not isinstance(name, str) or not name:
            raise _fail(f"{path}.name", f"expected the metric's name, got {name!r}")
        kind = d.get("kind", "binary")
        if kind not in ("binary", "continuous"):
            raise _fail(f"{path}.kind", f"expected 'binary' or 'continuous', got {kind!r}")
        when = d.get("promote_when", "not_worse")
        if when not in ("better", "not_worse"):
            raise _fail(f"{path}.promote_when", f"expected 'better' or 'not_worse', got {when!r}")
        mixing = d.get("mixing_sd")
        return cls(
            name=name,
            kind=kind,
            higher_is_better=_flag(d.get("higher_is_better", True), f"{path}.higher_is_better"),
            margin=_number(d.get("margin", 0.0), f"{path}.margin"),
            promote_when=when,
            mixing_sd=None if mixing is None else _number(mixing, f"{path}.mixing_sd", low=1e-12),
        )


@dataclass(frozen=True)
class RolloutPlan:
    """Steps of candidate traffic (percent, rising, ending at 100) and what each step needs.

    Every step but the last two only has to bake (time and samples) with the guardrails
    holding. The step before 100% is the deciding step: it advances, and so promotes, only when
    the metric test passes (or at once when there is no metric). Reaching 100 is promotion.
    """

    steps: tuple[float, ...] = (5.0, 25.0, 50.0, 100.0)
    min_bake_seconds: float = 300.0
    min_samples: int = 500
    inconclusive_limit: int = 20
    alpha: float = 0.05
    guardrails: Guardrails = field(default_factory=Guardrails)
    metric: MetricSpec | None = None

    def __post_init__(self) -> None:
        steps = self.steps
        if len(steps) < 2 or steps[-1] != 100.0:
            raise _fail(
                "plan.steps", f"expected at least two steps ending at 100, got {list(steps)}"
            )
        if any(not 0.0 < s <= 100.0 for s in steps) or any(
            a >= b for a, b in itertools.pairwise(steps)
        ):
            raise _fail("plan.steps", f"expected rising percentages in (0, 100], got {list(steps)}")

    @property
    def deciding_step(self) -> int:
        return len(self.steps) - 2

    @classmethod
    def from_dict(cls, data: Any) -> RolloutPlan:
        known = {
            "steps",
            "min_bake",
            "min_bake_seconds",
            "min_samples",
            "inconclusive_limit",
            "alpha",
            "guardrails",
            "metric",
        }
        d = _mapping(data, "plan", known)
        raw_steps = d.get("steps", [5, 25, 50, 100])
        if not isinstance(raw_steps, list | tuple):
            raise _fail("plan.steps", f"expected a list of percentages, got {raw_steps!r}")
        steps = tuple(_number(s, f"plan.steps[{i}]", high=100.0) for i, s in enumerate(raw_steps))
        bake = d.get("min_bake", d.get("min_bake_seconds", 300))
        metric = d.get("metric")
        return cls(
            steps=steps,
            min_bake_seconds=_duration(bake, "plan.min_bake"),
            min_samples=_integer(d.get("min_samples", 500), "plan.min_samples"),
            inconclusive_limit=_integer(
                d.get("inconclusive_limit", 20), "plan.inconclusive_limit", low=1
            ),
            alpha=_number(d.get("alpha", 0.05), "plan.alpha", low=1e-9, high=0.5),
            guardrails=Guardrails.from_dict(d.get("guardrails", {})),
            metric=None if metric is None else MetricSpec.from_dict(metric),
        )

    @classmethod
    def from_yaml(cls, text: str) -> RolloutPlan:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInputError(f"plan: not valid YAML: {exc}") from exc
        return cls.from_dict({} if data is None else data)

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain data; ``from_dict(to_dict())`` gives it back."""
        out = asdict(self)
        out["steps"] = list(self.steps)
        return out
