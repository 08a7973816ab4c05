"""Model hosts: one per served endpoint, holding the loaded version that answers.

A host resolves its endpoint's main variant through the registry, loads and warms that version
off the event loop, and then (for a reference that can move: an alias, or a bare model name)
re-resolves it every ``poll_interval`` seconds. When the reference moved, the new version is
loaded and warmed off the loop and swapped in with one assignment: a request holds the
:class:`Predictor` it started with, so in-flight requests finish on the old version.

``/versions/{v}`` requests address a version of the endpoint's model directly; those load on
demand and stay cached (a few at most).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import OrderedDict
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from shipyard.errors import SignatureError
from shipyard.registry.refs import parse_ref
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
        self._max_pinned = max_pinned
        self._pinned: OrderedDict[int, Predictor] = OrderedDict()
        self._pin_lock = asyncio.Lock()

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
        """Run one prediction off the event loop (where a batcher will slot in)."""
        loop = asyncio.get_running_loop()
        call = functools.partial(predictor.predict, frame, proba=proba)
        return await loop.run_in_executor(self.executor, call)

    def _load(self, ref: str) -> Predictor:
        predictor = Predictor(self.registry.load(ref))
        self._warm(predictor)
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
