"""The console as an ASGI application: routes, login, CSRF, and the pages' rendering.

Mounted by the server at ``/ui`` (and run alone by ``shipyard ui``). Pages are server-rendered
Jinja2 over :mod:`shipyard.console.views`, which reads the registry the way the CLI does; every
change goes through the same :class:`Registry` call the CLI makes, with the API key's name as
the audit actor.

Who may do what, with the server's API keys: when authentication is enforced (a key exists, or
the server binds beyond loopback), a visitor logs in with a key (``read`` to view, ``write`` to
act; a key restricted to some models sees only those). The session cookie names the key by id,
never holds the token, and is re-checked on each request (cached ``auth_ttl`` seconds), so a
revoked key is shut out within seconds. With authentication off, the console is open and acts
as the registry's configured actor, exactly like the loopback server's management API.

Routes, under the prefix: ``GET /login``, ``POST /login``, ``POST /logout`` and
``GET /static/{file}`` (the vendored CSS and script) here; each page module lists its own
(:data:`ROUTES` joins them): :mod:`~shipyard.console.model_pages`,
:mod:`~shipyard.console.deployment_pages`, :mod:`~shipyard.console.monitoring_pages`,
:mod:`~shipyard.console.cost_pages`, :mod:`~shipyard.console.audit_pages`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from shipyard.console import (
    audit_pages,
    cost_pages,
    deployment_pages,
    model_pages,
    monitoring_pages,
)
from shipyard.console.http import Receive, Request, Response, Scope, Send
from shipyard.console.pages import Renderer
from shipyard.console.routes import Call, Refused, Route, Viewer, match
from shipyard.console.session import COOKIE, Session, SessionCodec
from shipyard.errors import NotFoundError, ShipyardError
from shipyard.registry.keys import READ, ApiKey, KeyStore
from shipyard.serving.auth import Authenticator, Denied

if TYPE_CHECKING:
    from shipyard.registry.client import Registry
    from shipyard.serving.app import ServingApp

__all__ = ["ROUTES", "ConsoleApp", "Viewer", "console_app"]

log = logging.getLogger("shipyard.console")

ROUTES: tuple[Route, ...] = (
    *model_pages.ROUTES,
    *deployment_pages.ROUTES,
    *monitoring_pages.ROUTES,
    *cost_pages.ROUTES,
    *audit_pages.ROUTES,
)
"""Every page's routes, in one table."""


def console_app(
    registry: Registry,
    *,
    auth_required: bool,
    prefix: str = "/ui",
    secret: bytes | None = None,
    auth_ttl: float = 5.0,
) -> ConsoleApp:
    """The console over ``registry``, answering paths under ``prefix``.

    ``auth_required`` asks for a key even while none exists (the server binds beyond loopback);
    otherwise a key is asked for once any exists. ``secret`` signs session cookies (default: a
    random one per process, so restarting logs everyone out)."""
    return ConsoleApp(
        registry, auth_required=auth_required, prefix=prefix, secret=secret, auth_ttl=auth_ttl
    )


