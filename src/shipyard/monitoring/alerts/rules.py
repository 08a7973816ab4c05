"""Alert rules: which figure, compared how with what, for how long, how loud, told to whom.

A rule is a frozen value read from a config file (YAML) or a registry row (a dict); every
malformed field raises a :class:`~shipyard.errors.ConfigError` that names the rule and the field.

.. code-block:: yaml

    channels:
      ops: {type: webhook, url: "https://ops.example/hooks/shipyard", secret_env: OPS_SECRET}
      log: {type: log}
    rules:
      - name: churn-drift
        figure: drift.share
        op: ">="
        threshold: 0.5
        window: 24h          # or "5000 rows"; absent: the monitor's default window
        for: 2               # consecutive evaluations; "30m" (a duration), or both:
                             # {evaluations: 2, duration: 30m}
        cooldown: 6h         # no new firing of this rule within 6 hours of the last one
        severity: critical   # info, warning (default), critical
        channels: [ops, log]
        labels: {model: churn, version: "3", endpoint: churn}
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

from shipyard.errors import ConfigError
from shipyard.monitoring.alerts.channels import CHANNEL_TYPES
from shipyard.monitoring.alerts.figures import check_figure

__all__ = [
    "COMPARISONS",
    "SEVERITIES",
    "AlertConfig",
    "AlertRule",
    "Comparison",
    "Severity",
    "Window",
    "load_alert_config",
    "parse_alert_config",
    "parse_duration",
]

Comparison = Literal[">", ">=", "<", "<=", "==", "!="]
Severity = Literal["info", "warning", "critical"]
COMPARISONS: Mapping[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_OP_WORDS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "eq": "==", "ne": "!="}
SEVERITIES: tuple[Severity, ...] = get_args(Severity)

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
_LABEL_KEY = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_ROWS = re.compile(r"^\s*(\d+)\s*rows?\s*$")
_RULE_KEYS = (
    "name",
    "figure",
    "op",
    "threshold",
    "severity",
    "window",
    "for",
    "cooldown",
    "channels",
    "labels",
    "description",
)


@dataclass(frozen=True)
class Window:
    """The data a figure is computed on: the last ``seconds`` of log, or the last ``rows``."""

    seconds: float | None = None
    rows: int | None = None

    def __post_init__(self) -> None:
        if (self.seconds is None) == (self.rows is None):
            raise ConfigError("a window is either a duration or a row count, exactly one of them")

    def to_config(self) -> str:
        return f"{self.rows} rows" if self.rows is not None else f"{self.seconds:g}s"


@dataclass(frozen=True)
class AlertRule:
    """One rule. Build it with :meth:`from_dict` to get the field-by-field validation.

    It fires once the comparison has held for ``for_evaluations`` consecutive evaluations and
    for ``for_seconds`` since it began (both, when both are set), unless it last fired less than
    ``cooldown`` seconds ago; it resolves at the first evaluation where the comparison fails.
    """

    name: str
    figure: str
    op: Comparison
    threshold: float
    severity: Severity = "warning"
    window: Window | None = None
    for_evaluations: int = 1
    for_seconds: float = 0.0
    cooldown: float = 0.0
    channels: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    def holds(self, value: float) -> bool:
        """Whether ``value`` breaks the rule (the alert condition is true)."""
        return COMPARISONS[self.op](value, self.threshold)

    @classmethod
    def from_dict(cls, data: object, where: str = "rule") -> AlertRule:
        """A rule from its config form; errors name ``where``, the rule and the field."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where} must be a mapping, got {type(data).__name__}")
        name = data.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(
                f"{where}: name must be 1-63 lowercase letters, digits, '.', '_' or '-', "
                f"starting with a letter or digit; got {name!r}"
            )
        where = f"{where} {name!r}"
        if unknown := sorted(str(k) for k in data if k not in _RULE_KEYS):
            raise ConfigError(
                f"{where}: unknown field(s) {', '.join(unknown)}; known fields are "
                f"{', '.join(_RULE_KEYS)}"
            )
        for required in ("figure", "op", "threshold"):
            if required not in data:
                raise ConfigError(f"{where}: field {required!r} is required")
        evaluations, seconds = _parse_for(data.get("for", 1), f"{where}: for")
        return cls(
            name=name,
            figure=check_figure(data["figure"], f"{where}: figure"),
            op=_parse_op(data["op"], f"{where}: op"),
            threshold=_number(data["threshold"], f"{where}: threshold"),
            severity=_parse_severity(data.get("severity", "warning"), f"{where}: severity"),
            window=_parse_window(data.get("window"), f"{where}: window"),
            for_evaluations=evaluations,
            for_seconds=seconds,
            cooldown=parse_duration(data.get("cooldown", 0), f"{where}: cooldown"),
            channels=_parse_channels(data.get("channels", ()), f"{where}: channels"),
            labels=_parse_labels(data.get("labels", {}), f"{where}: labels"),
            description=_text(data.get("description", ""), f"{where}: description"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The config form, JSON-ready; ``from_dict(rule.to_dict()) == rule``."""
        out: dict[str, Any] = {
            "name": self.name,
            "figure": self.figure,
            "op": self.op,
            "threshold": self.threshold,
            "severity": self.severity,
            "for": {"evaluations": self.for_evaluations, "duration": f"{self.for_seconds:g}s"},
            "cooldown": f"{self.cooldown:g}s",
            "channels": list(self.channels),
            "labels": dict(self.labels),
            "description": self.description,
        }
        if self.window is not None:
            out["window"] = self.window.to_config()
        return out


@dataclass(frozen=True)
class AlertConfig:
    """The rules and the channel configurations (name to config dict) of one config file."""

    rules: tuple[AlertRule, ...]
    channels: Mapping[str, Mapping[str, Any]]


def load_alert_config(path: str | Path) -> AlertConfig:
    """Read and validate an alert config file (YAML, or JSON which is YAML too)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read alert config {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}; fix the file") from exc
    return parse_alert_config({} if data is None else data, where=str(path))


def parse_alert_config(data: object, where: str = "alert config") -> AlertConfig:
    """Validate the parsed form ``{"channels": {...}, "rules": [...]}``."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a mapping with 'rules' and 'channels'")
    if unknown := sorted(str(k) for k in data if k not in ("rules", "channels")):
        raise ConfigError(
            f"{where}: unknown section(s) {', '.join(unknown)}; known: channels, rules"
        )
    channels = _parse_channel_configs(data.get("channels", {}), f"{where}: channels")
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        raise ConfigError(f"{where}: rules must be a list")
    rules = tuple(AlertRule.from_dict(r, f"{where}: rules[{i}]") for i, r in enumerate(raw_rules))
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen:
            raise ConfigError(f"{where}: rule name {rule.name!r} appears more than once")
        seen.add(rule.name)
        if missing := [c for c in rule.channels if c not in channels]:
            known = ", ".join(sorted(channels)) or "none"
            raise ConfigError(
                f"{where}: rule {rule.name!r} names channel(s) {', '.join(missing)} "
                f"that the channels section does not define (defined: {known})"
            )
    return AlertConfig(rules=rules, channels=channels)


def parse_duration(value: object, where: str = "duration") -> float:
    """Seconds from ``90``, ``"90s"``, ``"15m"``, ``"6h"``, ``"7d"``, ``"1w"``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    else:
        raise ConfigError(
            f"{where} must be a duration such as 90, '90s', '15m', '6h' or '7d'; got {value!r}"
        )
    if not math.isfinite(seconds) or seconds < 0:
        raise ConfigError(f"{where} must be a non-negative duration, got {value!r}")
    return seconds


def _parse_op(value: object, where: str) -> Comparison:
    if isinstance(value, str):
        op = _OP_WORDS.get(value.strip().lower(), value.strip())
        if op in COMPARISONS:
            return cast(Comparison, op)
    raise ConfigError(
        f"{where} must be one of {', '.join(COMPARISONS)} (or {', '.join(_OP_WORDS)}); got {value!r}"
    )


def _number(value: object, where: str) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise ConfigError(f"{where} must be a finite number, got {value!r}")


def _parse_severity(value: object, where: str) -> Severity:
    if isinstance(value, str) and value.lower() in SEVERITIES:
        return cast(Severity, value.lower())
    raise ConfigError(f"{where} must be one of {', '.join(SEVERITIES)}; got {value!r}")


def _parse_window(value: object, where: str) -> Window | None:
    if value is None:
        return None
    if isinstance(value, str) and (m := _ROWS.match(value)):
        rows = int(m.group(1))
    elif isinstance(value, Mapping) and set(value) == {"rows"}:
        rows = value["rows"]
        if isinstance(rows, bool) or not isinstance(rows, int):
            raise ConfigError(f"{where}: rows must be a positive integer, got {rows!r}")
    else:
        try:
            seconds = parse_duration(value, where)
        except ConfigError:
            raise ConfigError(
                f"{where} must be a duration ('24h') or a row count ('5000 rows'); got {value!r}"
            ) from None
        if seconds <= 0:
            raise ConfigError(f"{where} must be longer than zero, got {value!r}")
        return Window(seconds=seconds)
    if rows < 1:
        raise ConfigError(f"{where} must hold at least one row, got {value!r}")
    return Window(rows=rows)


def _parse_for(value: object, where: str) -> tuple[int, float]:
    if isinstance(value, bool):
        raise ConfigError(f"{where} must be a count of evaluations or a duration, got {value!r}")
    if isinstance(value, int):
        return _evaluations(value, where), 0.0
    if isinstance(value, str):
        return 1, parse_duration(value, where)
    if isinstance(value, Mapping):
        if unknown := sorted(str(k) for k in value if k not in ("evaluations", "duration")):
            raise ConfigError(
                f"{where}: unknown key(s) {', '.join(unknown)}; known: duration, evaluations"
            )
        evaluations = _evaluations(value.get("evaluations", 1), f"{where}.evaluations")
        return evaluations, parse_duration(value.get("duration", 0), f"{where}.duration")
    raise ConfigError(
        f"{where} must be a count of evaluations (3), a duration ('30m') or "
        f"{{evaluations: 3, duration: '30m'}}; got {value!r}"
    )


def _evaluations(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where} must be a positive count of evaluations, got {value!r}")
    return value


def _parse_channels(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        raise ConfigError(f"{where} must be a list of channel names, got {value!r}")
    for item in value:
        if not isinstance(item, str) or not _NAME.match(item):
            raise ConfigError(f"{where}: {item!r} is not a valid channel name")
    if len(set(value)) != len(value):
        raise ConfigError(f"{where} names a channel more than once: {list(value)}")
    return tuple(value)


def _parse_labels(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a mapping such as {{model: churn, version: '3'}}")
    labels: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not _LABEL_KEY.match(key):
            raise ConfigError(
                f"{where}: label name {key!r} must be lowercase letters, digits and '_'"
            )
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise ConfigError(f"{where}.{key} must be a string, got {item!r}")
        labels[key] = str(item)
    return labels


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where} must be a string, got {value!r}")
    return value


def _parse_channel_configs(value: object, where: str) -> dict[str, Mapping[str, Any]]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a mapping of channel name to its settings")
    out: dict[str, Mapping[str, Any]] = {}
    for name, config in value.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(f"{where}: {name!r} is not a valid channel name")
        if not isinstance(config, Mapping) or not isinstance(config.get("type"), str):
            raise ConfigError(f"{where}.{name} must be a mapping with a 'type' such as webhook")
        if config["type"] not in CHANNEL_TYPES:
            raise ConfigError(
                f"{where}.{name}: unknown type {config['type']!r}; known types are "
                f"{', '.join(sorted(CHANNEL_TYPES))}"
            )
        out[name] = dict(config)
    return out
