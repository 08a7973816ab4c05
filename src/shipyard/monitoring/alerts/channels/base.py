"""The one protocol every alert channel follows, and the error a failed delivery raises."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from shipyard.errors import ConfigError, ShipyardError
from shipyard.monitoring.alerts.events import AlertEvent

__all__ = [
    "AlertChannel",
    "ChannelError",
    "ChannelFactory",
    "Settings",
    "check_keys",
    "get_setting",
    "positive",
    "retries_setting",
    "secret_from",
]


class ChannelError(ShipyardError):
    """An alert could not be delivered; the message names the channel and the cause.

    Belongs in the error tree as ``ShipyardError -> ChannelError``.
    """


@runtime_checkable
class AlertChannel(Protocol):
    """Delivers one alert event, or raises :class:`ChannelError` saying why it could not."""

    def send(self, alert: AlertEvent) -> None: ...


# A channel's settings (a mapping from a config file) and the environment to resolve
# ``*_env`` secrets from; the factory validates them and returns a ready channel.
Settings = Mapping[str, Any]
ChannelFactory = Callable[[Settings, Mapping[str, str]], AlertChannel]

_MISSING = object()


def get_setting(
    settings: Settings,
    key: str,
    kind: type | tuple[type, ...],
    where: str,
    default: Any = _MISSING,
) -> Any:
    """``settings[key]`` checked against ``kind`` (bools are not numbers), or ``default``."""
    if key not in settings:
        if default is _MISSING:
            raise ConfigError(f"{where}: setting {key!r} is required")
        return default
    value = settings[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        names = " or ".join(k.__name__ for k in kinds)
        raise ConfigError(f"{where}: {key} must be {names}, got {value!r}")
    return value


def check_keys(settings: Settings, known: tuple[str, ...], where: str) -> None:
    """Reject settings a channel does not know (a typo would otherwise be silently ignored)."""
    if unknown := sorted(str(k) for k in settings if k not in known):
        raise ConfigError(
            f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )


def secret_from(settings: Settings, key: str, environ: Mapping[str, str], where: str) -> str | None:
    """The secret named by ``settings[key]`` (a variable name) in ``environ``; secrets are never
    written in the config file itself."""
    var = get_setting(settings, key, str, where, None)
    if var is None:
        return None
    value = environ.get(var)
    if not value:
        raise ConfigError(f"{where}: {key} names {var}, which is not set; set it or remove {key}")
    return value


def positive(value: float, key: str, where: str) -> float:
    if value <= 0:
        raise ConfigError(f"{where}: {key} must be greater than zero, got {value!r}")
    return float(value)


def retries_setting(settings: Settings, where: str, default: int = 3) -> int:
    value: int = get_setting(settings, "retries", int, where, default)
    if value < 0:
        raise ConfigError(f"{where}: retries must be zero or more, got {value!r}")
    return value
