"""The webhook channel: the event as JSON, POSTed, optionally signed with HMAC-SHA256.

The body is ``{"schema": "shipyard.alert/v1", ...AlertEvent.to_dict()}``. With a secret, the
header ``X-Shipyard-Signature-256: sha256=<hex>`` carries the HMAC-SHA256 of the exact body
bytes under the secret; a receiver recomputes it and compares in constant time
(:func:`signature` is that computation). ``X-Shipyard-Event`` says firing or resolved and
``X-Shipyard-Alert-Id`` is the alert's id, the same in its firing and resolved deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping

import orjson

from shipyard.errors import ConfigError
from shipyard.monitoring.alerts.channels._http import check_url, post_json, redacted
from shipyard.monitoring.alerts.channels.base import (
    Settings,
    check_keys,
    get_setting,
    positive,
    retries_setting,
    secret_from,
)
from shipyard.monitoring.alerts.events import AlertEvent

__all__ = ["SCHEMA", "SIGNATURE_HEADER", "WebhookChannel", "signature"]

SCHEMA = "shipyard.alert/v1"
SIGNATURE_HEADER = "X-Shipyard-Signature-256"
_KEYS = ("type", "url", "timeout", "retries", "backoff", "secret_env", "headers")


def signature(secret: str | bytes, body: bytes) -> str:
    """The signature header's value for ``body``: ``sha256=<hex HMAC-SHA256>``."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


class WebhookChannel:
    """POSTs each alert as JSON to ``url``."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        retries: int = 3,
        backoff: float = 0.5,
        secret: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = check_url(url, "webhook channel")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._secret = secret
        self.headers = dict(headers or {})
        self._sleep = sleep

    def __repr__(self) -> str:  # never shows the secret
        return f"WebhookChannel({self.url!r}, signed={self._secret is not None})"

    @classmethod
    def from_config(cls, settings: Settings, environ: Mapping[str, str]) -> WebhookChannel:
        where = "webhook channel"
        check_keys(settings, _KEYS, where)
        headers = get_setting(settings, "headers", Mapping, where, {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
            raise ConfigError(f"{where}: headers must map header names to strings")
        return cls(
            check_url(settings.get("url"), where),
            timeout=positive(
                get_setting(settings, "timeout", (int, float), where, 5.0), "timeout", where
            ),
            retries=retries_setting(settings, where),
            backoff=float(get_setting(settings, "backoff", (int, float), where, 0.5)),
            secret=secret_from(settings, "secret_env", environ, where),
            headers=headers,
        )

    def payload(self, alert: AlertEvent) -> bytes:
        return orjson.dumps({"schema": SCHEMA, **alert.to_dict()})

    def send(self, alert: AlertEvent) -> None:
        body = self.payload(alert)
        headers = {
            **self.headers,
            "X-Shipyard-Event": alert.state,
            "X-Shipyard-Alert-Id": alert.id,
        }
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = signature(self._secret, body)
        post_json(
            self.url,
            body,
            headers=headers,
            timeout=self.timeout,
            retries=self.retries,
            backoff=self.backoff,
            sleep=self._sleep,
            what=f"webhook {redacted(self.url)}",
        )
