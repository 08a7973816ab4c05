"""Adaptive micro-batching: concurrent requests to one model share one predict call.

One :class:`MicroBatcher` per served model, with one worker thread of its own (on a small
server a second thread per model only adds contention). The policy:

* **Idle: no added latency.** A request that finds no batch running and nothing queued is
  dispatched at once, as a batch of one.
* **Cheap batches run inline.** Handing a batch to the worker thread and back costs the event
  loop and the thread about 100 µs on one core (two context switches, the GIL changing hands,
  a future resolved across threads), more than an ONNX prediction of a few dozen rows takes.
  So once a model version has been timed, a batch whose predicted time is at most
  ``inline_max_seconds`` runs inline on the event loop. The default is
  :data:`INLINE_MAX_SECONDS`, or :data:`INLINE_MAX_SECONDS_ONE_CPU` when the process can use
  only one CPU (its affinity, or a container's CPU limit: :func:`~shipyard.runtime.cpus.
  usable_cpus`): there the worker thread can never run beside the event loop, so the hop buys
  nothing and only a long prediction is worth handing over.
  The prediction comes from the model's last two runs: no more rows cost no more than a run
  did, more rows cost proportionally more, and the lower of the two counts (one run held up by
  another thread is not a verdict). The first batch of each model version runs in the thread
  and is timed, and every run (inline or not) is timed again, so a model that turns out slow
  goes back to the thread after two runs at most. A failure makes the next batch go to the
  thread.
* **Busy: batches form by themselves.** While a batch runs in the worker thread (or while the
  event loop lingers, below), the event loop keeps decoding and validating requests, which
  queue. When the batch ends, everything queued (up to ``max_batch_rows`` rows) becomes the next
  batch. The batch size follows the load.
* **Bounded lingering.** Under concurrency (the last batch held more than one request), a batch
  smaller than ``max_batch_rows`` lets the event loop turn while requests keep arriving, and
  goes as soon as :data:`IDLE_TURNS` turns bring none, the batch is full, or its oldest request
  has waited ``max_wait`` seconds (never longer). ``max_wait=0`` turns lingering off.

Requests are taken first-in first-out; one batch holds requests for one predictor (the version
that answers), so a hot swap ends a batch early instead of mixing versions. Results are split
back per request by row offsets. An exception in a batch fails exactly the requests of that
batch (logged once); requests before and after it are unaffected. Validation happens before
a request reaches the batcher, so a bad request never shares a batch.

Observability (for the metrics module): :attr:`MicroBatcher.queue_depth` (requests waiting),
:attr:`MicroBatcher.last_batch_size` (requests in the last batch; ``last_batch_rows`` its rows),
and two hooks, settable after construction: ``on_batch(model, size)``, called on the event loop
as each batch is dispatched with the predictor and the number of requests coalesced, and
``on_queue_depth(depth)``, called with the requests left waiting after each dispatch. A hook
that raises is logged and ignored. ``on_usage(model, requests, rows, cpu_seconds)`` is called
on the event loop after each successful batch with the thread CPU time of its predict call
(``time.thread_time()`` in the thread that ran it), for usage metering.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from shipyard.serving.frame import Frame
    from shipyard.serving.predictor import Outputs

__all__ = [
    "DEFAULT_MAX_BATCH_ROWS",
    "DEFAULT_MAX_WAIT",
    "BatchModel",
    "MicroBatcher",
    "default_inline_budget",
]

log = logging.getLogger("shipyard.serving")

DEFAULT_MAX_BATCH_ROWS = 64
DEFAULT_MAX_WAIT = 0.002  # seconds
INLINE_MAX_SECONDS = 100e-6
"""A batch predicted to take at most this long runs inline on the event loop (measured on the
benchmark's ONNX models: one row 15-30 µs and 16 rows of the logistic regression 35 µs inline,
against about 100 µs of CPU for the round trip through the worker thread)."""
INLINE_MAX_SECONDS_ONE_CPU = 2e-3
"""The same, for a process that can use only one CPU: the hop is pure cost there (a forest of
100 trees on 16 rows takes 70-150 µs inline, and its batches spent about 300 µs of CPU each in
the thread). A batch over this still goes to the thread, so that a slow model's predictions
share the CPU with the event loop instead of stopping it."""
IDLE_TURNS = 3
"""Event-loop turns without a new request after which a lingering batch goes (measured: 1 turn
dispatches too early, since a request needs a few turns from socket to queue; a timer that
waits for a full batch always times out under closed-loop clients, adding max_wait to every
request)."""


class BatchModel(Protocol):
    """What the batcher calls: one prediction over several frames' rows, in order."""

    ref: str

    def predict_batch(self, frames: Sequence[Frame], *, proba: bool = True) -> Outputs: ...


@dataclass(slots=True)
class _Item:
    model: BatchModel
    frame: Frame
    proba: bool
    future: asyncio.Future[Outputs]
    queued: float


