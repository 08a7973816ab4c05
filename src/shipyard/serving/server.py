"""Putting the server together: endpoints from the registry, hosts, the app, and uvicorn.

Authentication follows one rule: the server asks for an API key whenever one exists (checked
again every few seconds) or whenever it listens beyond loopback. Beyond loopback with no key at
all it refuses to start, unless ``--insecure`` says to serve anyone who can reach it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInputError, NotFoundError
from shipyard.monitoring.cost import Prices
from shipyard.monitoring.usage_store import UsageRow, UsageStore
from shipyard.predlog import PredictionLog, PredictionStore, default_url
from shipyard.registry.changes import follow
from shipyard.registry.endpoints import Endpoint, EndpointStore
from shipyard.registry.keys import KeyStore
from shipyard.registry.refs import parse_ref
from shipyard.rollouts.controller import (
    DEFAULT_INTERVAL,
    FeedbackMetric,
    MetricSource,
    RolloutController,
)
from shipyard.serving.app import MAX_BODY_BYTES, ServingApp
from shipyard.serving.auth import Authenticator
from shipyard.serving.hosts import ModelHost
from shipyard.serving.management import Management
from shipyard.serving.metrics import Metrics
from shipyard.serving.usage import UsageMeter

if TYPE_CHECKING:
    from shipyard.monitoring.alerts import AlertDispatcher
    from shipyard.registry.client import Registry

__all__ = ["build_app", "check_bind", "run"]

log = logging.getLogger("shipyard.serving")


def build_app(
    registry: Registry,
    refs: Sequence[str] | None = None,
    *,
    poll_interval: float = 0.25,
    max_body_bytes: int = MAX_BODY_BYTES,
    workers: int = 4,
    require_auth: bool = False,
    metrics_open: bool = False,
    auth_ttl: float = 5.0,
    rollout_interval: float | None = DEFAULT_INTERVAL,
    metric: MetricSource | None = None,
    dispatcher: AlertDispatcher | None = None,
    monitor_interval: float | None = None,
    monitor_rules: Sequence[Any] = (),
    monitor_channels: Any = None,
    console: bool = True,
) -> ServingApp:
    """The app serving ``refs`` (each through the endpoint named after its model, created or
    re-pointed as needed), or every endpoint in the store when ``refs`` is empty.

    ``require_auth`` asks for a key on every request but health probes even while no key
    exists; otherwise keys are asked for once any exists. ``metrics_open`` serves ``/metrics``
    without a key. ``auth_ttl`` is how long a verified key is trusted before it is checked
    again (and so how soon a revocation applies).

    Predictions are recorded in the prediction log as the registry's settings say
    (``predlog_mode``, ``predlog_url``, ``predlog_flush_interval``); mode ``off`` records none.

    Rollouts of the served endpoints are evaluated every ``rollout_interval`` seconds (None: not
    by this server) by a :class:`RolloutController` whose online metric comes from ``metric``
    (default: the prediction log joined with feedback) and whose decisions go to
    ``dispatcher``'s channels (default: the log).

    With ``monitor_interval`` (seconds), the server also runs the monitor over its models'
    logged predictions on that interval (once across replicas: a lease), with ``monitor_rules``
    and ``monitor_channels`` as ``shipyard monitor run --rules`` reads them. ``console`` serves
    the web console at ``/ui``."""
    store = EndpointStore(registry.db)
    endpoints: list[Endpoint] = []
    if refs:
        parsed = [parse_ref(ref) for ref in refs]
        models = [ref.model for ref in parsed]
        if twice := sorted({m for m in models if models.count(m) > 1}):
            raise InvalidInputError(
                f"model {twice[0]!r} is given twice; serve one reference per model "
                "(its endpoint follows that reference)"
            )
        for ref in parsed:
            registry.get_version(ref)  # fail now, naming the model/alias, rather than at load
            endpoints.append(store.ensure(ref.model, ref.model, str(ref), registry.actor))
    else:
        endpoints = store.list()
        if not endpoints:
            raise NotFoundError(
                "there are no endpoints to serve yet; name a model reference, as in: "
                "shipyard serve churn@champion"
            )
    hosts = {e.name: ModelHost(registry, e, poll_interval=poll_interval) for e in endpoints}
    auth = Authenticator.for_store(KeyStore(registry.db), required=require_auth, ttl=auth_ttl)
    prediction_log = _prediction_log(registry)
    background: list[Callable[[ServingApp], Coroutine[Any, Any, None]]] = []
    if registry.db.dialect == "postgresql":
        background.append(_follow_changes(registry))
    if rollout_interval is not None:
        if metric is None and prediction_log is not None:
            metric = FeedbackMetric(prediction_log.store)
        controller = RolloutController(
            registry, interval=rollout_interval, metric=metric, dispatcher=dispatcher
        )
        background.append(controller.run)
    if registry.settings.importance != "off":
        from shipyard.explain.backfill import importance_job

        # Each served version's global importance, computed once after it is loaded.
        background.append(importance_job(registry))
    if monitor_interval is not None and prediction_log is not None:
        background.append(
            _monitor_job(
                registry,
                prediction_log.store,
                sorted({e.model for e in endpoints}),
                monitor_interval,
                monitor_rules,
                monitor_channels,
            )
        )
    usage = _usage_meter(registry)
    background.append(_usage_job(registry, registry.settings.usage_flush_interval))
    web = None
    if console:
        from shipyard.console import console_app

        web = console_app(registry, auth_required=require_auth, auth_ttl=auth_ttl)
    app = ServingApp(
        hosts,
        max_body_bytes=max_body_bytes,
        workers=workers,
        metrics=Metrics(),
        auth=auth,
        management=Management(registry, None if prediction_log is None else prediction_log.store),
        metrics_open=metrics_open,
        prediction_log=prediction_log,
        background=background,
        console=web,
        usage=usage,
    )
    if web is not None:
        web.attach(app)
    return app


def _usage_meter(registry: Registry) -> UsageMeter:
    """The usage meter with the settings' prices and resource requests."""
    settings = registry.settings
    return UsageMeter(
        prices=Prices.of(settings),
        cpu_request=settings.cost_cpu_request,
        memory_request_bytes=settings.cost_memory_request,
    )


