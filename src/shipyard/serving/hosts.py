"""Model hosts: one per served endpoint, holding the loaded version that answers.

A host resolves its endpoint's main variant through the registry, loads and warms that version
off the event loop, and then (for a reference that can move: an alias, or a bare model name)
re-resolves it every ``poll_interval`` seconds. When the reference moved, the new version is
loaded and warmed off the loop and swapped in with one assignment: a request holds the
:class:`Predictor` it started with, so in-flight requests finish on the old version.

``/versions/{v}`` requests address a version of the endpoint's model directly; those load on
demand and stay cached (a few at most).

Predictions go through the host's :class:`~shipyard.runtime.batcher.MicroBatcher`: concurrent
requests coalesce into one predict call in the model's own worker thread. A version with a
checked ONNX conversion (attachment ``onnx``) is loaded with it, read through the artifact store
so its digest is verified, and answers through onnxruntime.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from shipyard.errors import SignatureError
from shipyard.registry.refs import parse_ref
from shipyard.runtime.batcher import DEFAULT_MAX_BATCH_ROWS, DEFAULT_MAX_WAIT, MicroBatcher
from shipyard.serving.frame import Frame, validate_columns
from shipyard.serving.predictor import Outputs, Predictor

if TYPE_CHECKING:
    from shipyard.registry.client import Registry
    from shipyard.registry.endpoints import Endpoint
    from shipyard.registry.entities import ModelVersion

__all__ = ["ModelHost"]

log = logging.getLogger("shipyard.serving")


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
    ) -> None:
        self.registry = registry
        self.name = endpoint.name
        self.model = endpoint.model
        self.ref = endpoint.main.ref
        self.follows = parse_ref(self.ref).version is None
        self.poll_interval = poll_interval
        self.current: Predictor | None = None
        self.error: str | None = None
        self.executor: Executor | None = None
        self.on_load: Callable[[Predictor, float], None] | None = None
        """Called with each loaded version and the seconds its load and warm-up took."""
        self._max_pinned = max_pinned
        self._pinned: OrderedDict[int, Predictor] = OrderedDict()
        self._pin_lock = asyncio.Lock()
        self.use_onnx = use_onnx
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

    async def run(self) -> None:
        """Load, then follow the reference until cancelled (the server's lifespan task)."""
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
            if self.current is not None and not self.follows:
                return
            await asyncio.sleep(self.poll_interval)

    async def refresh(self) -> bool:
        """Load the version the reference names now, if it is not the one loaded; True if
        a new version was swapped in."""
        version = await asyncio.to_thread(self.registry.get_version, self.ref)
        current = self.current
        if current is not None and current.version.version == version.version:
            return False
        predictor = await asyncio.to_thread(self._load, version.ref)
        self.current = predictor  # the swap: one assignment, atomic for every reader
        self.error = None
        before = "nothing" if current is None else current.ref
        log.info("endpoint %s: now serving %s (was %s)", self.name, predictor.ref, before)
        return True

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
                self._pinned[version] = found
                while len(self._pinned) > self._max_pinned:
                    self._pinned.popitem(last=False)
        return found

    async def infer(self, predictor: Predictor, frame: Frame, *, proba: bool) -> Outputs:
        """One prediction, off the event loop, in a micro-batch with concurrent requests."""
        return await self.batcher.submit(predictor, frame, proba=proba)

    def _load(self, ref: str) -> Predictor:
        started = time.perf_counter()
        loaded = self.registry.load(ref)
        onnx = None
        digest = loaded.version.attachments.get("onnx") if self.use_onnx else None
        if digest:
            try:
                onnx = self.registry.artifacts.get(digest)  # verified against its digest
            except Exception as exc:  # missing or corrupt: serve natively, say why
                log.warning("endpoint %s: %s: no ONNX fast path: %s", self.name, ref, exc)
        predictor = Predictor(loaded, onnx=onnx)
        self._warm(predictor)
        seconds = time.perf_counter() - started
        log.info(
            "endpoint %s: %s loaded (%s path) in %.2fs",
            self.name,
            predictor.ref,
            predictor.path,
            seconds,
        )
        if self.on_load is not None:
            self.on_load(predictor, seconds)
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
