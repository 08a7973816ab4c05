"""The Slack-compatible webhook channel: ``{"text": ..., "blocks": [...]}``.

Slack, Mattermost, Rocket.Chat and Discord's ``/slack`` endpoints take this payload. ``text``
is the one-line summary (shown in notifications); the blocks carry a header, the figure, value,
threshold, severity and labels as fields, and the alert id and times as context.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from shipyard.monitoring.alerts.channels._http import check_url, post_json, redacted
from shipyard.monitoring.alerts.channels.base import (
    Settings,
    check_keys,
    get_setting,
    positive,
    retries_setting,
)
from shipyard.monitoring.alerts.events import AlertEvent, format_value, iso_time

__all__ = ["SlackChannel", "slack_payload"]

_KEYS = ("type", "url", "timeout", "retries", "backoff")
_ICON = {
    "firing": {
        "critical": ":rotating_light:",
        "warning": ":warning:",
        "info": ":information_source:",
    }
}


def slack_payload(alert: AlertEvent) -> dict[str, Any]:
    """The Block Kit message of one alert."""
    icon = (
        ":white_check_mark:"
        if alert.state == "resolved"
        else _ICON["firing"].get(alert.severity, "")
    )
    labels = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items())) or "none"
    fields = [
        ("Rule", alert.rule),
        ("State", alert.state),
        ("Figure", alert.figure),
        ("Value", format_value(alert.value)),
        ("Threshold", f"{alert.op} {format_value(alert.threshold)}"),
        ("Severity", alert.severity),
        ("Labels", labels),
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"{alert.state.upper()}: {alert.rule}"[:150]},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{icon} {_escape(alert.summary)}"}},
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{_escape(v)}"} for k, v in fields],
        },
    ]
    if alert.description:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _escape(alert.description)}}
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"alert {alert.id} · since {iso_time(alert.since)} · at {iso_time(alert.time)}",
                }
            ],
        }
    )
    return {"text": alert.summary, "blocks": blocks}


def _escape(text: str) -> str:
    # Slack's mrkdwn treats these three as control characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackChannel:
    """POSTs each alert to a Slack-compatible incoming webhook."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = check_url(url, "slack channel")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep

    def __repr__(self) -> str:  # the URL path is the secret
        return f"SlackChannel({redacted(self.url)!r})"

    @classmethod
    def from_config(cls, settings: Settings, environ: Mapping[str, str]) -> SlackChannel:
        where = "slack channel"
        check_keys(settings, _KEYS, where)
        return cls(
            check_url(settings.get("url"), where),
            timeout=positive(
                get_setting(settings, "timeout", (int, float), where, 5.0), "timeout", where
            ),
            retries=retries_setting(settings, where),
            backoff=float(get_setting(settings, "backoff", (int, float), where, 0.5)),
        )

    def send(self, alert: AlertEvent) -> None:
        post_json(
            self.url,
            orjson.dumps(slack_payload(alert)),
            headers={},
            timeout=self.timeout,
            retries=self.retries,
            backoff=self.backoff,
            sleep=self._sleep,
            what=f"slack webhook {redacted(self.url)}",
        )
