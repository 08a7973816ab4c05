"""Putting the server together: endpoints from the registry, hosts, the app, and uvicorn."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from shipyard.errors import InvalidInputError, NotFoundError
from shipyard.registry.endpoints import Endpoint, EndpointStore
from shipyard.registry.refs import parse_ref
from shipyard.serving.app import MAX_BODY_BYTES, ServingApp
from shipyard.serving.hosts import ModelHost

if TYPE_CHECKING:
    from shipyard.registry.client import Registry

__all__ = ["build_app", "check_bind", "run"]


def build_app(
    registry: Registry,
    refs: Sequence[str] | None = None,
    *,
    poll_interval: float = 1.0,
    max_body_bytes: int = MAX_BODY_BYTES,
    workers: int = 4,
) -> ServingApp:
    """The app serving ``refs`` (each through the endpoint named after its model, created or
    re-pointed as needed), or every endpoint in the store when ``refs`` is empty."""
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
    return ServingApp(hosts, max_body_bytes=max_body_bytes, workers=workers)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, insecure: bool) -> None:
    """Refuse a non-loopback address unless ``insecure``: the server has no auth yet."""
    if not insecure and not is_loopback(host):
        raise InvalidInputError(
            f"refusing to listen on {host}: the server has no authentication yet (API keys come "
            "in a later release), so it only binds to loopback (127.0.0.1, ::1, localhost); "
            "pass --insecure to expose it anyway"
        )


def run(
    registry: Registry,
    refs: Sequence[str] | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    insecure: bool = False,
    **options: Any,
) -> None:
    """Serve until SIGINT/SIGTERM; uvicorn drains in-flight requests before it exits."""
    check_bind(host, insecure)
    app = build_app(registry, refs, **options)
    import uvicorn

    logger = logging.getLogger("shipyard")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="info",
    )
