"""Alert channels: the one place they are registered.

Each channel type is a class with ``send(alert)`` (:class:`AlertChannel`) and a factory from
its settings; :data:`CHANNEL_TYPES` maps the ``type`` of a config entry to that factory. A new
channel is added here, and the shared contract test then runs over it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shipyard.errors import ConfigError
from shipyard.monitoring.alerts.channels.base import AlertChannel, ChannelError, ChannelFactory
from shipyard.monitoring.alerts.channels.email import EmailChannel
from shipyard.monitoring.alerts.channels.log import LogChannel
from shipyard.monitoring.alerts.channels.slack import SlackChannel
from shipyard.monitoring.alerts.channels.webhook import WebhookChannel

__all__ = [
    "CHANNEL_TYPES",
    "AlertChannel",
    "ChannelError",
    "EmailChannel",
    "LogChannel",
    "SlackChannel",
    "WebhookChannel",
    "build_channel",
    "build_channels",
]

CHANNEL_TYPES: Mapping[str, ChannelFactory] = {
    "webhook": WebhookChannel.from_config,
    "slack": SlackChannel.from_config,
    "email": EmailChannel.from_config,
    "log": LogChannel.from_config,
}


def build_channel(
    settings: Mapping[str, Any], *, environ: Mapping[str, str] | None = None, name: str = ""
) -> AlertChannel:
    """A channel from its settings (``{"type": "webhook", "url": ...}``).

    ``environ`` resolves the ``*_env`` settings that name secrets; the caller passes the
    environment (shipyard reads it in the settings layer only), so without it no secret resolves.
    """
    kind = settings.get("type")
    label = f"channel {name!r}" if name else "channel"
    if not isinstance(kind, str) or kind not in CHANNEL_TYPES:
        raise ConfigError(
            f"{label}: unknown type {kind!r}; known types are {', '.join(sorted(CHANNEL_TYPES))}"
        )
    try:
        return CHANNEL_TYPES[kind](settings, environ or {})
    except ConfigError as exc:
        raise ConfigError(f"{label}: {exc}" if name else str(exc)) from exc


def build_channels(
    configs: Mapping[str, Mapping[str, Any]], *, environ: Mapping[str, str] | None = None
) -> dict[str, AlertChannel]:
    """Every channel of a config file's ``channels`` section, by name."""
    return {name: build_channel(c, environ=environ, name=name) for name, c in configs.items()}
