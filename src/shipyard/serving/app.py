"""The server as a bare ASGI application: a dict router, orjson, and nothing else on the hot path.

One request, as data: body bytes -> the V2 codec (columns) -> :func:`validate_columns` (a
:class:`Frame`) -> the endpoint's :class:`ModelHost` -> its :class:`Predictor`, off the event
loop -> :class:`Outputs` -> the same codec -> response bytes.

This is the one place where errors become HTTP statuses (:data:`STATUS`, looked up along the
exception's class hierarchy). Bad input is a 4xx; anything unexpected is logged with its
traceback and answered ``500 {"error": "internal error"}`` with the request id, never the trace.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shipyard.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    ShipyardError,
    SignatureError,
    StoreError,
)
from shipyard.serving.frame import validate_columns
from shipyard.serving.hosts import ModelHost
from shipyard.serving.predictor import PROBABILITIES, Predictor
from shipyard.serving.protocols import v2

__all__ = ["STATUS", "ServingApp", "new_request_id"]

log = logging.getLogger("shipyard.serving")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

STATUS: dict[type[BaseException], int] = {
    SignatureError: 422,
    InvalidInputError: 400,
    NotFoundError: 404,
    ConflictError: 409,
    StoreError: 503,
}
MAX_BODY_BYTES = 10 * 1024 * 1024
_SAFE_ID = re.compile(r"[\x21-\x7e]{1,128}")
_JSON = (b"content-type", b"application/json")


def new_request_id() -> str:
    """A time-ordered id: 48 bits of milliseconds since the epoch, then 80 random bits (hex)."""
    return f"{time.time_ns() // 1_000_000:012x}{random.getrandbits(80):020x}"


def status_for(exc: BaseException) -> int:
    for cls in type(exc).__mro__:
        status = STATUS.get(cls)
        if status is not None:
            return status
    return 500


class _Reply(Exception):
    """An answer decided before the handler finished (404, 405, 413, 503)."""

    def __init__(self, status: int, message: str, headers: Headers | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or []


class _Disconnected(Exception):
    """The client went away while sending its body: there is no one to answer."""


class _Call:
    """One request's state, handed to a handler."""

    __slots__ = ("content_length", "headers", "host", "receive", "request_id", "version")

    def __init__(self, receive: Receive) -> None:
        self.receive = receive
        self.host: ModelHost | None = None
        self.version: int | None = None
        self.request_id: str | None = None
        self.content_length: bytes | None = None
        self.headers: Headers = []  # extra response headers


Result = tuple[int, bytes]
Handler = Callable[[_Call], Awaitable[Result]]


