"""The Deployments and Deployment pages: traffic split, live figures, and the rollout's
promote / rollback / pause / resume.

Routes, under the console's prefix::

    GET  /deployments                   every endpoint: model, variants and weights, rollout
    GET  /deployments/{e}               one endpoint: split, live figures, the rollout
    GET  /deployments/{e}/stream        server-sent events: ``figures`` about once a second,
                                        ``rollout`` when the rollout changed
    GET  /deployments/{e}/{action}      the confirmation page of an action      write
    POST /deployments/{e}/{action}      do it (``confirm=yes``)                  write

An action goes through :func:`shipyard.rollouts.controller.act`, the call ``shipyard rollout
ACTION`` makes, with the visitor as the audit actor. Live figures come from the server the
console is attached to (:meth:`ConsoleApp.attach`); run alone (``shipyard ui``) the page says
they need ``shipyard serve``.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shipyard.console import deployment_views as dv
from shipyard.console import live as lv
from shipyard.console import sse
from shipyard.console.http import Response
from shipyard.console.routes import Call, Refused, Route
from shipyard.errors import ShipyardError

if TYPE_CHECKING:
    from shipyard.serving.hosts import ModelHost
    from shipyard.serving.metrics import Metrics

__all__ = ["ROUTES", "STREAM_POLL"]

STREAM_POLL = 1.0
"""Seconds between two events of the live stream."""

_LIVE: weakref.WeakKeyDictionary[Metrics, dict[str, lv.LiveSeries]] = weakref.WeakKeyDictionary()


def _live(call: Call, endpoint: str) -> lv.LiveSeries | None:
    """The endpoint's live series on the attached server (None when there is none, or it does
    not serve the endpoint)."""
    serving = call.console.serving
    if serving is None or endpoint not in serving.hosts:
        return None
    series = _LIVE.setdefault(serving.metrics, {})
    found = series.get(endpoint)
    if found is None:
        found = series[endpoint] = lv.LiveSeries(serving.metrics.duration_buckets)
    return found


def _host(call: Call, endpoint: str) -> ModelHost | None:
    serving = call.console.serving
    return None if serving is None else serving.hosts.get(endpoint)


async def _reach(call: Call) -> str:
    """The endpoint's name, once the visitor's key may see its model (403 otherwise)."""
    name = call.params["endpoint"]
    model = await asyncio.to_thread(dv.endpoint_model, call.registry, name)
    if not call.viewer.reaches(model):
        raise Refused(403, f"your API key may not see model {model!r} (endpoint {name!r})")
    return name


async def deployments(call: Call) -> Response:
    serving = call.console.serving
    rows = await asyncio.to_thread(
        dv.deployments_view,
        call.registry,
        call.viewer.key,
        None if serving is None else serving.hosts,
    )
    return call.render(
        "deployments.html", page="deployments", rows=rows, attached=serving is not None
    )


async def deployment(call: Call, error: str = "", status: int = 200) -> Response:
    name = await _reach(call)
    data = await asyncio.to_thread(dv.deployment_view, call.registry, name, _host(call, name))
    live = _live(call, name)
    figures: dict[str, lv.Figures] = {}
    history: list[dict[str, Any]] = []
    after = 0
    if live is not None:
        assert call.console.serving is not None
        totals = call.console.serving.metrics.variant_totals(name)
        live.sample(totals, time.time())
        latest = live.latest
        figures = latest.variants if latest else lv.since_start(totals, live.bounds)
        history = [p.to_dict() for p in live.points]
        after = latest.id if latest else 0  # the stream goes on from there
    done = call.request.query.get("done", "")
    return call.render(
        "deployment.html",
        page="deployments",
        status=status,
        error=error,
        done=done if done in dv.ACTIONS else "",
        attached=call.console.serving is not None,
        live=live is not None,
        figures=figures,
        history=json.dumps({"points": history, "window": lv.KEEP_SECONDS}).replace("</", "<\\/"),
        history_window=lv.KEEP_SECONDS,
        after=after,
        actions=dv.ACTIONS,
        **data,
    )


async def stream(call: Call) -> None:
    """``figures`` events (one point each, id = its time in ms) and ``rollout`` events (the
    rollout's status, step and weight, when they change)."""
    name = await _reach(call)
    live = _live(call, name)
    if live is None:
        raise Refused(
            404,
            f"no live figures for endpoint {name!r} here: they come from the server that serves "
            "it (shipyard serve); this console has none, or does not serve it",
        )
    serving = call.console.serving
    assert serving is not None
    last = sse.last_event_id(call.request)  # Last-Event-ID, else ?after=
    shown = call.request.query.get("rollout", "")

    async def tick() -> list[str]:
        nonlocal last, shown
        live.sample(serving.metrics.variant_totals(name), time.time())
        chunks = []
        for point in live.after(last):
            last = point.id
            chunks.append(sse.event("figures", json.dumps(point.to_dict()), point.id))
        state = await asyncio.to_thread(_rollout_state, call, name)
        if state != shown:
            shown = state
            chunks.append(sse.event("rollout", state))
        return chunks

    await sse.stream(call.request, call.send, tick, poll=STREAM_POLL)


def _rollout_state(call: Call, name: str) -> str:
    return dv.rollout_stamp(dv.current_rollout(call.registry, name))


def _action(call: Call) -> str:
    action = call.params["action"]
    if action not in dv.ACTIONS:
        raise Refused(404, f"no action {action!r}; use one of {', '.join(dv.ACTIONS)}")
    return action


async def confirm(call: Call) -> Response:
    """The confirmation page: what the action will do, and the form that does it."""
    action = _action(call)
    name = await _reach(call)
    data = await asyncio.to_thread(dv.deployment_view, call.registry, name, None)
    return call.render(
        "deployment_confirm.html",
        page="deployments",
        action=action,
        what=dv.ACTIONS[action],
        **data,
    )


async def do_action(call: Call) -> Response:
    """Apply the confirmed action as the visitor; back to the Deployment page."""
    action = _action(call)
    name = await _reach(call)
    if call.form.get("confirm") != "yes":
        return await confirm(call)
    from shipyard.rollouts.controller import act

    try:
        await asyncio.to_thread(act, call.acting(), name, action)
    except ShipyardError as exc:
        from shipyard.serving.call import status_for

        call.request.query = {}
        return await deployment(call, str(exc), status_for(exc))
    return Response.redirect(call.url(f"/deployments/{quote(name)}?done={action}"))


_E = "{endpoint}"
ROUTES = (
    Route(("deployments",), "GET", deployments),
    Route(("deployments", _E), "GET", deployment),
    Route(("deployments", _E, "stream"), "GET", stream),
    Route(("deployments", _E, "{action}"), "GET", confirm, acts=True),
    Route(("deployments", _E, "{action}"), "POST", do_action, acts=True),
)
