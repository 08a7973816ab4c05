"""The Monitoring pages: every model's health, and one model's drift, quality, performance and
alerts from the monitor's recorded runs.

Routes, under the console's prefix::

    GET /monitoring          every model the key reaches: its last run, drift, alerts firing
    GET /monitoring/{m}      one model: drift per feature over time against its threshold,
                             drifted features' distributions over the reference, data quality,
                             performance against registration, alerts firing and resolved
    GET /monitoring/{m}/stream  server-sent events: a ``changed`` event (its id the run's) each
                             time a newer run is recorded (?after=RUN_ID); the page re-renders
"""

from __future__ import annotations

import asyncio

from shipyard.console import monitoring_views, sse
from shipyard.console.http import Response
from shipyard.console.routes import Call, Route

__all__ = ["ROUTES", "STREAM_POLL"]

STREAM_POLL = 2.0
"""Seconds between the stream's looks for a new run (a run lands every few minutes)."""


async def index(call: Call) -> Response:
    rows = await asyncio.to_thread(
        monitoring_views.monitoring_index, call.registry, call.viewer.key
    )
    return call.render("monitoring_index.html", page="monitoring", rows=rows)


async def model(call: Call) -> Response:
    data = await asyncio.to_thread(
        monitoring_views.monitoring_view, call.registry, call.params["name"]
    )
    return call.render("monitoring.html", page="monitoring", **data)


async def stream(call: Call) -> None:
    """A ``changed`` event whenever the model's newest run id passes the page's."""
    from shipyard.monitoring.store import MonitorStore

    seen = sse.last_event_id(call.request)
    store = MonitorStore(call.registry.db)
    name = call.params["name"]

    async def tick() -> list[str]:
        nonlocal seen
        newest = await asyncio.to_thread(store.newest_run_id, name)
        if newest <= seen:
            return []
        seen = newest
        return [sse.event("changed", str(newest), newest)]

    await sse.stream(call.request, call.send, tick, poll=STREAM_POLL)


ROUTES = (
    Route(("monitoring",), "GET", index),
    Route(("monitoring", "{name}"), "GET", model, model="name"),
    Route(("monitoring", "{name}", "stream"), "GET", stream, model="name"),
)
