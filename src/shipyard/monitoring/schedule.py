"""Running the monitor on an interval inside a long-lived process (``shipyard serve``).

:func:`monitor_loop` runs one monitor pass per model every ``interval`` seconds, each in a worker
thread (the passes read databases and compute; the event loop keeps serving). Every pass takes
the lease ``monitor:{model}`` for one and a half intervals and keeps it, renewing it at each of
its own passes: on many replicas the first to take it runs the monitor, the others skip, and
another takes over once the holder stops renewing (it died, or was scaled away).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from shipyard.errors import InvalidInputError, ShipyardError
from shipyard.monitoring.alerts.channels import AlertChannel
from shipyard.monitoring.alerts.rules import AlertRule
from shipyard.monitoring.run import MonitorResult, run_monitor

if TYPE_CHECKING:
    from shipyard.predlog.store import PredictionStore
    from shipyard.registry.client import Registry

__all__ = ["monitor_loop"]

log = logging.getLogger("shipyard.monitor")


async def monitor_loop(
    registry: Registry,
    store: PredictionStore,
    *,
    interval: float,
    models: Sequence[str] | None = None,
    rules: Sequence[AlertRule] = (),
    channels: Mapping[str, AlertChannel] | None = None,
    holder: str | None = None,
    settle: float = 2.0,
    stop: asyncio.Event | None = None,
    on_result: Callable[[MonitorResult], None] | None = None,
    rejected_total: Callable[[str], int | None] | None = None,
) -> None:
    """Monitor ``models`` (default: every registered model) every ``interval`` seconds until
    ``stop`` is set or the task is cancelled. ``settle`` seconds at the end of each window are
    left to the next pass, for predictions still in the log's buffer. A failing pass is logged
    and the loop goes on.

    ``rejected_total(model)``, when given, is the server's running count of ``model``'s rejected
    requests (4xx answers: schema violations as the server saw them); each pass gets the
    increase since the last pass that had rows as its window's rejected count."""
    if not interval > 0:
        raise InvalidInputError(f"the monitor interval must be positive, got {interval!r}")
    holder = holder or f"{socket.gethostname()}:{os.getpid()}"
    stop = stop or asyncio.Event()
    counted: dict[str, int] = {}
    while not stop.is_set():
        names = list(models) if models else await asyncio.to_thread(_all_models, registry)
        for model in names:
            if stop.is_set():
                break
            total = None if rejected_total is None else rejected_total(model)
            rejected = None if total is None else max(total - counted.get(model, 0), 0)
            try:
                result = await asyncio.to_thread(
                    run_monitor, registry, store, model, until=time.time() - settle,
                    rules=rules, channels=channels, rejected=rejected, lease=True,
                    holder=holder, lease_ttl=1.5 * interval, keep_lease=True,
                )  # fmt: skip
            except ShipyardError as exc:
                log.error("monitor pass for %s failed: %s", model, exc)
                continue
            except Exception:  # one broken pass must not end the schedule
                log.exception("monitor pass for %s crashed", model)
                continue
            if total is not None and result.status not in ("skipped", "empty"):
                counted[model] = total
            if result.status != "skipped":
                log.info("monitor %s: %s", model, result.summary()[0])
            if on_result is not None:
                on_result(result)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)


def _all_models(registry: Registry) -> list[str]:
    return [m.name for m in registry.list_models()]
