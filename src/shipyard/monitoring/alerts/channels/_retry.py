"""Retries with exponential backoff, shared by the channels that talk over a network."""

from __future__ import annotations

from collections.abc import Callable

from shipyard.monitoring.alerts.channels.base import ChannelError

__all__ = ["MAX_BACKOFF", "Transient", "with_retries"]

MAX_BACKOFF = 30.0


class Transient(Exception):
    """A failure worth another try (a connection refused, a 5xx); ``retry_after`` in seconds
    when the receiver said how long to wait."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def with_retries(
    attempt: Callable[[], None],
    *,
    what: str,
    retries: int,
    backoff: float,
    sleep: Callable[[float], None],
) -> None:
    """Run ``attempt`` until it returns, at most ``retries + 1`` times.

    ``Transient`` is retried after ``backoff * 2**n`` seconds (or the receiver's Retry-After,
    capped at :data:`MAX_BACKOFF`); a :class:`ChannelError` is final at once.
    """
    for n in range(retries + 1):
        try:
            attempt()
            return
        except Transient as exc:
            last = exc
            if n < retries:
                delay = backoff * 2**n if exc.retry_after is None else exc.retry_after
                sleep(min(delay, MAX_BACKOFF))
    tries = "1 attempt" if retries == 0 else f"{retries + 1} attempts"
    raise ChannelError(f"{what}: delivery failed after {tries}: {last}")