class MicroBatcher:
    """Coalesces concurrent ``submit`` calls for one served model."""

    def __init__(
        self,
        name: str,
        *,
        max_batch_rows: int = DEFAULT_MAX_BATCH_ROWS,
        max_wait: float = DEFAULT_MAX_WAIT,
        inline_max_seconds: float | None = None,
        on_batch: Callable[[BatchModel, int], None] | None = None,
        on_queue_depth: Callable[[int], None] | None = None,
    ) -> None:
        if max_batch_rows < 1:
            raise ValueError("max_batch_rows must be at least 1")
        if max_wait < 0:
            raise ValueError("max_wait must be zero or more seconds")
        if inline_max_seconds is None:
            inline_max_seconds = default_inline_budget()
        if inline_max_seconds < 0:
            raise ValueError("inline_max_seconds must be zero or more seconds")
        self.name = name
        self.max_batch_rows = max_batch_rows
        self.max_wait = max_wait
        self.inline_max_seconds = inline_max_seconds
        """Batches predicted to take at most this long run inline (0: never)."""
        self.on_batch = on_batch
        self.on_queue_depth = on_queue_depth
        self.on_usage: Callable[[BatchModel, int, int, float], None] | None = None
        self.last_batch_size = 0
        """Requests in the last batch dispatched."""
        self.last_batch_rows = 0
        self.batches = 0
        """Batches dispatched so far."""
        self._queue: deque[_Item] = deque()
        self._queued_rows = 0
        self._draining = False
        self._arrivals = 0
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._timed_model: Callable[[], BatchModel | None] = _nobody
        """The model of the last batches that ran (a weak reference: a swapped-out version is
        not kept alive for this)."""
        self._timings: deque[tuple[int, float]] = deque(maxlen=2)
        """The rows of that model's last two batches and how long each prediction took."""
        self.inline_batches = 0
        """Batches predicted inline on the event loop so far."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        """The event loop of the last submit, and its thread: one thread runs one loop at a
        time, so while that loop runs in this thread it is the running loop. (Asking asyncio
        for the running loop costs a ``getpid`` system call, once per request.)"""

    @property
    def queue_depth(self) -> int:
        """Requests waiting for a batch (not counting the batch running)."""
        return len(self._queue)

    async def submit(self, model: BatchModel, frame: Frame, *, proba: bool = True) -> Outputs:
        """The outputs for ``frame``'s rows, predicted by ``model`` in some batch."""
        loop = self._loop
        if loop is None or self._loop_thread != threading.get_ident() or not loop.is_running():
            loop = self._loop = asyncio.get_running_loop()
            self._loop_thread = threading.get_ident()
        future: asyncio.Future[Outputs] = loop.create_future()
        self._queue.append(_Item(model, frame, proba, future, time.monotonic()))
        self._queued_rows += frame.n_rows
        self._arrivals += 1
        if not self._draining:
            self._start(loop)
        return await future

    def close(self) -> None:
        """Stop the worker thread (after the batch running, if any)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None

    # -- the dispatch loop: one task per busy period ---------------------------------------

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._draining = True
        self._task = loop.create_task(self._drain(), name=f"batch-{self.name}")

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                if self.max_wait > 0 and self.last_batch_size > 1:
                    await self._linger(loop)
                batch = self._take()
                if batch:
                    await self._run(loop, batch)
        finally:
            self._draining = False
            if self._queue and not loop.is_closed():  # cancelled mid-way: hand on the rest
                self._start(loop)

    async def _linger(self, loop: asyncio.AbstractEventLoop) -> None:
        """Let the event loop turn while requests keep arriving: stop at a full batch, at the
        oldest request's wait budget, or after IDLE_TURNS turns that brought no request."""
        deadline = self._queue[0].queued + self.max_wait
        seen, idle = self._arrivals, 0
        while self._queued_rows < self.max_batch_rows and time.monotonic() < deadline:
            await asyncio.sleep(0)
            if self._arrivals == seen:
                idle += 1
                if idle >= IDLE_TURNS:
                    return
            else:
                seen, idle = self._arrivals, 0

    def _take(self) -> list[_Item]:
        """The next batch: the oldest requests, for one model, up to the row limit (a request
        over the limit alone makes a batch of its own)."""
        queue = self._queue
        batch: list[_Item] = []
        rows = 0
        model: BatchModel | None = None
        while queue:
            item = queue[0]
            if item.future.done():  # cancelled while queued (the client went away)
                queue.popleft()
                self._queued_rows -= item.frame.n_rows
                continue
            if batch and (
                item.model is not model or rows + item.frame.n_rows > self.max_batch_rows
            ):
                break
            queue.popleft()
            self._queued_rows -= item.frame.n_rows
            model = item.model
            batch.append(item)
            rows += item.frame.n_rows
        return batch

    async def _run(self, loop: asyncio.AbstractEventLoop, batch: list[_Item]) -> None:
        model = batch[0].model
        frames = [item.frame for item in batch]
        proba = any(item.proba for item in batch)
        rows = sum(frame.n_rows for frame in frames)
        self.last_batch_size = len(batch)
        self.last_batch_rows = rows
        self.batches += 1
        if self.on_batch is not None or self.on_queue_depth is not None:
            self._observe(model, len(batch))
        try:
            if model is self._timed_model() and self._cheap(rows):
                self.inline_batches += 1
                outputs, seconds, cpu = _timed(model, frames, proba)
            else:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(
                        1, thread_name_prefix=f"shipyard-{self.name}"
                    )
                outputs, seconds, cpu = await loop.run_in_executor(
                    self._executor, _timed, model, frames, proba
                )
            if self._timed_model() is not model:
                self._timed_model = _weak(model)
                self._timings.clear()
            self._timings.append((rows, seconds))
        except asyncio.CancelledError:  # the server is stopping: no answer is coming
            for item in batch:
                item.future.cancel()
            raise
        except Exception as exc:
            self._timed_model = _nobody  # a failure says nothing of the cost: time it again
            self._timings.clear()
            ids = ", ".join(item.frame.request_id for item in batch[:8])
            log.error(
                "model %s: %s failed on a batch of %d request(s) (%s%s), %d row(s): %s: %s",
                self.name,
                model.ref,
                len(batch),
                ids,
                ", ..." if len(batch) > 8 else "",
                rows,
                type(exc).__name__,
                exc,
                exc_info=not _expected(exc),
            )
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
            return
        if self.on_usage is not None:
            try:  # a metering hook must not fail predictions
                self.on_usage(model, len(batch), rows, cpu)
            except Exception:
                log.exception("model %s: the usage hook failed", self.name)
        if len(batch) == 1:
            item = batch[0]
            if not item.future.done():
                item.future.set_result(outputs if item.proba else _without_proba(outputs))
            return
        start = 0
        for item in batch:
            stop = start + item.frame.n_rows
            if not item.future.done():
                item.future.set_result(_slice(outputs, start, stop, item.proba))
            start = stop

    def _cheap(self, rows: int) -> bool:
        """Whether ``rows`` rows of the timed model are predicted to take at most
        ``inline_max_seconds``. Each of its last two batches predicts: no more rows than it held
        cost no more than it did, more cost proportionally more (an overestimate, as a call has
        a fixed cost). The lower prediction counts, so one run that another thread held up does
        not send a cheap model to the worker thread; two slow runs in a row do."""
        budget = self.inline_max_seconds
        for timed_rows, seconds in self._timings:
            if rows > timed_rows:
                seconds *= rows / timed_rows
            if seconds <= budget:
                return True
        return False

    def _observe(self, model: BatchModel, size: int) -> None:
        try:  # a metrics hook must not fail predictions
            if self.on_batch is not None:
                self.on_batch(model, size)
            if self.on_queue_depth is not None:
                self.on_queue_depth(len(self._queue))
        except Exception:
            log.exception("model %s: a batch metrics hook failed", self.name)


