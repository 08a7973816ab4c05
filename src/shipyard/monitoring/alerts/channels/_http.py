"""One JSON POST with a timeout and retries: the transport of the webhook and Slack channels."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from shipyard.errors import ConfigError, MissingDependencyError
from shipyard.monitoring.alerts.channels._retry import Transient, with_retries
from shipyard.monitoring.alerts.channels.base import ChannelError

if TYPE_CHECKING:
    import httpx

__all__ = ["check_url", "post_json", "redacted"]

# 408 and 429 are the receiver asking to try later; 5xx its own trouble.
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def check_url(url: object, where: str) -> str:
    """``url`` if it is an absolute http(s) URL."""
    parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{where}: url must be an absolute http:// or https:// URL, got {url!r}")
    return str(url)


def redacted(url: str) -> str:
    """Scheme and host only: the path of a webhook URL is often its secret (Slack's are)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def post_json(
    url: str,
    body: bytes,
    *,
    headers: Mapping[str, str],
    timeout: float,
    retries: int,
    backoff: float,
    sleep: Callable[[float], None],
    what: str,
) -> None:
    """POST ``body`` as JSON; retried on network errors, 408/429/5xx, final on other statuses."""
    try:
        import httpx
    except ImportError as exc:  # a dependency of the alerts, not of shipyard's core
        raise MissingDependencyError(
            "httpx is needed to send webhook alerts; install it with: pip install httpx"
        ) from exc

    all_headers = {"content-type": "application/json", **headers}
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:

        def attempt() -> None:
            try:
                response = client.post(url, content=body, headers=all_headers)
            except httpx.TransportError as exc:
                raise Transient(f"{type(exc).__name__}: {exc or 'no response'}") from exc
            _check(response, what)

        with_retries(attempt, what=what, retries=retries, backoff=backoff, sleep=sleep)


def _check(response: httpx.Response, what: str) -> None:
    if response.is_success:
        return
    text = response.text.strip().replace("\n", " ")[:200]
    message = f"the receiver answered {response.status_code} {response.reason_phrase}" + (
        f": {text}" if text else ""
    )
    if response.status_code in _RETRY_STATUS:
        raise Transient(message, _retry_after(response.headers.get("retry-after")))
    raise ChannelError(f"{what}: {message}; check the URL and the receiver (not retried)")


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: fall back to our own backoff
        return None
