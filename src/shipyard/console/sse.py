"""Server-sent events: one loop that pushes what a page's producer has new, until the browser
leaves.

A page's stream hands :func:`stream` a ``tick`` coroutine that returns the events to send now
(already formatted by :func:`event`); an empty answer sends a comment, which keeps proxies from
closing an idle line. The stream ends after ``seconds`` (the browser's ``EventSource`` then
reconnects, resuming from ``Last-Event-ID`` when the events carry ids).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from shipyard.console.http import Request, Send

__all__ = ["STREAM_SECONDS", "event", "last_event_id", "stream"]

STREAM_SECONDS = 300.0
"""How long one event stream stays open; the browser's EventSource then reconnects."""


def event(name: str, data: str, event_id: int | str | None = None) -> str:
    """One event in the text/event-stream format (``data`` may hold newlines)."""
    lines = [] if event_id is None else [f"id: {event_id}"]
    lines.append(f"event: {name}")
    lines.extend(f"data: {line}" for line in data.split("\n"))
    return "\n".join(lines) + "\n\n"


def last_event_id(request: Request, fallback: str = "after") -> int:
    """Where a reconnecting browser left off (``Last-Event-ID``), or the ``?after=`` query."""
    last = request.header("last-event-id") or request.query.get(fallback, "0")
    return int(last) if last.isdigit() else 0


async def stream(
    request: Request,
    send: Send,
    tick: Callable[[], Awaitable[list[str]]],
    *,
    poll: float,
    seconds: float = STREAM_SECONDS,
) -> None:
    """Answer ``request`` with an event stream: ``tick()`` every ``poll`` seconds."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-store"),
                (b"x-accel-buffering", b"no"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"retry: 2000\n\n", "more_body": True})
    gone = asyncio.ensure_future(request.disconnected())
    deadline = time.monotonic() + seconds
    try:
        while not gone.done() and time.monotonic() < deadline:
            chunks = await tick()
            body = "".join(chunks) if chunks else ": idle\n\n"
            await send({"type": "http.response.body", "body": body.encode(), "more_body": True})
            await asyncio.wait([gone], timeout=poll)
    finally:
        gone.cancel()
    if not gone.cancelled() and gone.done():
        return
    await send({"type": "http.response.body", "body": b"", "more_body": False})
