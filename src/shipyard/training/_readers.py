"""Small strict readers for the training config: each error names the field and the fix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipyard.errors import ConfigError

CLASSIFICATION_METRICS = ("roc_auc", "accuracy", "f1", "log_loss")
REGRESSION_METRICS = ("rmse", "mae", "r2")


def only(raw: Mapping[str, Any], where: str, known: set[str]) -> None:
    unknown = sorted(str(k) for k in raw if k not in known)
    if unknown:
        prefix = f"{where}: " if where else ""
        raise ConfigError(
            f"{prefix}unknown key(s) {', '.join(unknown)}; known keys are {', '.join(sorted(known))}"
        )


def section(value: Any, where: str, cls: type) -> dict[str, Any]:
    import dataclasses

    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: must be a mapping of keys, got {type(value).__name__}")
    only(value, where, {f.name for f in dataclasses.fields(cls)})
    return value


def items(value: Mapping[str, Any], key: str) -> list[Any]:
    items = value.get(key) or []
    if not isinstance(items, list):
        raise ConfigError(f"gates.{key}: must be a list of gates (each line starting with '-')")
    return items


def text(raw: Mapping[str, Any], key: str, default: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or (key != "description" and not value):
        raise ConfigError(f"{key}: must be a non-empty string, got {value!r}")
    return value


def metric_name(value: Any, where: str, task: str) -> str:
    allowed = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    if value in allowed:
        return str(value)
    other = REGRESSION_METRICS if task == "classification" else CLASSIFICATION_METRICS
    hint = f" ({value} is a metric for the other task)" if value in other else ""
    raise ConfigError(f"{where}: {value!r} is not a {task} metric{hint}; use {', '.join(allowed)}")


def bound(item: Mapping[str, Any], key: str, where: str) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}.{key}: must be a number, got {value!r}")
    return float(value)


def positive(
    item: Mapping[str, Any], key: str, where: str, default: float | None, *, integer: bool = False
) -> float | None:
    value: Any = item.get(key, default)
    if value is None:
        return None
    number = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not number or value <= 0:
        kind = "a positive integer" if integer else "a positive number"
        name = f"{where}.{key}" if where else key
        raise ConfigError(f"{name}: must be {kind}, got {value!r}")
    return int(value) if integer else float(value)