class ConsoleApp:
    """The console's ASGI application over one registry."""

    def __init__(
        self,
        registry: Registry,
        *,
        auth_required: bool,
        prefix: str = "/ui",
        secret: bytes | None = None,
        auth_ttl: float = 5.0,
    ) -> None:
        self.registry = registry
        self.prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
        self.keys = KeyStore(registry.db)
        self.auth = Authenticator.for_store(self.keys, required=auth_required, ttl=auth_ttl)
        self.sessions = SessionCodec(secret)
        self.pages = Renderer(self.prefix, self.sessions)
        self.auth_ttl = auth_ttl
        self._key_cache: dict[str, tuple[float, ApiKey | None]] = {}
        self.serving: ServingApp | None = None

    def attach(self, serving: ServingApp) -> None:
        """Show ``serving``'s live figures (its hosts and metrics) on the pages that have them;
        the server calls this when it mounts the console. Run alone, the console has none."""
        self.serving = serving

    # -- ASGI ---------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # run alone (shipyard ui): nothing to start or stop
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        rel = path[len(self.prefix) :] if path.startswith(self.prefix) else None
        if rel is None or (rel and not rel.startswith("/")):
            await Response(404, b"not found", "text/plain").send(send)
            return
        request = Request(scope, receive, rel or "/")
        accept = request.header("accept-encoding") or ""
        head = request.method == "HEAD"
        if head:
            request.method = "GET"
        response, session = await self._answer(request, send)
        if response is None:  # a stream that answered by itself
            return
        if session is not None:
            response.set_cookie(
                COOKIE,
                self.sessions.dump(session),
                path=self.prefix or "/",
                max_age=None,
                secure=request.secure,
            )
        await response.send(send, accept, head=head)

    async def _answer(self, request: Request, send: Send) -> tuple[Response | None, Session | None]:
        """The response, and the session cookie to set (None: keep the browser's)."""
        parts = tuple(p for p in request.path.split("/") if p)
        if parts[:1] == ("static",) and len(parts) == 2:
            return self.pages.static(parts[1], request.header("if-none-match")), None
        now = time.time()
        session = self.sessions.load(request.cookies.get(COOKIE), now)
        fresh = session is None
        if session is None:
            session = self.sessions.new(now)
        try:
            viewer = await self._viewer(session)
            if parts in (("login",), ("logout",)):
                response, issued = await self._login_routes(request, parts[0], session, viewer)
                return response, issued or (session if fresh else None)
            if viewer is None:
                if request.method != "GET":
                    raise Refused(401, "log in with an API key first")
                target = request.path + (
                    "?" + request.scope["query_string"].decode("latin-1")
                    if request.scope.get("query_string")
                    else ""
                )
                return Response.redirect(self._url("/login") + "?" + urlencode({"next": target})), (
                    session if fresh else None
                )
            if request.method == "POST":
                form = await request.form()
                self._check_origin(request)
                if not self.sessions.check_csrf(session, form.get("csrf")):
                    raise Refused(
                        403,
                        "the form's security token is missing or stale; reload the page and "
                        "try again",
                    )
                request.scope["shipyard.form"] = form
            answer = await self._route(parts, request, viewer, session, send)
            if answer is None:  # a stream that answered by itself
                return None, None
            response = answer
        except Refused as exc:
            response = self.pages.error(exc.status, str(exc), session=session)
            if exc.allow:
                response.headers.append((b"allow", exc.allow.encode()))
        except ShipyardError as exc:
            from shipyard.serving.call import status_for

            response = self.pages.error(status_for(exc), str(exc), session=session)
        except Exception:
            log.exception("console: unexpected error on %s %s", request.method, request.path)
            response = self.pages.error(
                500, "internal error (the server log has the details)", session=session
            )
        return response, (session if fresh else None)

    def _url(self, path: str) -> str:
        return self.prefix + path

    # -- who is looking -----------------------------------------------------------------------

    async def _viewer(self, session: Session) -> Viewer | None:
        if not await self.auth.enforced():
            return Viewer(None, self.registry.actor, auth_on=False)
        if session.key_id is None:
            return None
        key = await self._key(session.key_id)
        if key is None or not key.active or not key.allows(READ):
            return None
        return Viewer(key, key.name, auth_on=True)

    async def _key(self, key_id: str) -> ApiKey | None:
        now = time.monotonic()
        cached = self._key_cache.get(key_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            key: ApiKey | None = await asyncio.to_thread(self.keys.get, key_id)
        except NotFoundError:
            key = None
        if len(self._key_cache) > 10_000:
            self._key_cache.clear()
        self._key_cache[key_id] = (now + self.auth_ttl, key)
        return key

    def _check_origin(self, request: Request) -> None:
        """Refuse a POST whose Origin is another site (browsers send it on every POST)."""
        origin = request.header("origin")
        host = request.header("host")
        if origin is None or host is None or origin == "null":
            return
        if origin.split("://", 1)[-1] != host:
            raise Refused(403, f"cross-site form post refused (from {origin})")

    # -- login --------------------------------------------------------------------------------

    async def _login_routes(
        self, request: Request, what: str, session: Session, viewer: Viewer | None
    ) -> tuple[Response, Session | None]:
        """The login and logout answers, and the new session a success starts."""
        if what == "logout":
            if request.method != "POST":
                raise Refused(405, "log out with the button on any page", "POST")
            form = await request.form()
            if not self.sessions.check_csrf(session, form.get("csrf")):
                raise Refused(403, "the form's security token is stale; reload the page")
            return Response.redirect(self._url("/login")), self.sessions.new(time.time())
        next_url = _safe_next(request.query.get("next", ""), self.prefix)
        if request.method == "GET":
            if viewer is not None and (viewer.key is not None or not viewer.auth_on):
                return Response.redirect(self._url(next_url)), None
            return self.pages.login(session, next_url=next_url), None
        if request.method != "POST":
            raise Refused(405, "GET the login form, POST it", "GET, POST")
        form = await request.form()
        self._check_origin(request)
        next_url = _safe_next(form.get("next", ""), self.prefix)
        error, status = "", 200
        token = form.get("token", "").strip()
        if not self.sessions.check_csrf(session, form.get("csrf")):
            error, status = "the login form expired; try again", 403
        elif not token:
            error = "field 'token': paste an API key (create one with: shipyard keys create)"
            status = 400
        if error:
            return self.pages.login(session, next_url=next_url, error=error, status=status), None
        try:
            key = await self.auth.authenticate(b"Bearer " + token.encode(), READ, None)
        except Denied as exc:
            page = self.pages.login(session, next_url=next_url, error=str(exc), status=exc.status)
            return page, None
        if key is None:  # authentication is off: nothing to log in to
            return Response.redirect(self._url(next_url)), None
        self._key_cache.pop(key.key_id, None)
        return Response.redirect(self._url(next_url)), self.sessions.new(time.time(), key.key_id)

    # -- pages --------------------------------------------------------------------------------

    async def _route(
        self, parts: tuple[str, ...], request: Request, viewer: Viewer, session: Session, send: Send
    ) -> Response | None:
        route, params = match(ROUTES, parts, request.method, self.prefix + request.path)
        if route.model is not None and not viewer.reaches(params[route.model]):
            raise Refused(403, f"your API key may not see model {params[route.model]!r}")
        if route.acts and not viewer.can_write:
            raise Refused(
                403,
                "your API key can only read; changes need a key with the 'write' scope",
            )
        return await route.handler(Call(self, request, viewer, session, send, params))


def _safe_next(target: str, prefix: str) -> str:
    """A same-console path to return to (relative to the prefix); anything else is /models."""
    if target.startswith(prefix + "/"):
        target = target[len(prefix) :]
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/models"
    if target.split("?", 1)[0] in ("/login", "/logout"):
        return "/models"
    return target