def _usage_job(
    registry: Registry, interval: float
) -> Callable[[ServingApp], Coroutine[Any, Any, None]]:
    """A background job writing the metered usage to the registry every ``interval``
    seconds, and once more when the server stops. Rows a write failed to store are kept (a
    bounded number) and written with the next interval."""

    async def job(app: ServingApp) -> None:
        store = UsageStore(registry.db)
        pending: list[UsageRow] = []

        def write(rows: list[UsageRow]) -> list[UsageRow]:
            try:
                store.append(rows)
            except Exception as exc:  # the registry is down: keep them for the next interval
                log.warning("usage: %d rows not stored yet: %s", len(rows), exc)
                return rows[-10_000:]
            return []

        try:
            while True:
                await asyncio.sleep(interval)
                pending = await asyncio.to_thread(write, pending + app.usage.take())
        except asyncio.CancelledError:
            write(pending + app.usage.take())  # the server is stopping: the last interval
            raise

    return job


def _monitor_job(
    registry: Registry,
    store: PredictionStore,
    models: list[str],
    interval: float,
    rules: Sequence[Any],
    channels: Any,
) -> Callable[[ServingApp], Coroutine[Any, Any, None]]:
    """A background job running the monitor over ``models`` every ``interval`` seconds."""

    async def job(app: ServingApp) -> None:
        from shipyard.monitoring.schedule import monitor_loop

        await monitor_loop(
            registry,
            store,
            interval=interval,
            models=models,
            rules=rules,
            channels=channels,
            settle=2 * registry.settings.predlog_flush_interval,
        )

    return job


def _follow_changes(registry: Registry) -> Callable[[ServingApp], Coroutine[Any, Any, None]]:
    """A background job waking every host when the registry announces a change (PostgreSQL's
    LISTEN/NOTIFY), so an alias move reaches this replica within moments, not at the next poll."""

    async def job(app: ServingApp) -> None:
        def wake_all(_subject: str) -> None:
            for host in app.hosts.values():
                host.wake()

        await follow(registry.db.url, wake_all)

    return job


def _prediction_log(registry: Registry) -> PredictionLog | None:
    """The prediction log the settings ask for, or None when ``predlog_mode`` is ``off``."""
    settings = registry.settings
    mode = settings.predlog_mode
    if mode == "off":
        return None
    assert mode in ("buffered", "durable")  # Settings validated it
    store = PredictionStore(settings.predlog_url or default_url(settings))
    log.info("recording predictions in %s (%s)", store.safe_url, mode)
    return PredictionLog(
        store,
        mode="durable" if mode == "durable" else "buffered",
        flush_interval=settings.predlog_flush_interval,
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, insecure: bool, *, have_keys: bool = False) -> None:
    """Refuse a non-loopback address while no API key exists, unless ``insecure``."""
    if not insecure and not have_keys and not is_loopback(host):
        raise InvalidInputError(
            f"refusing to listen on {host}: no API keys exist, so anyone who can reach the "
            "server could use it. Create a key first (shipyard keys create --scope predict); "
            "the server then asks for one on every request but health probes. Or pass "
            "--insecure to expose it without authentication"
        )


def run(
    registry: Registry,
    refs: Sequence[str] | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    insecure: bool = False,
    graceful_timeout: int = 30,
    **options: Any,
) -> None:
    """Serve until SIGINT/SIGTERM; uvicorn drains in-flight requests (for up to
    ``graceful_timeout`` seconds) before it exits."""
    have_keys = KeyStore(registry.db).any_exist()
    check_bind(host, insecure, have_keys=have_keys)
    required = not insecure and not is_loopback(host)
    app = build_app(registry, refs, require_auth=required, **options)
    import uvicorn

    logger = logging.getLogger("shipyard")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    if required or have_keys:
        log.info("authentication is on: requests need an API key (health probes excepted)")
    else:
        log.info("authentication is off until an API key is created (shipyard keys create)")
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="info",
        timeout_graceful_shutdown=graceful_timeout,
        # Nothing here reads the client's address or scheme, so uvicorn's X-Forwarded-* layer
        # would be work on every request for nothing; and no "server: uvicorn" banner.
        proxy_headers=False,
        server_header=False,
    )
