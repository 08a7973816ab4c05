"""Model hosts: one per served endpoint, holding the loaded versions that answer.

A host reads its endpoint (variants and routing policy) from the registry, resolves each
variant's reference, loads and warms those versions off the event loop, and then re-reads the
endpoint and re-resolves the references when the registry changed. Every ``poll_interval``
seconds it reads the registry's change mark (the newest audit entry's number: one indexed read,
since every registry change is audited) and re-reads the endpoint and its references only when
the mark moved, or every :data:`RESYNC_SECONDS` whatever it says. When a reference moved or the
variants changed, the new versions are loaded and warmed off the loop first and then swapped in
together with the new :class:`~shipyard.serving.routing.Route`, in plain assignments on the event
loop: a request holds the :class:`Predictor` it started with, so in-flight requests finish on the old version
and no request is routed to a variant that is not loaded yet. ``current`` is always the main
variant's predictor (the baseline, answering every request of a single-variant endpoint).

``/versions/{v}`` requests address a version of the endpoint's model directly; those load on
demand and stay cached (a few at most).

Predictions go through the host's :class:`~shipyard.runtime.batcher.MicroBatcher`: concurrent
requests coalesce into one predict call in the model's own worker thread. A version with a
checked ONNX conversion (attachment ``onnx``) is loaded with it, read through the artifact store
so its digest is verified, and answers through onnxruntime.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from shipyard.errors import NotFoundError, SignatureError
from shipyard.registry.endpoints import MAIN, EndpointStore
from shipyard.runtime.batcher import DEFAULT_MAX_BATCH_ROWS, DEFAULT_MAX_WAIT, MicroBatcher
from shipyard.serving.frame import Frame, validate_columns
from shipyard.serving.predictor import Outputs, Predictor
from shipyard.serving.routing import Route, ShadowRunner, VariantStats
from shipyard.serving.usage import measure_load

if TYPE_CHECKING:
    from shipyard.registry.client import Registry
    from shipyard.registry.endpoints import Endpoint
    from shipyard.registry.entities import ModelVersion

__all__ = ["ModelHost"]

log = logging.getLogger("shipyard.serving")

RESYNC_SECONDS = 30.0
"""A full re-read at least this often, even when the change mark has not moved."""


class ModelHost:
    """One served endpoint and the version that currently answers for it."""

    def __init__(
        self,
        registry: Registry,
        endpoint: Endpoint,
        *,
        poll_interval: float = 1.0,
        max_pinned: int = 4,
        max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS,
        max_batch_wait: float = DEFAULT_MAX_WAIT,
        use_onnx: bool = True,
        max_shadow_in_flight: int = 8,
    ) -> None:
        self.registry = registry
        self.name = endpoint.name
        self.model = endpoint.model
        self.endpoint = endpoint
        self.ref = endpoint.main.ref
        self.poll_interval = poll_interval
        self.current: Predictor | None = None
        self.route: Route | None = None  # None: one variant, the fast path
        self.variants: dict[str, Predictor] = {}  # the loaded predictor of each variant
        self.stats: dict[str, VariantStats] = {}  # per variant, for rollouts
        self.shadows = ShadowRunner(max_shadow_in_flight)
        self.error: str | None = None
        self.executor: Executor | None = None
        self.on_load: Callable[[Predictor, float, str], None] | None = None
        """Called with each loaded version, the seconds its load and warm-up took, and the
        variant it was loaded for ("" for a version addressed directly)."""
        self._endpoints = EndpointStore(registry.db)
        self._max_pinned = max_pinned
        self._pinned: OrderedDict[int, Predictor] = OrderedDict()
        self._pin_lock = asyncio.Lock()
        self.use_onnx = use_onnx
        self._wake = asyncio.Event()
        self._mark: int | None = None  # the registry's change mark at the last full read
        self._resync_at = 0.0  # time.monotonic() of the next full read, changed or not
        self.batcher = MicroBatcher(
            endpoint.name, max_batch_rows=max_batch_rows, max_wait=max_batch_wait
        )

    @property
    def ready(self) -> bool:
        return self.current is not None

    @property
    def version(self) -> ModelVersion | None:
        current = self.current
        return None if current is None else current.version

    def stats_for(self, variant: str) -> VariantStats:
        stats = self.stats.get(variant)
        if stats is None:
            stats = self.stats[variant] = VariantStats()
        return stats

    async def run(self) -> None:
        """Load, then follow the endpoint and its references until cancelled (the server's
        lifespan task)."""
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep serving what is loaded; say why, retry next poll
                message = f"{type(exc).__name__}: {exc}"
                if message != self.error:
                    log.error("endpoint %s: cannot load %s: %s", self.name, self.ref, message)
                self.error = message
            # Until the next poll, or sooner when the registry announces a change.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()

    def wake(self) -> None:
        """Re-resolve the endpoint now rather than at the next poll (on the event loop)."""
        self._wake.set()

    async def refresh(self) -> bool:
        """Load what the endpoint's variants name now, if it is not what is loaded; True if
        anything was swapped in. Nothing is re-read while the registry's change mark stands
        still (and the last full read is recent)."""
        mark, resolved = await asyncio.to_thread(self._resolve_changed)
        if resolved is None:
            return False
        self._mark = None  # set again once this read has been acted on
        endpoint, versions = resolved
        loaded = {p.version.version: p for p in self.variants.values()}
        if self.current is not None:
            loaded.setdefault(self.current.version.version, self.current)
        wanted: dict[str, Predictor] = {}
        for variant, version in versions.items():
            predictor = loaded.get(version.version) or self._pinned.get(version.version)
            if predictor is None:
                # A main version that fails its warm-up is not swapped in (the old one keeps
                # serving); another variant's is, since its rollout's guardrails judge it.
                strict = variant == MAIN
                predictor = await asyncio.to_thread(self._load, version.ref, strict, variant)
                loaded[version.version] = predictor
            wanted[variant] = predictor
        route = Route.of(endpoint)
        same = wanted == self.variants and route == self.route
        if same and self.current is not None:
            self._mark = mark
            return False
        before = self.current
        for old in self.variants.values():  # kept a while: a rollout may start again soon
            if all(old is not p for p in wanted.values()):
                self._remember(old)
        # The swap: plain assignments on the event loop, so no request sees half of it.
        self.variants = wanted
        self.current = wanted[MAIN]
        self.route = route
        self.endpoint = endpoint
        self.ref = endpoint.main.ref
        self.error = None
        if before is None or before is not self.current:
            was = "nothing" if before is None else before.ref
            log.info("endpoint %s: now serving %s (was %s)", self.name, self.current.ref, was)
        if route is not None:
            table = ", ".join(f"{n}={p.ref}" for n, p in wanted.items())
            log.info("endpoint %s: routing %s over %s", self.name, route.policy, table)
        self._mark = mark
        return True

    def _resolve_changed(
        self,
    ) -> tuple[int | None, tuple[Endpoint, dict[str, ModelVersion]] | None]:
        """The change mark, and the endpoint and its versions (None when the mark is the one
        last acted on and a full read is not due). The mark is read before the endpoint, so a
        change committed in between moves it again for the next poll: none is missed."""
        change_mark = getattr(self.registry.store, "change_mark", None)
        mark = None if change_mark is None else change_mark()
        now = time.monotonic()
        if mark is not None and mark == self._mark and now < self._resync_at:
            return mark, None
        self._resync_at = now + RESYNC_SECONDS
        return mark, self._resolve()

    def _resolve(self) -> tuple[Endpoint, dict[str, ModelVersion]]:
        """The endpoint as stored now (the one given, if it is not in the store) and the
        version each of its variants' references names."""
        try:
            endpoint = self._endpoints.get(self.name)
        except NotFoundError:
            endpoint = self.endpoint
        versions = {v.name: self.registry.get_version(v.ref) for v in endpoint.variants}
        if MAIN not in versions:  # an endpoint whose first variant is not called main
            versions[MAIN] = versions[endpoint.main.name]
        return endpoint, versions

    async def pinned(self, version: int) -> Predictor:
        """The predictor of ``version`` of this endpoint's model, loaded on first use."""
        current = self.current
        if current is not None and current.version.version == version:
            return current
        found = self._pinned.get(version)
        if found is not None:
            self._pinned.move_to_end(version)
            return found
        async with self._pin_lock:
            found = self._pinned.get(version)
            if found is None:
                found = await asyncio.to_thread(self._load, f"{self.model}/{version}")
                self._remember(found)
        return found

    def _remember(self, predictor: Predictor) -> None:
        """Keep ``predictor`` among the few recently used versions (least recent dropped)."""
        self._pinned[predictor.version.version] = predictor
        self._pinned.move_to_end(predictor.version.version)
        while len(self._pinned) > self._max_pinned:
            self._pinned.popitem(last=False)

    def infer(self, predictor: Predictor, frame: Frame, *, proba: bool) -> Awaitable[Outputs]:
        """One prediction, off the event loop, in a micro-batch with concurrent requests (the
        batcher's own awaitable: no coroutine layer of its own on the request path)."""
        return self.batcher.submit(predictor, frame, proba=proba)

    def _load(self, ref: str, strict: bool = True, variant: str = "") -> Predictor:
        started = time.perf_counter()
        with measure_load() as footprint:  # RSS growth, one load at a time (serving/usage.py)
            loaded = self.registry.load(ref)
            onnx = None
            digest = loaded.version.attachments.get("onnx") if self.use_onnx else None
            if digest:
                try:
                    onnx = self.registry.artifacts.get(digest)  # verified against its digest
                except Exception as exc:  # missing or corrupt: serve natively, say why
                    log.warning("endpoint %s: %s: no ONNX fast path: %s", self.name, ref, exc)
            predictor = Predictor(loaded, onnx=onnx)
            try:
                self._warm(predictor)
            except Exception as exc:
                if strict:
                    raise
                log.warning("endpoint %s: %s failed its warm-up: %s", self.name, ref, exc)
        # Freed memory the allocator reused is not growth: the artifact's size is the floor.
        predictor.memory_bytes = footprint.bytes or loaded.version.artifact_size
        seconds = time.perf_counter() - started
        log.info(
            "endpoint %s: %s loaded (%s path) in %.2fs",
            self.name,
            predictor.ref,
            predictor.path,
            seconds,
        )
        if self.on_load is not None:
            self.on_load(predictor, seconds, variant)
        return predictor

    def _warm(self, predictor: Predictor) -> None:
        """One prediction on the first row of the version's reference sample, if it has one,
        so the first request does not pay for lazy initialisation."""
        if predictor.version.sample_digest is None:
            return
        sample = self.registry.reference_sample(predictor.version.ref).head(1)
        if not len(sample):
            return
        row = sample.astype(object).where(sample.notna(), None)
        columns = {name: row[name].to_numpy() for name in predictor.features}
        try:
            frame = validate_columns(predictor.signature, columns, "warm-up")
        except SignatureError as exc:  # a sample the wire format cannot express: skip warming
            log.info("endpoint %s: not warming %s: %s", self.name, predictor.ref, exc)
            return
        predictor.predict(frame)
