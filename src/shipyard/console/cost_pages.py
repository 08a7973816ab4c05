"""The Cost page: per model and version, what serving cost on OpenCost's two bases.

Routes, under the console's prefix::

    GET /cost     every model the key reaches, per version: predictions, inference CPU-seconds,
                  memory (the load footprint), dollars on the usage and allocation bases, the
                  idle share, and cost per 1,000 predictions (?since=24h|7d|30d|all)

The figures are the ones ``shipyard monitor report`` prints: :meth:`UsageStore.report` over
the usage every server replica flushes to the registry, at the settings' prices.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from shipyard.console.http import Response
from shipyard.console.routes import Call, Route
from shipyard.errors import InvalidInputError

if TYPE_CHECKING:
    from shipyard.registry.client import Registry
    from shipyard.registry.keys import ApiKey

__all__ = ["ROUTES", "WINDOWS", "cost_view"]

WINDOWS: dict[str, timedelta | None] = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "all": None,
}
"""The windows the page offers (``?since=``), the first the default."""


def cost_view(registry: Registry, key: ApiKey | None, since: str = "24h") -> dict[str, Any]:
    """The Cost page's data: each model the key reaches with its metered use in the window."""
    from shipyard.monitoring.cost import Prices
    from shipyard.monitoring.usage_store import UsageStore

    if since not in WINDOWS:
        raise InvalidInputError(f"field 'since' must be one of {', '.join(WINDOWS)}, got {since!r}")
    span = WINDOWS[since]
    start = None if span is None else datetime.now(UTC) - span
    prices = Prices.of(registry.settings)
    store = UsageStore(registry.db)
    models = []
    idle = []
    for model in registry.list_models():
        if key is not None and not key.reaches((model.name,)):
            continue
        report = store.report(model.name, prices, since=start)
        if report["versions"]:
            for entry in (*report["versions"], report["total"]):
                entry["shown"] = _shown(entry)
            models.append({"name": model.name, **report})
        else:
            idle.append(model.name)
    return {
        "models": models,
        "unmetered": idle,
        "prices": {"vcpu_hour": prices.vcpu_hour, "gib_hour": prices.gib_hour},
        "since": since,
        "windows": list(WINDOWS),
    }


def _shown(entry: dict[str, Any]) -> dict[str, str]:
    """The entry's dollar figures as the page shows them (three significant digits)."""
    from shipyard.monitoring.cost import dollars

    per_1k = entry["per_1k_predictions"]
    return {
        "usage": dollars(entry["usage_dollars"]),
        "allocation": dollars(entry["allocation_dollars"]),
        "per_1k_usage": dollars(per_1k["usage"]),
        "per_1k_allocation": dollars(per_1k["allocation"]),
    }


async def cost(call: Call) -> Response:
    since = call.request.query.get("since", "24h").strip() or "24h"
    view = await asyncio.to_thread(cost_view, call.registry, call.viewer.key, since)
    return call.render("cost.html", page="cost", cost=view)


ROUTES = (Route(("cost",), "GET", cost),)
