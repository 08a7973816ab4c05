"""The Models, Model and Version pages, and the changes made from them (aliases and tags).

Routes, under the console's prefix::

    GET  /                          -> /models
    GET  /models                    the Models page
    GET  /models/{m}                the Model page (?metric= picks the chart's metric)
    GET  /models/{m}/chart          the chart alone (a fragment for the page's script)
    POST /models/{m}/aliases        set an alias (alias, version)        write
    POST /models/{m}/aliases/delete remove an alias (alias)              write
    GET  /models/{m}/versions/{v}   the Version page
    GET  /models/{m}/versions/{v}/card/{md|html|json}  its model card, to download
    POST /models/{m}/versions/{v}/tags         set a tag (key, value)   write
    POST /models/{m}/versions/{v}/tags/delete  remove a tag (key)       write
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import quote

from shipyard.console import views
from shipyard.console.http import Response
from shipyard.console.routes import Call, Route, field_value, version_number
from shipyard.errors import InvalidInputError, ShipyardError

if TYPE_CHECKING:
    from shipyard.registry.client import Registry

__all__ = ["ROUTES"]


async def home(call: Call) -> Response:
    return Response.redirect(call.url("/models"))


async def models(call: Call) -> Response:
    rows = await asyncio.to_thread(views.models_view, call.registry, call.viewer.key)
    return call.render("models.html", page="models", rows=rows)


async def model(call: Call, error: str = "", status: int = 200) -> Response:
    data = await asyncio.to_thread(
        views.model_view, call.registry, call.params["name"], call.request.query.get("metric")
    )
    return call.render("model.html", page="models", error=error, status=status, **data)


async def chart(call: Call) -> Response:
    data = await asyncio.to_thread(
        views.metric_chart, call.registry, call.params["name"], call.request.query.get("metric")
    )
    return call.render("_chart.html", **data)


async def version(call: Call) -> Response:
    number = version_number("version", call.params["number"])
    data = await asyncio.to_thread(views.version_view, call.registry, call.params["name"], number)
    return call.render("version.html", page="models", **data)


async def card(call: Call) -> Response:
    number = version_number("version", call.params["number"])
    text, kind = await asyncio.to_thread(
        views.card_file, call.registry, call.params["name"], number, call.params["fmt"]
    )
    name = f"{call.params['name']}-{number}.{call.params['fmt']}"
    disposition = "inline" if call.params["fmt"] == "html" else "attachment"
    return Response(
        200,
        text.encode(),
        kind,
        [(b"content-disposition", f'{disposition}; filename="{name}"'.encode())],
    )


async def _act(call: Call, change: Callable[[Registry, dict[str, str]], object]) -> Response:
    """Run one change as the visitor; back to the Model page, or the page with the error."""
    try:
        await asyncio.to_thread(change, call.acting(), call.form)
    except ShipyardError as exc:
        from shipyard.serving.call import status_for

        call.request.query = {}
        return await model(call, str(exc), status_for(exc))
    return Response.redirect(call.url(f"/models/{quote(call.params['name'])}"))


async def set_alias(call: Call) -> Response:
    name = call.params["name"]

    def change(registry: Registry, form: dict[str, str]) -> object:
        alias = field_value(form, "alias")
        return registry.set_alias(
            name, alias, version_number("version", field_value(form, "version"))
        )

    return await _act(call, change)


async def delete_alias(call: Call) -> Response:
    name = call.params["name"]

    def change(registry: Registry, form: dict[str, str]) -> object:
        return registry.delete_alias(name, field_value(form, "alias"))

    return await _act(call, change)


async def set_tag(call: Call) -> Response:
    name, number = call.params["name"], version_number("version", call.params["number"])

    def change(registry: Registry, form: dict[str, str]) -> object:
        key = field_value(form, "key")
        if len(key) > 200:
            raise InvalidInputError("field 'key': a tag key has at most 200 characters")
        registry.set_tag(f"{name}/{number}", key, form.get("value", ""))
        return None

    return await _act(call, change)


async def delete_tag(call: Call) -> Response:
    name, number = call.params["name"], version_number("version", call.params["number"])

    def change(registry: Registry, form: dict[str, str]) -> object:
        registry.delete_tag(f"{name}/{number}", field_value(form, "key"))
        return None

    return await _act(call, change)


_M = "{name}"
ROUTES = (
    Route((), "GET", home),
    Route(("models",), "GET", models),
    Route(("models", _M), "GET", model, model="name"),
    Route(("models", _M, "chart"), "GET", chart, model="name"),
    Route(("models", _M, "aliases"), "POST", set_alias, acts=True, model="name"),
    Route(("models", _M, "aliases", "delete"), "POST", delete_alias, acts=True, model="name"),
    Route(("models", _M, "versions", "{number}"), "GET", version, model="name"),
    Route(("models", _M, "versions", "{number}", "card", "{fmt}"), "GET", card, model="name"),
    Route(("models", _M, "versions", "{number}", "tags"), "POST", set_tag, acts=True, model="name"),
    Route(
        ("models", _M, "versions", "{number}", "tags", "delete"),
        "POST",
        delete_tag,
        acts=True,
        model="name",
    ),
)
