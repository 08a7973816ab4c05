"""The Monitoring pages: every model's health, and one model's drift, quality, performance and
alerts from the monitor's recorded runs.

Routes, under the console's prefix::

    GET /monitoring          every model the key reaches: its last run, drift, alerts firing
    GET /monitoring/{m}      one model: drift per feature over time against its threshold,
                             drifted features' distributions over the reference, data quality,
                             performance against registration, alerts firing and resolved
"""

from __future__ import annotations

import asyncio

from shipyard.console import monitoring_views
from shipyard.console.http import Response
from shipyard.console.routes import Call, Route

__all__ = ["ROUTES"]


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


ROUTES = (
    Route(("monitoring",), "GET", index),
    Route(("monitoring", "{name}"), "GET", model, model="name"),
)
