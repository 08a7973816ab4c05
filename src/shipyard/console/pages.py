"""Rendering: the Jinja2 environment, the navigation, and the vendored static files.

:data:`NAV` is the one list of pages in the navigation bar; a page joins it when it works.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from importlib import resources
from typing import TYPE_CHECKING, Any

import jinja2

from shipyard.console.http import Response
from shipyard.console.session import Session, SessionCodec

if TYPE_CHECKING:
    from shipyard.console.routes import Viewer

__all__ = ["NAV", "Renderer"]

NAV: list[tuple[str, str, str]] = [
    ("models", "Models", "/models"),
    ("deployments", "Deployments", "/deployments"),
    ("monitoring", "Monitoring", "/monitoring"),
    ("cost", "Cost", "/cost"),
    ("audit", "Audit", "/audit"),
]
"""(page id, label, path under the prefix) of each page in the navigation, in order."""

_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


class Renderer:
    """Renders the console's templates and serves its static files."""

    def __init__(self, prefix: str, sessions: SessionCodec | None = None) -> None:
        self.prefix = prefix
        self.sessions = sessions
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("shipyard.console", "templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
        )
        self.env.filters["when"] = _when
        self.env.filters["brief"] = _brief
        self.env.filters["pretty"] = _pretty
        self.env.filters["number"] = _number
        self.static_files = _load_static()
        self.env.globals.update(
            prefix=prefix,
            nav=NAV,
            asset=lambda name: f"{prefix}/static/{name}?v={self.static_files[name][1][1:11]}",
        )

    def render(
        self,
        template: str,
        session: Session,
        viewer: Viewer | None,
        *,
        status: int = 200,
        **context: Any,
    ) -> Response:
        csrf = self.sessions.csrf_token(session) if self.sessions else ""
        html = self.env.get_template(template).render(
            csrf=csrf, viewer=viewer, page=context.pop("page", ""), **context
        )
        return Response(status, html.encode())

    def fragment(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**context)

    def login(
        self, session: Session, *, next_url: str, error: str = "", status: int = 200
    ) -> Response:
        return self.render(
            "login.html", session, None, status=status, next_url=next_url, error=error
        )

    def error(self, status: int, message: str, *, session: Session) -> Response:
        return self.render("error.html", session, None, status=status, message=message)

    def static(self, name: str, if_none_match: str | None) -> Response:
        found = self.static_files.get(name)
        if found is None:
            return Response(404, b"no such file", "text/plain")
        body, etag, kind = found
        cache = [(b"cache-control", b"public, max-age=31536000, immutable")]
        if if_none_match == etag:
            return Response(304, b"", kind, [*cache, (b"etag", etag.encode())])
        return Response(200, body, kind, [*cache, (b"etag", etag.encode())])


def _load_static() -> dict[str, tuple[bytes, str, str]]:
    """Every file of ``static/`` with its ETag (a digest, also the cache-busting query)."""
    files = {}
    folder = resources.files("shipyard.console").joinpath("static")
    for entry in folder.iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if entry.is_file() and suffix in _TYPES:
            body = entry.read_bytes()
            etag = hashlib.sha256(body).hexdigest()[:32]
            files[entry.name] = (body, f'"{etag}"', _TYPES[suffix])
    return files


def _when(value: datetime | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _brief(value: Any, width: int = 80) -> str:
    if value is None:
        return "-"
    text = (
        ", ".join(f"{k}={_brief(v)}" for k, v in value.items())
        if isinstance(value, dict)
        else str(value)
    )
    return text if len(text) <= width else text[: width - 1] + "…"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)
