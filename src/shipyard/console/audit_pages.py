"""The Audit page: the log, filtered, with "verify chain", and new entries pushed live.

Routes, under the console's prefix::

    GET  /audit          the Audit page (?subject= &actor= &action=)
    POST /audit/verify   verify the chain and show the result (read scope: it changes nothing)
    GET  /audit/stream   server-sent events: new audit entries (?after=SEQ &subject=)
"""

from __future__ import annotations

import asyncio
from typing import Any

from shipyard.console import sse, views
from shipyard.console.http import Response
from shipyard.console.routes import Call, Route

__all__ = ["ROUTES", "STREAM_POLL"]

STREAM_POLL = 1.0
"""Seconds between the stream's looks at the audit log."""


async def audit(call: Call, verified: dict[str, Any] | None = None) -> Response:
    q = call.request.query
    view = await asyncio.to_thread(
        views.audit_view,
        call.registry,
        call.viewer.key,
        subject=q.get("subject", "").strip(),
        actor=q.get("actor", "").strip(),
        action=q.get("action", "").strip(),
    )
    return call.render("audit.html", page="audit", audit=view, verified=verified)


async def verify(call: Call) -> Response:
    verified = await asyncio.to_thread(views.verify_view, call.registry)
    call.request.query = {}
    return await audit(call, verified)


async def stream(call: Call) -> None:
    """New audit entries as server-sent events, one table row each."""
    seq = sse.last_event_id(call.request)
    subject = call.request.query.get("subject", "")
    pages = call.console.pages

    async def tick() -> list[str]:
        nonlocal seq
        entries = await asyncio.to_thread(views.audit_after, call.registry, seq, call.viewer.key)
        chunks = []
        for entry in entries:
            seq = entry.seq
            if subject and views.subject_model(entry.subject) != subject:
                continue
            row = pages.fragment("_audit_row.html", e=entry).replace("\n", " ")
            chunks.append(sse.event("audit", row, entry.seq))
        return chunks or [f"id: {seq}\n: idle\n\n"]  # the id lets a reconnect resume here

    await sse.stream(call.request, call.send, tick, poll=STREAM_POLL)


ROUTES = (
    Route(("audit",), "GET", audit),
    Route(("audit", "verify"), "POST", verify),
    Route(("audit", "stream"), "GET", stream),
)