class ServingApp:
    """The ASGI application over a set of :class:`ModelHost`, keyed by endpoint name."""

    def __init__(
        self,
        hosts: Mapping[str, ModelHost],
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        workers: int = 4,
        server_version: str = "",
    ) -> None:
        self.hosts = dict(hosts)
        self.max_body_bytes = max_body_bytes
        self.workers = workers
        self.server_version = server_version or _package_version()
        self._tasks: list[asyncio.Task[None]] = []
        self._executor: ThreadPoolExecutor | None = None
        self._routes: dict[str, dict[str, Handler]] = {
            "/v2": {"GET": self._server_metadata},
            "/v2/health/live": {"GET": self._live},
            "/v2/health/ready": {"GET": self._server_ready},
        }
        self._model_routes: dict[tuple[str, ...], dict[str, Handler]] = {
            (): {"GET": self._model_metadata},
            ("ready",): {"GET": self._model_ready},
            ("infer",): {"POST": self._infer},
        }

    @property
    def ready(self) -> bool:
        return all(host.ready for host in self.hosts.values())

    # -- ASGI ---------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1000})

    async def startup(self) -> None:
        """Start loading every host in the background; readiness turns true when all are."""
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="shipyard-predict")
        for host in self.hosts.values():
            host.executor = self._executor
            self._tasks.append(asyncio.create_task(host.run(), name=f"host-{host.name}"))

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        call = _Call(receive)
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                text = value.decode("latin-1")
                call.request_id = text if _SAFE_ID.fullmatch(text) else None
            elif key == b"content-length":
                call.content_length = value
        try:
            handler = self._route(scope["method"], scope["path"], call)
            status, body = await handler(call)
        except _Disconnected:
            return
        except _Reply as reply:
            status, body = reply.status, v2.encode_error(str(reply))
            call.headers.extend(reply.headers)
        except ShipyardError as exc:
            status, body = status_for(exc), v2.encode_error(str(exc))
        except Exception:
            call.request_id = call.request_id or new_request_id()
            log.exception(
                "request %s: %s %s failed", call.request_id, scope["method"], scope["path"]
            )
            status, body = 500, v2.encode_error("internal error")
        headers = [
            _JSON,
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", (call.request_id or new_request_id()).encode()),
            *call.headers,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _route(self, method: str, path: str, call: _Call) -> Handler:
        methods = self._routes.get(path)
        if methods is None:
            parts = path.split("/")
            if len(parts) < 4 or parts[1] != "v2" or parts[2] != "models":
                raise _Reply(404, f"no route {path}; the V2 routes start with /v2")
            rest = tuple(parts[4:])
            if rest[:1] == ("versions",) and len(rest) >= 2:
                if not rest[1].isdigit() or int(rest[1]) < 1:
                    raise _Reply(404, f"no version {rest[1]!r}: versions are positive integers")
                call.version, rest = int(rest[1]), rest[2:]
            methods = self._model_routes.get(rest)
            if methods is None:
                raise _Reply(404, f"no route {path}")
            call.host = self.hosts.get(parts[3])
            if call.host is None:
                served = ", ".join(sorted(self.hosts)) or "none"
                raise _Reply(404, f"no model named {parts[3]!r} is served (served: {served})")
        handler = methods.get(method)
        if handler is None:
            allow = ", ".join(methods)
            raise _Reply(
                405, f"{method} is not allowed on {path}; use {allow}", [(b"allow", allow.encode())]
            )
        return handler

    async def _body(self, call: _Call) -> bytes:
        """The request body; 413 past the limit, whatever Content-Length claimed."""
        limit = self.max_body_bytes
        declared = call.content_length
        if declared is not None:
            if not declared.isdigit():
                raise InvalidInputError(f"invalid Content-Length {declared.decode('latin-1')!r}")
            if int(declared) > limit:
                raise _too_large(limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await call.receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            if not message.get("more_body", False):
                if not chunks:
                    return bytes(chunk)
                chunks.append(chunk)
                return b"".join(chunks)
            chunks.append(chunk)

    # -- handlers -----------------------------------------------------------------------------

    async def _server_metadata(self, call: _Call) -> Result:
        return 200, v2.server_metadata(self.server_version)

    async def _live(self, call: _Call) -> Result:
        return 200, b'{"live":true}'

    async def _server_ready(self, call: _Call) -> Result:
        if self.ready:
            return 200, b'{"ready":true}'
        waiting = sorted(name for name, host in self.hosts.items() if not host.ready)
        raise _Reply(503, f"not ready: still loading {', '.join(waiting)}")

    async def _predictor(self, call: _Call) -> Predictor:
        host = call.host
        assert host is not None
        if call.version is not None:
            return await host.pinned(call.version)
        predictor = host.current
        if predictor is None:
            why = f" (last error: {host.error})" if host.error else ""
            raise _Reply(503, f"model {host.name!r} is not ready yet{why}")
        return predictor

    async def _model_metadata(self, call: _Call) -> Result:
        predictor = await self._predictor(call)
        assert call.host is not None
        return 200, v2.model_metadata(call.host.name, predictor)

    async def _model_ready(self, call: _Call) -> Result:
        await self._predictor(call)
        return 200, b'{"ready":true}'

    async def _infer(self, call: _Call) -> Result:
        host = call.host
        assert host is not None
        predictor = await self._predictor(call)  # held to the end: a swap cannot change it
        body = await self._body(call)
        request = v2.decode_infer(body, predictor.features)
        if call.request_id is None:
            given = request.id
            call.request_id = given if given and _SAFE_ID.fullmatch(given) else new_request_id()
        selected = v2.select_outputs(request.outputs, predictor.output_names)
        frame = validate_columns(predictor.signature, request.columns, call.request_id)
        outputs = await host.infer(predictor, frame, proba=PROBABILITIES in selected)
        version = predictor.version
        call.headers.append((b"x-shipyard-model-version", predictor.ref.encode()))
        answer_id = request.id if request.id is not None else call.request_id
        return 200, v2.encode_infer(host.name, str(version.version), answer_id, outputs, selected)


def _too_large(limit: int) -> _Reply:
    return _Reply(413, f"the request body exceeds the limit of {limit} bytes; send fewer rows")


def _package_version() -> str:
    from shipyard import __version__

    return str(__version__)
