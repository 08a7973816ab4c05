"""The server as a bare ASGI application: a dict router, orjson, and nothing else on the hot path.

One request, as data: body bytes -> the V2 codec (columns) -> :func:`validate_columns` (a
:class:`Frame`) -> the endpoint's :class:`ModelHost` -> its :class:`Predictor`, off the event
loop -> :class:`Outputs` -> the same codec -> response bytes.

This is the one place where errors become HTTP statuses (:data:`~shipyard.serving.call.STATUS`,
looked up along the exception's class hierarchy; a request's state, :class:`Call`, and the
answers decided early, :class:`Reply`, are in :mod:`shipyard.serving.call`). Bad input is a 4xx; anything unexpected is logged with its
traceback and answered ``500 {"error": "internal error"}`` with the request id, never the trace.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shipyard.errors import (
    InvalidInputError,
    NotFoundError,
    ShipyardError,
)
from shipyard.predlog import PredictionLog, PredictionLogError, ServedRequest
from shipyard.registry.endpoints import MAIN
from shipyard.registry.keys import PREDICT, READ, WRITE, ApiKey
from shipyard.serving.auth import Authenticator, Denied
from shipyard.serving.call import (
    SAFE_ID,
    STATUS,
    Call,
    Disconnected,
    Handler,
    Headers,
    Receive,
    Reply,
    Result,
    Scope,
    Send,
    new_request_id,
    status_for,
)
from shipyard.serving.frame import Frame, validate_columns, validate_matrix
from shipyard.serving.hosts import ModelHost
from shipyard.serving.management import FEEDBACK, ApiError, Management
from shipyard.serving.management import PREFIX as API_PREFIX
from shipyard.serving.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from shipyard.serving.metrics import Metrics, PredlogCounts
from shipyard.serving.predictor import PROBABILITIES, Outputs, Predictor
from shipyard.serving.protocols import mlflow, v1, v2, v2_binary
from shipyard.serving.routing import Route
from shipyard.serving.usage import UsageMeter

__all__ = ["STATUS", "ServingApp", "new_request_id"]

log = logging.getLogger("shipyard.serving")

MAX_BODY_BYTES = 10 * 1024 * 1024
_JSON = (b"content-type", b"application/json")
_EXPLAIN = "/explain"  # /api/v1/models/{name}/explain: answered here, where the models are
_VARIANT = b"x-shipyard-variant"
_MAIN_HEADER = (_VARIANT, MAIN.encode())
_ROUTE_CACHE = 1024  # model routes remembered (only routes that found a model are kept)


class ServingApp:
    """The ASGI application over a set of :class:`ModelHost`, keyed by endpoint name."""

    def __init__(
        self,
        hosts: Mapping[str, ModelHost],
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        workers: int = 4,
        server_version: str = "",
        metrics: Metrics | None = None,
        auth: Authenticator | None = None,
        management: Management | None = None,
        metrics_open: bool = False,
        prediction_log: PredictionLog | None = None,
        background: Sequence[Callable[[ServingApp], Coroutine[Any, Any, None]]] = (),
        console: Callable[[Scope, Receive, Send], Awaitable[None]] | None = None,
        usage: UsageMeter | None = None,
    ) -> None:
        self.hosts = dict(hosts)
        self.usage = usage if usage is not None else UsageMeter()  # CPU, memory: the cost
        self.usage.variant_of = self._variant_of
        self.console = console  # the web console at /ui (it does its own auth), or None
        self.background = tuple(background)  # tasks to run beside the hosts (the rollouts)
        self.max_body_bytes = max_body_bytes
        self.workers = workers
        self.server_version = server_version or _package_version()
        self.metrics = metrics if metrics is not None else Metrics()
        for host in self.hosts.values():
            self._count_batches(host)
        self.auth = auth  # None: no authentication at all (in-process use and tests)
        self.management = management  # None: no /api/v1
        self.prediction_log = prediction_log  # None: predictions are not recorded
        self.predlog_dropped = 0  # buffered records refused by a full log (counted, warned)
        self._predlog_warned = 0.0
        self._open_paths = {"/v2/health/live", "/v2/health/ready", "/ping", "/health"}
        if metrics_open:
            self._open_paths.add("/metrics")
        self._tasks: list[asyncio.Task[None]] = []
        self._executor: ThreadPoolExecutor | None = None
        self._routes: dict[str, dict[str, Handler]] = {
            "/v2": {"GET": self._server_metadata},
            "/v2/health/live": {"GET": self._live},
            "/v2/health/ready": {"GET": self._server_ready},
        }
        self._routes["/metrics"] = {"GET": self._metrics_text}
        self._routes["/v1/models"] = {"GET": self._v1_models}
        self._routes["/invocations"] = {"POST": self._invocations}
        self._routes["/ping"] = {"GET": self._ping}
        self._routes["/health"] = {"GET": self._ping}
        self._routes["/version"] = {"GET": self._version}
        self._routes["/openapi.json"] = {"GET": self._openapi}
        self._routes["/docs"] = {"GET": self._docs}
        self._v1_model_routes: dict[tuple[str, ...], dict[str, Handler]] = {
            (): {"GET": self._v1_model},
            (":predict",): {"POST": self._v1_predict},
            (":explain",): {"POST": self._v1_explain},
        }
        # (method, path) -> what _parse_route found for a model route (the hosts are fixed).
        self._routed_paths: dict[tuple[str, str], tuple[Handler, ModelHost, int | None]] = {}
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
            path = scope["path"]
            if self.console is not None and (path == "/ui" or path.startswith("/ui/")):
                await self.console(scope, receive, send)
                return
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
            host.on_load = functools.partial(self._observe_load, host.name)
            self._tasks.append(asyncio.create_task(host.run(), name=f"host-{host.name}"))
        for job in self.background:
            self._tasks.append(asyncio.create_task(job(self), name="shipyard-background"))

    def _observe_load(
        self, endpoint: str, predictor: Predictor, seconds: float, variant: str
    ) -> None:
        """A version loaded (in a loading thread) for ``variant`` ("" when addressed directly):
        its load-time metric, and the prediction log's per-model settings (sampling, sensitive
        features) from the model's tags."""
        # Everything alive now (libraries, the loaded models) lives as long as the process:
        # out of the collector's sight, a full collection scans only what requests made since,
        # instead of pausing every request for ~100 ms to rescan a million long-lived objects.
        gc.freeze()
        version = predictor.version
        self.metrics.observe_model_load(
            endpoint, version.model, predictor.version_text, variant, seconds
        )
        self.usage.loaded(
            endpoint, predictor, version.model, version.version, predictor.memory_bytes
        )
        configure = getattr(self.prediction_log, "configure_model", None)
        host = self.hosts.get(endpoint)
        if configure is not None and host is not None:
            try:
                configure(version.model, host.registry.get_model(version.model).tags)
            except Exception as exc:  # the log keeps its defaults; serving goes on
                log.warning("prediction log: cannot configure model %s: %s", version.model, exc)

    async def shutdown(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for host in self.hosts.values():
            await host.shadows.drain()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        # uvicorn sends lifespan.shutdown once its connections drained, so every answered
        # request has appended its records by now: write them all before the process exits.
        if self.prediction_log is not None:
            try:
                await self.prediction_log.aclose()
            except PredictionLogError as exc:
                log.error("%s", exc)  # names how many records were not stored
            finally:
                self.prediction_log.store.dispose()

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
        started = time.perf_counter()
        call = Call(receive, started)
        call.request_headers = scope["headers"]
        authorization: bytes | None = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                text = value.decode("latin-1")
                call.request_id = text if SAFE_ID.fullmatch(text) else None
            elif key == b"content-length":
                call.content_length = value
            elif key == b"authorization":
                authorization = value
            elif key == b"inference-header-content-length":
                call.binary_length = value
        method, path = scope["method"], scope["path"]
        flight: tuple[str, ...] | None = None
        try:
            principal = None
            auth = self.auth
            if auth is not None and not auth.off:  # before routing: no key, no map of models
                principal = await self._authorize(method, path, authorization)
            if path.startswith(API_PREFIX) and path.endswith(_EXPLAIN):
                handler = self._api_explain_route(method, path, call)
            elif self.management is not None and path.startswith(API_PREFIX):
                handler = self._management_handler(method, path, principal)
            else:
                handler = self._route(method, path, call)
            host = call.host
            flight = self.metrics.enter(*((host.name, host.model) if host else ("", "")))
            status, body = await handler(call)
        except Disconnected:
            return
        except (Reply, Denied, ApiError) as reply:
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
        finally:
            if flight is not None:
                self.metrics.leave(flight)
        self._observe(call, status, started)
        if status >= 400 and call.variant:  # a routed request that failed: say where
            call.headers.append((_VARIANT, call.variant.encode()))
        headers = [] if _has_content_type(call.headers) else [_JSON]
        headers += [
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", (call.request_id or new_request_id()).encode()),
            *call.headers,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    # -- auth, management and metrics around the router --------------------------------------

    def _scope_for(self, path: str, method: str) -> str | None:
        """The scope a route needs: None for health probes (and ``/metrics`` when it was made
        open), ``read`` to look (GET), ``write`` to change the registry (``/api/v1``), and
        ``predict`` for every other call, which is an inference call in some protocol."""
        if path in self._open_paths:
            return None
        if method == "GET" or method == "HEAD":
            return READ
        if path == FEEDBACK:  # whoever may ask for predictions may report their outcomes
            return PREDICT
        if path.endswith(_EXPLAIN):  # an explanation is a prediction with its reasons
            return PREDICT
        return WRITE if path.startswith(API_PREFIX) else PREDICT

    def _names_for(self, path: str) -> tuple[str, ...] | None:
        """What a route acts on, for keys restricted to some models: the endpoint in
        ``/v1|v2/models/{name}...`` and the model it serves, or the model in ``/api/v1``."""
        if path.startswith(API_PREFIX):
            model = Management.model_in(path)
            return None if model is None else (model,)
        parts = path.split("/", 4)
        if len(parts) < 4 or parts[2] != "models" or not parts[3]:
            return None
        name = parts[3].partition(":")[0]  # KServe V1 puts its verb there: churn:predict
        host = self.hosts.get(name)
        return (name,) if host is None else (name, host.model)

    async def _authorize(
        self, method: str, path: str, authorization: bytes | None
    ) -> ApiKey | None:
        auth = self.auth
        assert auth is not None
        scope = self._scope_for(path, method)
        if scope is None:
            return None
        return await auth.authenticate(authorization, scope, self._names_for(path))

    def _management_handler(self, method: str, path: str, key: ApiKey | None) -> Handler:
        management = self.management
        assert management is not None

        async def handle(call: Call) -> Result:
            return await management.handle(method, path, lambda: self._body(call), key)

        return handle

    def _observe(self, call: Call, status: int, started: float) -> None:
        version = call.answered
        host = call.host
        seconds = time.perf_counter() - started
        if host is None:
            self.metrics.observe_request("", "", version, "", status, seconds)
            return
        variant = call.variant
        if variant:  # a routed request: the rollouts count it per variant
            host.stats_for(variant).record(status, seconds)
        else:  # a request that named its version bypassed the variants
            variant = MAIN if call.version is None else ""
        self.metrics.observe_request(host.name, host.model, version, variant, status, seconds)

    async def _metrics_text(self, call: Call) -> Result:
        call.headers.append((b"content-type", METRICS_CONTENT_TYPE))
        plog = self.prediction_log
        counts = None
        if plog is not None:
            counts = PredlogCounts(
                plog.written, plog.pending, plog.failed, self.predlog_dropped, plog.sampled_out
            )
        shadows = [
            (name, h.shadows.sent, h.shadows.dropped, h.shadows.failed)
            for name, h in self.hosts.items()
            if h.shadows.sent or h.shadows.dropped
        ]
        return 200, self.metrics.render(counts, shadows) + self.usage.render().encode()

    def _log(
        self,
        call: Call,
        host: ModelHost,
        predictor: Predictor,
        frame: Frame,
        outputs: Outputs,
        started: float,
    ) -> Awaitable[None] | None:
        """Record the answered rows in the prediction log (one record per row, under the
        response's request id); None when that is done, else an awaitable to await first.
        Buffered mode takes the request at once while its buffer has room (the rows are made in
        the log's writer thread, off the event loop), and awaits space while it is full; records
        it could not take are counted in ``shipyard_predlog_dropped_total`` and warned about.
        Durable mode returns once they are committed, and a log that cannot take them makes the
        request a 503: no prediction is acknowledged unrecorded."""
        plog = self.prediction_log
        if plog is None:
            return None
        assert call.request_id is not None
        version = predictor.version
        served = ServedRequest(
            call.request_id,
            frame,
            outputs,
            host.name,
            version.model,
            version.version,
            _variant_of(call),
            (time.perf_counter() - started) * 1000.0,
        )
        if plog.mode != "durable":
            try:
                if plog.offer(served):
                    return None
            except PredictionLogError as exc:
                self._not_logged(call, served.n_rows, exc)
                return None
        return self._submit(plog, call, served)

    async def _submit(self, plog: PredictionLog, call: Call, served: ServedRequest) -> None:
        try:
            await plog.submit_served(served)
        except PredictionLogError as exc:
            if plog.mode == "durable":
                raise Reply(
                    503,
                    f"the prediction was not returned because it could not be recorded in the "
                    f"prediction log (durable mode): {exc}",
                ) from exc
            self._not_logged(call, served.n_rows, exc)

    def _not_logged(self, call: Call, rows: int, exc: PredictionLogError) -> None:
        self.predlog_dropped += rows
        now = time.monotonic()
        if now - self._predlog_warned >= 30.0 or self._predlog_warned == 0.0:
            self._predlog_warned = now
            log.warning(
                "request %s: %d prediction records not logged (%d so far): %s",
                call.request_id, rows, self.predlog_dropped, exc,
            )  # fmt: skip

    def _count_batches(self, host: ModelHost) -> None:
        """Feed the batch-size histogram and the queue-depth gauge from the host's batcher
        (its hooks run on the event loop, once per batch). The queue is the host's, shared by
        every version it serves, so its depth has an empty version label."""
        metrics, name, model = self.metrics, host.name, host.model

        def on_batch(predictor: object, size: int) -> None:
            if isinstance(predictor, Predictor):  # labelled with the variant it serves now
                version = predictor.version.version
                variant = self._variant_of(name, version)
                metrics.observe_batch(name, model, predictor.version_text, variant, size)
            else:
                metrics.observe_batch(name, model, "", "", size)

        def on_queue_depth(depth: int) -> None:
            metrics.set_queue_depth(name, model, "", "main", depth)

        host.batcher.on_batch = on_batch
        host.batcher.on_queue_depth = on_queue_depth
        usage = self.usage

        def on_usage(predictor: object, requests: int, rows: int, cpu: float) -> None:
            if isinstance(predictor, Predictor):
                version = predictor.version
                usage.record(name, version.model, version.version, requests, rows, cpu)

        host.batcher.on_usage = on_usage

    def _variant_of(self, endpoint: str, version: int) -> str:
        """The variant ``version`` serves as on ``endpoint`` now ("" when it serves as none:
        a version addressed directly, or no longer loaded)."""
        host = self.hosts.get(endpoint)
        if host is not None:
            for name, predictor in host.variants.items():
                if predictor.version.version == version:
                    return name
        return ""

    def _route(self, method: str, path: str, call: Call) -> Handler:
        found = self._routed_paths.get((method, path))
        if found is not None:  # a model route answered before: parsed once
            handler, call.host, call.version = found
            return handler
        handler = self._parse_route(method, path, call)
        if call.host is not None:
            if len(self._routed_paths) >= _ROUTE_CACHE:
                self._routed_paths.clear()
            self._routed_paths[(method, path)] = (handler, call.host, call.version)
        return handler

    def _parse_route(self, method: str, path: str, call: Call) -> Handler:
        methods = self._routes.get(path)
        if methods is None:
            parts = path.split("/")
            if len(parts) < 4 or parts[1] not in ("v1", "v2") or parts[2] != "models":
                raise Reply(404, f"no route {path}; model routes start with /v2/models/{{name}}")
            table = self._model_routes
            if parts[1] == "v1":  # KServe V1 puts its verb after a colon: churn:predict
                table = self._v1_model_routes
                parts[-1], colon, verb = parts[-1].partition(":")
                if colon:
                    parts.append(f":{verb}")
            rest = tuple(parts[4:])
            if rest[:1] == ("versions",) and len(rest) >= 2:
                text = rest[1]  # ASCII digits ("²".isdigit()) within SQLite's INTEGER range
                whole = text.isascii() and text.isdigit() and len(text) <= 19
                if not whole or not 1 <= int(text) < 2**63:
                    raise Reply(404, f"no version {text!r}: versions are positive integers")
                call.version, rest = int(rest[1]), rest[2:]
            methods = table.get(rest)
            if methods is None:
                raise Reply(404, f"no route {path}")
            call.host = self.hosts.get(parts[3])
            if call.host is None:
                served = ", ".join(sorted(self.hosts)) or "none"
                raise Reply(404, f"no model named {parts[3]!r} is served (served: {served})")
        handler = methods.get(method)
        if handler is None:
            allow = ", ".join(methods)
            raise Reply(
                405, f"{method} is not allowed on {path}; use {allow}", [(b"allow", allow.encode())]
            )
        return handler

    async def _body(self, call: Call) -> bytes:
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
                raise Disconnected()
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

    async def _server_metadata(self, call: Call) -> Result:
        return 200, v2.server_metadata(self.server_version)

    async def _live(self, call: Call) -> Result:
        return 200, b'{"live":true}'

    async def _server_ready(self, call: Call) -> Result:
        if self.ready:
            return 200, b'{"ready":true}'
        waiting = sorted(name for name, host in self.hosts.items() if not host.ready)
        raise Reply(503, f"not ready: still loading {', '.join(waiting)}")

    async def _predictor(self, call: Call) -> Predictor:
        host = call.host
        assert host is not None
        if call.version is not None:
            return await host.pinned(call.version)
        predictor = host.current
        if predictor is None:
            why = f" (last error: {host.error})" if host.error else ""
            raise Reply(503, f"model {host.name!r} is not ready yet{why}")
        return predictor

    async def _routed(self, call: Call) -> Predictor:
        """The predictor that answers an inference call: the main variant's on the fast path
        (one variant, or a pinned version), else the variant the endpoint's route picks. A
        route keyed by a request field picks once the body is decoded (:meth:`_by_field`)."""
        host = call.host
        assert host is not None
        route = host.route
        if route is None or call.version is not None:
            return await self._predictor(call)
        call.route = route
        if route.key_kind == "field":
            call.variant = ""  # chosen in _by_field; the main variant's signature decodes
            return await self._predictor(call)
        key = None
        if route.key_kind == "header":
            assert route.key_name is not None
            raw = call.header(route.key_name.encode("latin-1"))
            key = None if raw is None else raw.decode("latin-1")
        return await self._choose(call, route, key)

    async def _choose(self, call: Call, route: Route, key: str | None) -> Predictor:
        host = call.host
        assert host is not None
        name = route.pick(key)
        predictor = host.variants.get(name)
        if predictor is None:  # the route changed under this request: the baseline answers
            name, predictor = MAIN, await self._predictor(call)
        if key is None and route.key_kind is not None:
            host.stats_for(name).unkeyed += 1
        call.variant = name
        return predictor

    async def _by_field(
        self, call: Call, parameters: Mapping[str, Any] | None, columns: Mapping[str, Any]
    ) -> Predictor | None:
        """For a route keyed by a request field: the variant's predictor, from the request's
        parameters, else the field's first row (all rows of a request go to one variant).
        None when the request was not waiting for that choice."""
        route = call.route
        if call.variant != "" or route is None or route.key_name is None:
            return None
        name = route.key_name
        value = None if parameters is None else parameters.get(name)
        if value is None and name in columns and len(columns[name]):
            value = columns[name][0]
        key = None if value is None else str(value.item() if hasattr(value, "item") else value)
        return await self._choose(call, route, key)

    def _answered(self, call: Call, predictor: Predictor) -> None:
        """The headers that say who answered: the version, and the variant."""
        call.answered = predictor.version_text
        call.headers.append(predictor.answered_by)
        variant = call.variant
        call.headers.append(
            _MAIN_HEADER if variant is None or variant == MAIN else (_VARIANT, variant.encode())
        )

    def _mirror(self, call: Call, primary: Predictor, frame: Frame, outputs: Outputs) -> None:
        """Send this request to the shadow variant too, when the route says so: in the
        background, bounded, its answer logged (variant = the shadow's name) and compared,
        never returned."""
        route, host = call.route, call.host
        if route is None or host is None or route.shadow is None or not route.mirrors():
            return
        shadow = host.variants.get(route.shadow)
        if shadow is None:
            return
        request_id = f"{(call.request_id or new_request_id())[:100]}~{route.shadow}"[:128]
        name = route.shadow
        same = shadow.signature == primary.signature
        host.shadows.submit(
            lambda: self._shadow(host, name, shadow, frame, same, outputs, request_id)
        )

    async def _shadow(
        self,
        host: ModelHost,
        name: str,
        predictor: Predictor,
        frame: Frame,
        same_signature: bool,
        primary: Outputs,
        request_id: str,
    ) -> None:
        started = time.perf_counter()
        stats = host.stats_for(name)
        try:
            if not same_signature:
                frame = validate_columns(predictor.signature, frame.columns, request_id)
            outputs = await host.infer(predictor, frame, proba=primary.probabilities is not None)
        except Exception:
            stats.record(500, time.perf_counter() - started)
            raise
        stats.record(200, time.perf_counter() - started)
        stats.compare(primary.labels, outputs.labels)
        plog = self.prediction_log
        if plog is not None:
            version = predictor.version
            latency_ms = (time.perf_counter() - started) * 1000.0
            await plog.submit_served(
                ServedRequest(
                    request_id, frame, outputs, host.name, version.model, version.version, name,
                    latency_ms,
                )
            )  # fmt: skip

    async def _model_metadata(self, call: Call) -> Result:
        predictor = await self._predictor(call)
        assert call.host is not None
        return 200, v2.model_metadata(call.host.name, predictor)

    async def _model_ready(self, call: Call) -> Result:
        await self._predictor(call)
        return 200, b'{"ready":true}'

    async def _infer(self, call: Call) -> Result:
        host = call.host
        assert host is not None
        predictor = host.current  # held to the end: a swap cannot change it
        if predictor is None or host.route is not None or call.version is not None:
            predictor = await self._routed(call)  # not the one-variant fast path
        body = await self._body(call)
        header_length = call.binary_length
        if v2_binary.is_binary(body, header_length):
            return await self._infer_binary(call, predictor, body, header_length)
        request = v2.decode_infer(body, predictor.features)
        if call.variant == "":  # routed by a request field: choose now, decode for the choice
            chosen = await self._by_field(call, request.parameters, request.columns)
            if chosen is not None and chosen.features != predictor.features:
                request = v2.decode_infer(body, chosen.features)
            predictor = chosen or predictor
        if call.request_id is None:
            given = request.id
            call.request_id = given if given and SAFE_ID.fullmatch(given) else new_request_id()
        selected = v2.select_outputs(request.outputs, predictor.output_names)
        matrix = request.matrix  # one 2-D tensor: validated whole, never split into columns
        if matrix is None:
            frame = validate_columns(predictor.signature, request.columns, call.request_id)
        else:
            frame = validate_matrix(
                predictor.signature, matrix, call.request_id, finite=request.finite
            )
        outputs = await host.infer(predictor, frame, proba=PROBABILITIES in selected)
        self._answered(call, predictor)
        answer_id = request.id if request.id is not None else call.request_id
        answer = v2.encode_infer(host.name, predictor.version_text, answer_id, outputs, selected)
        if self.prediction_log is not None:
            pending = self._log(call, host, predictor, frame, outputs, call.started)
            if pending is not None:
                await pending
        if call.route is not None:
            self._mirror(call, predictor, frame, outputs)
        return 200, answer

    # -- Triton's binary tensor data extension, KServe V1, MLflow scoring ---------------------

    async def _infer_binary(
        self, call: Call, predictor: Predictor, body: bytes, header_length: bytes | None
    ) -> Result:
        """V2 infer with binary inputs or outputs (Triton's extension; see protocols/v2_binary)."""
        host = call.host
        assert host is not None
        decoded = v2_binary.decode_infer(body, header_length, predictor.features)
        request = decoded.request
        if call.variant == "":
            chosen = await self._by_field(call, request.parameters, request.columns)
            if chosen is not None and chosen.features != predictor.features:
                decoded = v2_binary.decode_infer(body, header_length, chosen.features)
                request = decoded.request
            predictor = chosen or predictor
        if call.request_id is None:
            given = request.id
            call.request_id = given if given and SAFE_ID.fullmatch(given) else new_request_id()
        selected = v2.select_outputs(request.outputs, predictor.output_names)
        frame = validate_columns(predictor.signature, request.columns, call.request_id)
        outputs = await host.infer(predictor, frame, proba=PROBABILITIES in selected)
        self._answered(call, predictor)
        answer_id = request.id if request.id is not None else call.request_id
        answer, json_length = v2_binary.encode_infer(
            host.name,
            predictor.version_text,
            answer_id,
            outputs,
            selected,
            decoded.binary(selected),
        )
        pending = self._log(call, host, predictor, frame, outputs, call.started)
        if pending is not None:
            await pending
        if call.route is not None:
            self._mirror(call, predictor, frame, outputs)
        if json_length is not None:
            call.headers.append((b"content-type", b"application/octet-stream"))
            call.headers.append((b"inference-header-content-length", str(json_length).encode()))
        return 200, answer

    async def _v1_models(self, call: Call) -> Result:
        return 200, v1.encode_models(list(self.hosts))

    async def _v1_model(self, call: Call) -> Result:
        await self._predictor(call)  # 503 until loaded
        assert call.host is not None
        return 200, v1.encode_model(call.host.name, True)

    async def _v1_explain(self, call: Call) -> Result:
        """``POST /v1/models/{name}:explain``: KServe V1's explain verb, predictions with their
        feature attributions."""
        from shipyard.serving.explain_api import explain_v1

        predictor = await self._routed(call)
        self._answered(call, predictor)
        return await explain_v1(predictor, await self._body(call))

    def _api_explain_route(self, method: str, path: str, call: Call) -> Handler:
        """``POST /api/v1/models/{name}/explain``: attributions for records, by the version
        that answers the endpoint ``name``."""
        parts = path.split("/")  # "", "api", "v1", "models", NAME, "explain"
        if len(parts) != 6 or parts[3] != "models" or not parts[4]:
            raise Reply(
                404, f"no route {path}; explanations are at /api/v1/models/{{name}}/explain"
            )
        if method != "POST":
            raise Reply(405, f"{method} is not allowed on {path}; use POST", [(b"allow", b"POST")])
        call.host = self.hosts.get(parts[4])
        if call.host is None:
            served = ", ".join(sorted(self.hosts)) or "none"
            raise Reply(404, f"no model named {parts[4]!r} is served (served: {served})")
        return self._api_explain

    async def _api_explain(self, call: Call) -> Result:
        from shipyard.serving.explain_api import explain_records

        predictor = await self._routed(call)
        self._answered(call, predictor)
        return await explain_records(predictor, await self._body(call))

    async def _v1_predict(self, call: Call) -> Result:
        predictor = await self._routed(call)
        body = await self._body(call)
        request = v1.decode_predict(body, predictor.features)
        if call.variant == "":
            chosen = await self._by_field(call, None, request.columns)
            if chosen is not None and chosen.features != predictor.features:
                request = v1.decode_predict(body, chosen.features)
            predictor = chosen or predictor
        return await self._predict_table(call, predictor, request)

    async def _predict_table(
        self, call: Call, predictor: Predictor, request: v1.TableRequest
    ) -> Result:
        """Validate, predict and answer ``{"predictions": ...}`` (V1 and MLflow)."""
        host = call.host
        assert host is not None
        if request.proba and not predictor.has_proba:
            raise InvalidInputError(
                f"model {host.name!r} ({predictor.ref}) has no class probabilities; ask for labels"
            )
        call.request_id = call.request_id or new_request_id()
        frame = validate_columns(predictor.signature, request.columns, call.request_id)
        outputs = await host.infer(predictor, frame, proba=request.proba)
        self._answered(call, predictor)
        answer = v1.encode_predictions(outputs, request.proba)
        pending = self._log(call, host, predictor, frame, outputs, call.started)
        if pending is not None:
            await pending
        if call.route is not None:
            self._mirror(call, predictor, frame, outputs)
        return 200, answer

    async def _invocations(self, call: Call) -> Result:
        """MLflow's ``/invocations``: the model named by ``x-shipyard-model``, else the first
        served; errors in MLflow's shape."""
        try:
            name = call.header(b"x-shipyard-model")
            if name is None:
                call.host = next(iter(self.hosts.values()), None)
            else:
                call.host = self.hosts.get(name.decode("latin-1"))
            if call.host is None:
                served = ", ".join(sorted(self.hosts)) or "none"
                wanted = "" if name is None else f" named {name.decode('latin-1')!r}"
                raise NotFoundError(f"no model{wanted} is served (served: {served})")
            predictor = await self._routed(call)
            body = await self._body(call)
            content_type = call.header(b"content-type")
            media = None if content_type is None else content_type.decode("latin-1")
            kinds = {f.name: f.kind for f in predictor.signature.inputs}
            request = mlflow.decode_invocation(body, media, predictor.features, kinds)
            if call.variant == "":
                chosen = await self._by_field(call, None, request.columns)
                if chosen is not None and chosen.features != predictor.features:
                    kinds = {f.name: f.kind for f in chosen.signature.inputs}
                    request = mlflow.decode_invocation(body, media, chosen.features, kinds)
                predictor = chosen or predictor
            return await self._predict_table(call, predictor, request)
        except Reply as reply:
            call.headers.extend(reply.headers)
            return reply.status, mlflow.encode_error(reply.status, str(reply))
        except mlflow.UnsupportedMediaTypeError as exc:
            return 415, mlflow.encode_error(415, str(exc))
        except ShipyardError as exc:
            status = status_for(exc)
            return status, mlflow.encode_error(status, str(exc))

    async def _ping(self, call: Call) -> Result:
        """MLflow's ``/ping`` and ``/health``: 200 once every served model is loaded."""
        if self.ready:
            return 200, b"\n"
        waiting = sorted(name for name, host in self.hosts.items() if not host.ready)
        return 503, mlflow.encode_error(503, f"not ready: still loading {', '.join(waiting)}")

    async def _version(self, call: Call) -> Result:
        """MLflow's ``/version``: the server's version as a bare string, as MLflow answers."""
        return 200, self.server_version.encode()

    # -- the OpenAPI document and its page (off the hot path: imported on first use) ---------

    async def _openapi(self, call: Call) -> Result:
        """``GET /openapi.json``: every route, with the served endpoints' request schemas."""
        from shipyard.serving import openapi

        return 200, openapi.render(
            self.hosts,
            server_version=self.server_version,
            auth=self.auth is not None,
            open_paths=self._open_paths,
            management=self.management is not None,
        )

    async def _docs(self, call: Call) -> Result:
        """``GET /docs``: a self-contained page over ``/openapi.json`` (no external asset)."""
        from shipyard.serving import openapi

        call.headers.append((b"content-type", openapi.DOCS_CONTENT_TYPE))
        call.headers.append((b"content-security-policy", openapi.DOCS_CSP))
        return 200, openapi.docs_page()


def _variant_of(call: Call) -> str:
    """The prediction log's variant: the one routed to, ``main`` on the fast path, empty for a
    request that named its version (``/versions/{v}`` bypasses the variants)."""
    if call.variant:
        return call.variant
    return MAIN if call.version is None else ""


def _has_content_type(headers: Headers) -> bool:
    for key, _ in headers:  # noqa: SIM110 - a plain loop: it runs on every request
        if key == b"content-type":
            return True
    return False


def _too_large(limit: int) -> Reply:
    return Reply(413, f"the request body exceeds the limit of {limit} bytes; send fewer rows")


def _package_version() -> str:
    from shipyard import __version__

    return str(__version__)