def default_inline_budget() -> float:
    """:data:`INLINE_MAX_SECONDS`, or :data:`INLINE_MAX_SECONDS_ONE_CPU` on one CPU."""
    from shipyard.runtime.cpus import usable_cpus

    return INLINE_MAX_SECONDS_ONE_CPU if usable_cpus() <= 1.0 else INLINE_MAX_SECONDS


def _nobody() -> None:
    return None


def _weak(model: BatchModel) -> Callable[[], BatchModel | None]:
    try:
        return weakref.ref(model)
    except TypeError:  # a model that takes no weak references is never run inline
        return _nobody


def _timed(model: BatchModel, frames: list[Frame], proba: bool) -> tuple[Outputs, float, float]:
    """The batch's outputs, the seconds the prediction took, and the CPU-seconds the thread
    that ran it spent (work the library handed to threads of its own is not included)."""
    started, cpu = time.perf_counter(), time.thread_time()
    outputs = model.predict_batch(frames, proba=proba)
    return outputs, time.perf_counter() - started, time.thread_time() - cpu


def _expected(exc: BaseException) -> bool:
    """Errors the app answers with a 4xx (a ShipyardError): no traceback in the log."""
    from shipyard.errors import ShipyardError

    return isinstance(exc, ShipyardError)


def _slice(outputs: Outputs, start: int, stop: int, proba: bool) -> Outputs:
    probabilities = outputs.probabilities
    return type(outputs)(
        outputs.labels[start:stop],
        probabilities[start:stop] if proba and probabilities is not None else None,
        outputs.classes if proba and probabilities is not None else None,
    )


def _without_proba(outputs: Outputs) -> Outputs:
    if outputs.probabilities is None:
        return outputs
    return type(outputs)(outputs.labels)
