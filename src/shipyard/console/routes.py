"""The console's routing: who is looking, what a page handler receives, and one route table.

Each page module (``model_pages``, ``audit_pages``, ...) lists its :class:`Route` values in a
``ROUTES`` tuple; :mod:`shipyard.console.app` joins them into one table and checks, once for
every route, the method, the ``write`` scope of a route that acts, and the model restriction of
the visitor's key. A handler gets a :class:`Call` and returns a :class:`Response` (or None when
it answered by itself, as an event stream does).
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from shipyard.console.http import Request, Response, Send
from shipyard.errors import InvalidInputError
from shipyard.registry.keys import WRITE, ApiKey

if TYPE_CHECKING:
    from shipyard.console.app import ConsoleApp
    from shipyard.console.session import Session
    from shipyard.registry.client import Registry

__all__ = ["Call", "Refused", "Route", "Viewer", "field_value", "match", "version_number"]


@dataclass(frozen=True)
class Viewer:
    """Who is looking: their key (None when authentication is off) and what they may do."""

    key: ApiKey | None
    actor: str
    auth_on: bool

    @property
    def can_write(self) -> bool:
        return self.key is None or self.key.allows(WRITE)

    def reaches(self, model: str) -> bool:
        return self.key is None or self.key.reaches((model,))


class Refused(Exception):
    """A request the console turns down: its status, the message shown, and the methods a 405
    allows."""

    def __init__(self, status: int, message: str, allow: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.allow = allow


@dataclass
class Call:
    """One routed request: the console, the request, the visitor, and the path's parameters."""

    console: ConsoleApp
    request: Request
    viewer: Viewer
    session: Session
    send: Send
    params: dict[str, str] = field(default_factory=dict)

    @property
    def registry(self) -> Registry:
        return self.console.registry

    @property
    def form(self) -> dict[str, str]:
        """The posted form (read and CSRF-checked before the handler runs)."""
        form: dict[str, str] = self.request.scope.get("shipyard.form", {})
        return form

    def url(self, path: str) -> str:
        return self.console.prefix + path

    def render(self, template: str, *, status: int = 200, **context: Any) -> Response:
        return self.console.pages.render(
            template, self.session, self.viewer, status=status, **context
        )

    def acting(self) -> Registry:
        """The registry with the visitor as the audit actor: a shallow copy sharing its
        database and artifact store, so a change goes through the very same Registry method
        the CLI calls."""
        acting = copy.copy(self.registry)
        acting.settings = self.registry.settings.replace(actor=self.viewer.actor)
        return acting


Handler = Callable[[Call], Awaitable[Response | None]]


@dataclass(frozen=True)
class Route:
    """``pattern``: path segments, ``{name}`` capturing one. ``acts``: the route changes
    something, so it needs the ``write`` scope. ``model``: the parameter naming a model the
    visitor's key must reach."""

    pattern: tuple[str, ...]
    method: str
    handler: Handler
    acts: bool = False
    model: str | None = None

    def bind(self, parts: Sequence[str]) -> dict[str, str] | None:
        if len(parts) != len(self.pattern):
            return None
        params = {}
        for want, got in zip(self.pattern, parts, strict=True):
            if want.startswith("{") and want.endswith("}"):
                params[want[1:-1]] = got
            elif want != got:
                return None
        return params


def match(
    routes: Sequence[Route], parts: Sequence[str], method: str, shown: str
) -> tuple[Route, dict[str, str]]:
    """The route for ``method`` at ``parts`` and its parameters; :class:`Refused` 404 (naming
    ``shown``, the path as the visitor typed it) when no route has that path, 405 (with the
    allowed methods) when none takes that method."""
    allowed = []
    for route in routes:
        params = route.bind(parts)
        if params is None:
            continue
        if route.method == method:
            return route, params
        allowed.append(route.method)
    if not allowed:
        raise Refused(404, f"no page {shown}")
    allow = ", ".join(sorted(set(allowed)))
    raise Refused(405, f"{method} is not allowed here; use {allow}", allow)


def field_value(form: dict[str, str], name: str) -> str:
    """A required form field, stripped; :class:`InvalidInputError` naming it when empty."""
    value = form.get(name, "").strip()
    if not value:
        raise InvalidInputError(f"field {name!r} is required")
    return value


def version_number(field_name: str, text: str) -> int:
    """A version number from a form field or path (``3`` or ``v3``)."""
    text = text.strip().removeprefix("v")
    if not text.isdigit() or int(text) < 1:
        raise InvalidInputError(
            f"field {field_name!r} must be a version number such as 3, got {text!r}"
        )
    return int(text)
