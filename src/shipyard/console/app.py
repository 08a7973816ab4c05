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

Routes, under the prefix::

    GET  /                          -> /models
    GET  /login  POST /login  POST /logout
    GET  /models                    the Models page
    GET  /models/{m}                the Model page (?metric= picks the chart's metric)
    GET  /models/{m}/chart          the chart alone (a fragment for the page's script)
    POST /models/{m}/aliases        set an alias (alias, version)        write
    POST /models/{m}/aliases/delete remove an alias (alias)              write
    GET  /models/{m}/versions/{v}   the Version page
    POST /models/{m}/versions/{v}/tags         set a tag (key, value)   write
    POST /models/{m}/versions/{v}/tags/delete  remove a tag (key)       write
    GET  /audit                     the Audit page (?subject= &actor= &action=)
    POST /audit/verify              verify the chain and show the result
    GET  /audit/stream              server-sent events: new audit entries (?after=SEQ &subject=)
    GET  /static/{file}             the vendored CSS and script
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from shipyard.console import views
from shipyard.console.http import Receive, Request, Response, Scope, Send
from shipyard.console.pages import Renderer
from shipyard.console.session import COOKIE, Session, SessionCodec
from shipyard.errors import InvalidInputError, NotFoundError, ShipyardError
from shipyard.registry.keys import READ, WRITE, ApiKey, KeyStore
from shipyard.serving.auth import Authenticator, Denied

if TYPE_CHECKING:
    from shipyard.registry.client import Registry

__all__ = ["ConsoleApp", "console_app"]

log = logging.getLogger("shipyard.console")

STREAM_SECONDS = 300.0
"""How long one event stream stays open; the browser's EventSource then reconnects."""
STREAM_POLL = 1.0
"""Seconds between the stream's looks at the audit log."""


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


class _Refused(Exception):
    def __init__(self, status: int, message: str, allow: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.allow = allow


Handler = Callable[[Request, Viewer, Session], Awaitable[Response]]


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
                    raise _Refused(401, "log in with an API key first")
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
                    raise _Refused(
                        403,
                        "the form's security token is missing or stale; reload the page and "
                        "try again",
                    )
                request.scope["shipyard.form"] = form
            if parts == ("audit", "stream") and request.method == "GET":
                await self._stream(request, viewer, send)
                return None, None
            response = await self._route(parts, request, viewer, session)
        except _Refused as exc:
            response = self.pages.error(exc.status, str(exc), session=session)
            if exc.allow:
                response.headers.append((b"allow", exc.allow.encode()))
        except ShipyardError as exc:
            from shipyard.serving.app import status_for

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
            raise _Refused(403, f"cross-site form post refused (from {origin})")

    # -- login --------------------------------------------------------------------------------

    async def _login_routes(
        self, request: Request, what: str, session: Session, viewer: Viewer | None
    ) -> tuple[Response, Session | None]:
        """The login and logout answers, and the new session a success starts."""
        if what == "logout":
            if request.method != "POST":
                raise _Refused(405, "log out with the button on any page", "POST")
            form = await request.form()
            if not self.sessions.check_csrf(session, form.get("csrf")):
                raise _Refused(403, "the form's security token is stale; reload the page")
            return Response.redirect(self._url("/login")), self.sessions.new(time.time())
        next_url = _safe_next(request.query.get("next", ""), self.prefix)
        if request.method == "GET":
            if viewer is not None and (viewer.key is not None or not viewer.auth_on):
                return Response.redirect(self._url(next_url)), None
            return self.pages.login(session, next_url=next_url), None
        if request.method != "POST":
            raise _Refused(405, "GET the login form, POST it", "GET, POST")
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
        self, parts: tuple[str, ...], request: Request, viewer: Viewer, session: Session
    ) -> Response:
        handler: Handler
        match parts:
            case ():
                allow, handler = "GET", self._home
            case ("models",):
                allow, handler = "GET", self._models
            case ("models", name):
                allow, handler = "GET", self._with(self._model, name)
            case ("models", name, "chart"):
                allow, handler = "GET", self._with(self._chart, name)
            case ("models", name, "aliases"):
                allow, handler = "POST", self._with(self._set_alias, name)
            case ("models", name, "aliases", "delete"):
                allow, handler = "POST", self._with(self._delete_alias, name)
            case ("models", name, "versions", number):
                allow, handler = "GET", self._with(self._version, name, number)
            case ("models", name, "versions", number, "tags"):
                allow, handler = "POST", self._with(self._set_tag, name, number)
            case ("models", name, "versions", number, "tags", "delete"):
                allow, handler = "POST", self._with(self._delete_tag, name, number)
            case ("audit",):
                allow, handler = "GET", self._audit
            case ("audit", "verify"):
                allow, handler = "POST", self._verify
            case _:
                raise _Refused(404, f"no page {self.prefix}{request.path}")
        if request.method != allow:
            raise _Refused(405, f"{request.method} is not allowed here; use {allow}", allow)
        if len(parts) >= 2 and parts[0] == "models" and not viewer.reaches(parts[1]):
            raise _Refused(403, f"your API key may not see model {parts[1]!r}")
        if allow == "POST" and parts[0] == "models" and not viewer.can_write:
            raise _Refused(
                403,
                "your API key can only read; changes need a key with the 'write' scope",
            )
        return await handler(request, viewer, session)

    @staticmethod
    def _with(method: Callable[..., Awaitable[Response]], *args: str) -> Handler:
        async def bound(request: Request, viewer: Viewer, session: Session) -> Response:
            return await method(request, viewer, session, *args)

        return bound

    async def _home(self, request: Request, viewer: Viewer, session: Session) -> Response:
        return Response.redirect(self._url("/models"))

    async def _models(self, request: Request, viewer: Viewer, session: Session) -> Response:
        rows = await asyncio.to_thread(views.models_view, self.registry, viewer.key)
        return self.pages.render("models.html", session, viewer, page="models", rows=rows)

    async def _model(
        self,
        request: Request,
        viewer: Viewer,
        session: Session,
        name: str,
        error: str = "",
        status: int = 200,
    ) -> Response:
        data = await asyncio.to_thread(
            views.model_view, self.registry, name, request.query.get("metric")
        )
        return self.pages.render(
            "model.html", session, viewer, page="models", error=error, status=status, **data
        )

    async def _chart(
        self, request: Request, viewer: Viewer, session: Session, name: str
    ) -> Response:
        data = await asyncio.to_thread(
            views.metric_chart, self.registry, name, request.query.get("metric")
        )
        return self.pages.render("_chart.html", session, viewer, **data)

    async def _version(
        self, request: Request, viewer: Viewer, session: Session, name: str, number: str
    ) -> Response:
        data = await asyncio.to_thread(
            views.version_view, self.registry, name, _number("version", number)
        )
        return self.pages.render("version.html", session, viewer, page="models", **data)

    async def _act(
        self,
        request: Request,
        viewer: Viewer,
        session: Session,
        name: str,
        change: Callable[[Registry, dict[str, str]], object],
    ) -> Response:
        """Run one change as the viewer; back to the Model page, or the page with the error."""
        form: dict[str, str] = request.scope["shipyard.form"]
        acting = _acting_as(self.registry, viewer.actor)
        try:
            await asyncio.to_thread(change, acting, form)
        except ShipyardError as exc:
            from shipyard.serving.app import status_for

            request.query = {}
            return await self._model(request, viewer, session, name, str(exc), status_for(exc))
        return Response.redirect(self._url(f"/models/{quote(name)}"))

    async def _set_alias(
        self, request: Request, viewer: Viewer, session: Session, name: str
    ) -> Response:
        def change(registry: Registry, form: dict[str, str]) -> object:
            alias = _field(form, "alias")
            return registry.set_alias(name, alias, _number("version", _field(form, "version")))

        return await self._act(request, viewer, session, name, change)

    async def _delete_alias(
        self, request: Request, viewer: Viewer, session: Session, name: str
    ) -> Response:
        def change(registry: Registry, form: dict[str, str]) -> object:
            return registry.delete_alias(name, _field(form, "alias"))

        return await self._act(request, viewer, session, name, change)

    async def _set_tag(
        self, request: Request, viewer: Viewer, session: Session, name: str, number: str
    ) -> Response:
        def change(registry: Registry, form: dict[str, str]) -> object:
            key = _field(form, "key")
            if len(key) > 200:
                raise InvalidInputError("field 'key': a tag key has at most 200 characters")
            registry.set_tag(f"{name}/{_number('version', number)}", key, form.get("value", ""))
            return None

        return await self._act(request, viewer, session, name, change)

    async def _delete_tag(
        self, request: Request, viewer: Viewer, session: Session, name: str, number: str
    ) -> Response:
        def change(registry: Registry, form: dict[str, str]) -> object:
            registry.delete_tag(f"{name}/{_number('version', number)}", _field(form, "key"))
            return None

        return await self._act(request, viewer, session, name, change)

    async def _audit(
        self,
        request: Request,
        viewer: Viewer,
        session: Session,
        verified: dict[str, Any] | None = None,
    ) -> Response:
        q = request.query
        view = await asyncio.to_thread(
            views.audit_view,
            self.registry,
            viewer.key,
            subject=q.get("subject", "").strip(),
            actor=q.get("actor", "").strip(),
            action=q.get("action", "").strip(),
        )
        return self.pages.render(
            "audit.html", session, viewer, page="audit", audit=view, verified=verified
        )

    async def _verify(self, request: Request, viewer: Viewer, session: Session) -> Response:
        verified = await asyncio.to_thread(views.verify_view, self.registry)
        request.query = {}
        return await self._audit(request, viewer, session, verified)

    # -- live ---------------------------------------------------------------------------------

    async def _stream(self, request: Request, viewer: Viewer, send: Send) -> None:
        """Push new audit entries as server-sent events until the browser leaves (or
        :data:`STREAM_SECONDS` pass; EventSource reconnects, resuming from ``Last-Event-ID``)."""
        last = request.header("last-event-id") or request.query.get("after", "0")
        seq = int(last) if last.isdigit() else 0
        subject = request.query.get("subject", "")
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
        deadline = time.monotonic() + STREAM_SECONDS
        try:
            while not gone.done() and time.monotonic() < deadline:
                entries = await asyncio.to_thread(views.audit_after, self.registry, seq, viewer.key)
                chunks = []
                for entry in entries:
                    seq = entry.seq
                    if subject and views.subject_model(entry.subject) != subject:
                        continue
                    row = self.pages.fragment("_audit_row.html", e=entry).replace("\n", " ")
                    chunks.append(f"id: {entry.seq}\nevent: audit\ndata: {row}\n\n")
                if not chunks:
                    chunks.append(f"id: {seq}\n: idle\n\n")  # a comment: keeps the line alive
                await send(
                    {
                        "type": "http.response.body",
                        "body": "".join(chunks).encode(),
                        "more_body": True,
                    }
                )
                await asyncio.wait([gone], timeout=STREAM_POLL)
        finally:
            gone.cancel()
        if not gone.cancelled() and gone.done():
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _acting_as(registry: Registry, actor: str) -> Registry:
    """The registry with ``actor`` as the audit actor: a shallow copy sharing its database
    and artifact store, so the change goes through the very same :class:`Registry` method."""
    acting = copy.copy(registry)
    acting.settings = registry.settings.replace(actor=actor)
    return acting


def _field(form: dict[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise InvalidInputError(f"field {name!r} is required")
    return value


def _number(field: str, text: str) -> int:
    text = text.strip().removeprefix("v")
    if not text.isdigit() or int(text) < 1:
        raise InvalidInputError(f"field {field!r} must be a version number such as 3, got {text!r}")
    return int(text)


def _safe_next(target: str, prefix: str) -> str:
    """A same-console path to return to (relative to the prefix); anything else is /models."""
    if target.startswith(prefix + "/"):
        target = target[len(prefix) :]
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/models"
    if target.split("?", 1)[0] in ("/login", "/logout"):
        return "/models"
    return target
