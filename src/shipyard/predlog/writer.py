"""The group-commit writer: the server appends, one thread writes batches.

Appends only serialise the record (in the caller's thread) and put it in a bounded buffer. A
writer thread takes what has accumulated — up to ``max_batch`` rows — and commits it as one
transaction; whatever arrives during that commit forms the next batch, so concurrent durable
appends share one commit. The server offers whole answered requests instead
(:meth:`PredictionLog.offer`, :meth:`PredictionLog.submit_served`): one object per request on
the event loop, whose rows the writer thread makes (:func:`~shipyard.predlog.record.row_tuples`)
just before it commits them.

Modes (``mode`` only tells :meth:`PredictionLog.submit` which of the two to use):

* ``buffered`` — :meth:`~PredictionLog.append` returns at once; the writer commits a record within
  ``flush_interval`` seconds (sooner when ``max_batch`` rows are waiting) and at :meth:`close`.
* ``durable`` — :meth:`~PredictionLog.append_durable` returns once the record's batch is
  committed, so a SIGKILL after the acknowledgement loses nothing.

Backpressure: the buffer holds ``capacity`` rows (queued plus being written). When full, sync
appends wait up to ``append_timeout`` then raise :class:`LogFullError`; async appends await
space. A failed commit (database down) is counted, retried with exponential backoff, and its rows
stay pending: nothing is dropped. :meth:`close` raises if rows could not be written in time.

Per model (:meth:`PredictionLog.configure_model`, from its tags): a sampling rate — requests not
sampled are counted in ``sampled_out``, never buffered — and the features to hash or drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from shipyard.predlog.errors import LogClosedError, LogFullError, PredictionLogError
from shipyard.predlog.policy import keeps, policy_from_tags
from shipyard.predlog.record import (
    ROW_COLUMNS,
    PredictionRecord,
    ServedRequest,
    row_tuples,
    row_tuples_many,
    to_row,
)
from shipyard.predlog.redact import Action, Redactor
from shipyard.predlog.store import PredictionStore

__all__ = ["Mode", "PredictionLog"]

log = logging.getLogger("shipyard.predlog")

Mode = Literal["buffered", "durable"]
Done = Callable[[BaseException | None], None]
_WARN_EVERY = 30.0
_ROWS_PER_TURN = 64
"""Served rows the writer makes between two releases of the GIL (about 0.3 ms of work)."""


@dataclass(slots=True)
class _Group:
    """The rows of one append: written in one batch, acknowledged together. ``rows`` are store
    rows, or for a served request, None until the writer makes them from ``served``."""

    rows: list[dict[str, Any]] | None
    done: Done | None
    queued_at: float
    n: int
    served: ServedRequest | None = None


class PredictionLog:
    """Buffered, batched, retried writes of prediction records to a :class:`PredictionStore`.

    Counters for ``/metrics``: ``written`` (rows committed), ``pending`` (rows appended, not yet
    committed), ``failed`` (rows in failed commit attempts, each retry counting again, and rows
    of a served request that could not be made into store rows),
    ``sampled_out`` (rows of requests a model's sampling rate left out), plus ``batches`` and
    ``largest_batch``.
    """

    def __init__(
        self,
        store: PredictionStore,
        *,
        mode: Mode = "buffered",
        capacity: int = 10_000,
        max_batch: int = 1_000,
        flush_interval: float = 1.0,
        append_timeout: float = 5.0,
        retry_initial: float = 0.05,
        retry_max: float = 5.0,
        sensitive: Mapping[str, Mapping[str, Action]] | None = None,
    ) -> None:
        if mode not in ("buffered", "durable"):
            raise PredictionLogError(
                f"unknown prediction log mode {mode!r}; use buffered or durable"
            )
        if capacity < 1 or max_batch < 1 or flush_interval <= 0:
            raise PredictionLogError("capacity and max_batch must be >= 1, flush_interval > 0")
        self.store = store
        self.mode: Mode = mode
        self.capacity = capacity
        self.max_batch = max_batch
        self.flush_interval = flush_interval
        self.append_timeout = append_timeout
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.redactor = Redactor(store.salt, sensitive)
        self.written = 0
        self.failed = 0
        self._unmade = 0  # rows of served requests that could not be made (never written)
        self.sampled_out = 0
        self._sample_rates: dict[str, float] = {}  # models logged at a rate below 1
        self.batches = 0
        self.largest_batch = 0
        self.last_error: str | None = None
        self._cond = threading.Condition()
        self._queue: deque[_Group] = deque()
        self._queued = 0  # rows in _queue
        self._inflight = 0  # rows in the batch being written
        self._durable_queued = 0  # groups in _queue whose caller waits for the commit
        self._appended = 0
        self._flush_to = 0
        self._space_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._closing = False
        self._give_up = threading.Event()
        self._last_warning = 0.0
        self._thread = threading.Thread(target=self._run, name="shipyard-predlog", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        return self._queued + self._inflight

    # -- appending ---------------------------------------------------------------------------

    def append(self, *records: PredictionRecord, timeout: float | None = None) -> None:
        """Buffer records; returns at once unless the buffer is full, then waits up to
        ``timeout`` (default ``append_timeout``) and raises :class:`LogFullError`. From an event
        loop prefer ``await submit(...)``, which never blocks the loop."""
        group = self._group(records, None)
        if group is None:
            return
        wait = self.append_timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        with self._cond:
            while not self._admit(group):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._full(wait)
                self._cond.wait(remaining)

    async def append_async(self, *records: PredictionRecord, timeout: float | None = None) -> None:
        """Buffer records, awaiting (not blocking) while the buffer is full."""
        group = self._group(records, None)
        if group is not None:
            await self._admit_async(group, self.append_timeout if timeout is None else timeout)

    async def append_durable(self, *records: PredictionRecord) -> None:
        """Return once the records are committed (awaits space while the buffer is full)."""
        await self._committed(lambda done: self._group(records, done))

    def append_durable_sync(self, *records: PredictionRecord, timeout: float | None = None) -> None:
        """:meth:`append_durable` for threads: blocks until the records are committed."""
        event = threading.Event()
        failure: list[BaseException] = []

        def done(exc: BaseException | None) -> None:
            if exc is not None:
                failure.append(exc)
            event.set()

        group = self._group(records, done)
        if group is None:
            return
        with self._cond:
            while not self._admit(group):
                self._cond.wait()
        if not event.wait(timeout):
            raise PredictionLogError(f"records not committed within {timeout}s")
        if failure:
            raise failure[0]

    async def submit(self, *records: PredictionRecord) -> None:
        """What the server calls: ``append_durable`` in durable mode, else ``append_async``."""
        if self.mode == "durable":
            await self.append_durable(*records)
        else:
            await self.append_async(*records)

    def offer(self, served: ServedRequest) -> bool:
        """Buffer one answered request's rows without waiting (buffered mode): False when the
        buffer is full (then ``await submit_served(...)``, which waits for space). The rows are
        made in the writer thread; see :func:`~shipyard.predlog.record.row_tuples`."""
        group = self._served_group(served, None)
        if group is None:
            return True
        with self._cond:
            return self._admit(group)

    async def submit_served(self, served: ServedRequest) -> None:
        """:meth:`submit` for one answered request: in durable mode, return once its rows are
        committed; else once they are buffered (awaiting space while the buffer is full)."""
        if self.mode != "durable":
            group = self._served_group(served, None)
            if group is not None:
                await self._admit_async(group, self.append_timeout)
            return
        await self._committed(lambda done: self._served_group(served, done))

    async def _committed(self, make: Callable[[Done], _Group | None]) -> None:
        """Queue the group ``make`` builds around a commit callback; return once it is
        committed (awaiting space while the buffer is full)."""
        loop = asyncio.get_running_loop()
        committed: asyncio.Future[None] = loop.create_future()

        def done(exc: BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # the caller's loop closed: nobody waits
                loop.call_soon_threadsafe(_settle, committed, exc)

        group = make(done)
        if group is None:
            return
        await self._admit_async(group, None)
        await committed

    def configure_model(self, model: str, tags: Mapping[str, str]) -> None:
        """Apply a model's logging tags (``shipyard.log.sample_rate``,
        ``shipyard.log.sensitive``; see :mod:`shipyard.predlog.policy`), replacing what was set
        before; a missing tag means its default (log every request, store every feature). A bad
        value raises :class:`~shipyard.errors.InvalidInputError` and changes nothing."""
        policy = policy_from_tags(model, tags)
        self.redactor.set_rules(model, policy.sensitive)
        rates = dict(self._sample_rates)  # replaced, not changed: appends read it unlocked
        if policy.sample_rate < 1.0:
            rates[model] = policy.sample_rate
        else:
            rates.pop(model, None)
        self._sample_rates = rates

    def set_sensitive(self, model: str, features: Mapping[str, Action]) -> None:
        """Set which of a model's features are hashed or dropped (from the model's config)."""
        self.redactor.set_rules(model, features)

    # -- flushing and closing ----------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Write everything appended so far; False if ``timeout`` passed first."""
        with self._cond:
            target = self._appended
            self._flush_to = max(self._flush_to, target)
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self.written + self._unmade >= target, timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Write every pending record and stop the writer. Raises :class:`PredictionLogError`
        naming how many records were not written if the store stayed unreachable for
        ``timeout`` seconds."""
        with self._cond:
            already = self._closing
            self._closing = True
            self._cond.notify_all()
            waiters, self._space_waiters = self._space_waiters, []
        _wake(waiters)
        if already and not self._thread.is_alive():
            return
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._give_up.set()
            self._thread.join()
        with self._cond:
            left = list(self._queue)
            self._queue.clear()
            lost, self._queued = self._queued, 0
        if lost:
            error = PredictionLogError(
                f"{lost} prediction records could not be written to {self.store.safe_url} within "
                f"{timeout}s of close (last error: {self.last_error}); they were not stored"
            )
            for group in left:
                if group.done is not None:
                    group.done(error)
            raise error

    async def aclose(self, timeout: float = 30.0) -> None:
        await asyncio.to_thread(self.close, timeout)

    def __enter__(self) -> PredictionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------

    def _group(self, records: tuple[PredictionRecord, ...], done: Done | None) -> _Group | None:
        if self._closing:
            raise LogClosedError("the prediction log is closed; no more records can be appended")
        if self._sample_rates:
            records = self._sample(records)
        if not records:
            return None
        rows = [to_row(r, self.redactor.apply(r.model, r.inputs)) for r in records]
        return _Group(rows, done, time.monotonic(), len(rows))

    def _served_group(self, served: ServedRequest, done: Done | None) -> _Group | None:
        if self._closing:
            raise LogClosedError("the prediction log is closed; no more records can be appended")
        rates = self._sample_rates
        n = served.n_rows
        if rates and served.model in rates and not keeps(served.request_id, rates[served.model]):
            with self._cond:
                self.sampled_out += n
            return None
        if n == 0:
            return None
        return _Group(None, done, 0.0, n, served)

    def _sample(self, records: tuple[PredictionRecord, ...]) -> tuple[PredictionRecord, ...]:
        """The records whose request the model's sampling rate keeps (all rows of a request
        share its id, so they are kept or left out together)."""
        rates = self._sample_rates
        kept = tuple(
            r for r in records if r.model not in rates or keeps(r.request_id, rates[r.model])
        )
        if len(kept) < len(records):
            with self._cond:
                self.sampled_out += len(records) - len(kept)
        return kept

    def _admit(self, group: _Group) -> bool:
        """Queue the group if there is room (always when empty, so no group is too big)."""
        if self._closing:
            raise LogClosedError("the prediction log is closed; no more records can be appended")
        n = group.n
        if self.pending and self.pending + n > self.capacity:
            return False
        group.queued_at = time.monotonic()
        self._queue.append(group)
        self._queued += n
        self._appended += n
        if group.done is not None:
            self._durable_queued += 1
        # Wake the writer only when it has something to do now: the first group (it starts the
        # flush timer), a durable group, or a full batch. Waking it on every buffered append costs
        # a thread switch per request on a busy core.
        if len(self._queue) == 1 or group.done is not None or self._queued >= self.max_batch:
            self._cond.notify_all()
        return True

    async def _admit_async(self, group: _Group, timeout: float | None) -> None:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            with self._cond:
                if self._admit(group):
                    return
                space: asyncio.Future[None] = loop.create_future()
                self._space_waiters.append((loop, space))
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                raise self._full(timeout or 0.0)
            await asyncio.wait({space}, timeout=remaining)

    def _full(self, waited: float) -> LogFullError:
        cause = f"; last write error: {self.last_error}" if self.last_error else ""
        return LogFullError(
            f"prediction log buffer full ({self.pending} of {self.capacity} records pending) for "
            f"{waited}s: the store {self.store.safe_url} is not keeping up{cause}. Raise the "
            "capacity, use a faster store, or shed load"
        )

    def _due(self) -> bool:
        if not self._queue:
            return False
        return (
            self._closing
            or self._durable_queued > 0
            or self._queued >= self.max_batch
            or self._flush_to > self.written
            or time.monotonic() >= self._queue[0].queued_at + self.flush_interval
        )

    def _take(self) -> list[_Group] | None:
        with self._cond:
            while not self._due():
                if self._give_up.is_set() or (self._closing and not self._queue):
                    return None
                wait = None
                if self._queue:
                    wait = max(self._queue[0].queued_at + self.flush_interval - time.monotonic(), 0)
                self._cond.wait(wait)
            if self._give_up.is_set():
                return None
            groups: list[_Group] = []
            rows = 0
            while self._queue and (not groups or rows + self._queue[0].n <= self.max_batch):
                group = self._queue.popleft()
                groups.append(group)
                rows += group.n
                self._durable_queued -= group.done is not None
            self._queued -= rows
            self._inflight = rows
            return groups

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # a bug here must not leave callers waiting forever
            log.exception("the prediction log writer stopped")
            with self._cond:
                self.last_error = f"writer stopped: {type(exc).__name__}: {exc}"
                self._closing = True
                groups = list(self._queue)
                self._cond.notify_all()
                waiters, self._space_waiters = self._space_waiters, []
            _wake(waiters)
            error = PredictionLogError(f"the prediction log writer stopped: {exc}")
            for group in groups:
                if group.done is not None:
                    group.done(error)

    def _loop(self) -> None:
        while True:
            groups = self._take()
            if groups is None:
                return
            n = sum(group.n for group in groups)
            params, failed = self._params(groups)
            ok = self._write(params)
            with self._cond:
                self._inflight = 0
                if ok:
                    self.written += len(params)
                    self.failed += n - len(params)
                    self._unmade += n - len(params)
                    self.batches += 1
                    self.largest_batch = max(self.largest_batch, len(params))
                else:  # giving up at close: put them back for close() to report
                    self._queue.extendleft(reversed(groups))
                    self._queued += n
                self._cond.notify_all()
                waiters, self._space_waiters = self._space_waiters, []
            _wake(waiters)
            if not ok:
                return
            for group in groups:
                if group.done is not None:
                    group.done(failed.get(id(group)))

    def _params(self, groups: list[_Group]) -> tuple[list[tuple[Any, ...]], dict[int, Exception]]:
        """The batch's rows as tuples in the store's column order: appended rows as they are,
        served requests' rows made now (in this thread, :data:`_ROWS_PER_TURN` at a time between
        GIL releases, so the event loop never waits long), many requests together
        (:func:`~shipyard.predlog.record.row_tuples_many`). A request whose rows cannot be made
        (a value JSON cannot hold: the server validates inputs first, so only a bug) is logged
        and counted in ``failed``, and its durable caller gets the error."""
        params: list[tuple[Any, ...]] = []
        failed: dict[int, Exception] = {}
        served: list[_Group] = []
        rows = 0
        for group in groups:
            if group.served is not None:
                served.append(group)
                rows += group.n
                if rows >= _ROWS_PER_TURN:
                    self._make(served, params, failed)
                    served, rows = [], 0
                    time.sleep(0)  # let the event loop take the GIL
                continue
            if served:
                self._make(served, params, failed)
                served, rows = [], 0
            assert group.rows is not None
            params.extend(tuple(row[c] for c in ROW_COLUMNS) for row in group.rows)
        if served:
            self._make(served, params, failed)
        return params, failed

    def _make(
        self,
        groups: list[_Group],
        params: list[tuple[Any, ...]],
        failed: dict[int, Exception],
    ) -> None:
        """The rows of served requests, together; one at a time when that fails, to find
        the request that cannot be made and keep the others."""
        try:
            params.extend(row_tuples_many([g.served for g in groups], self.redactor))  # type: ignore[misc]
            return
        except Exception:
            pass
        for group in groups:
            assert group.served is not None
            try:
                params.extend(row_tuples(group.served, self.redactor))
            except Exception as exc:
                failed[id(group)] = exc
                log.error("prediction records of request %s not logged: %s",
                          group.served.request_id, exc)  # fmt: skip

    def _write(self, rows: list[tuple[Any, ...]]) -> bool:
        """Commit the batch, retrying with backoff until it works or close() gives up."""
        delay = self.retry_initial
        while True:
            try:
                self.store.insert_tuples(rows)
                if self.last_error is not None:
                    log.info("prediction log writes to %s recovered", self.store.safe_url)
                    self.last_error = None
                return True
            except Exception as exc:  # any failure is retried: the rows must not be dropped
                with self._cond:
                    self.failed += len(rows)
                    self.last_error = f"{type(exc).__name__}: {exc}".splitlines()[0]
                now = time.monotonic()
                if now - self._last_warning >= _WARN_EVERY:
                    self._last_warning = now
                    log.warning(
                        "prediction log write to %s failed (%s); %d records pending, retrying",
                        self.store.safe_url, self.last_error, self.pending,
                    )  # fmt: skip
            if self._give_up.wait(delay):
                return False
            delay = min(delay * 2, self.retry_max)


def _settle(future: asyncio.Future[None], exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is None:
        future.set_result(None)
    else:
        future.set_exception(exc)


def _wake(waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]) -> None:
    for loop, future in waiters:
        with contextlib.suppress(RuntimeError):  # that loop is closed
            loop.call_soon_threadsafe(_settle, future, None)
