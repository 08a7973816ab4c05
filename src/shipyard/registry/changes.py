"""The change feed: every committed registry change, pushed to this process as it happens.

On PostgreSQL a trigger (migration ``0005``) runs ``pg_notify('shipyard_changes', subject)`` for
every audit entry, and PostgreSQL delivers it when the writing transaction commits. A
:class:`ChangeFeed` holds one connection of its own that ``LISTEN``\\ s on that channel in a daemon
thread and calls its subscribers with each subject (``churn@champion``, ``churn/3``,
``endpoint:churn``...). So a replica hears of an alias move within milliseconds instead of at
its next poll, and can poll rarely.

Notifications are not stored: while the connection is down they are lost. The feed therefore
reconnects with exponential backoff and, each time it is listening again (the first time
included), calls subscribers with :data:`RESYNC`, meaning "anything may have changed: re-read".
Polling stays the safety net behind it.

On SQLite the feed is a no-op (:attr:`ChangeFeed.enabled` is False): replicas on one machine
share the file and poll it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from types import TracebackType

import sqlalchemy as sa

from shipyard.errors import InvalidInputError

__all__ = ["CHANNEL", "RESYNC", "ChangeFeed", "follow"]

log = logging.getLogger("shipyard.registry")

CHANNEL = "shipyard_changes"
RESYNC = "*"
"""The subject subscribers get after (re)connecting: changes may have been missed."""

Callback = Callable[[str], None]


class ChangeFeed:
    """Calls subscribers with the subject of every registry change committed anywhere.

    Callbacks run on the feed's thread, one at a time, and must return quickly (hand the work
    to a loop with ``loop.call_soon_threadsafe``, or set an event); an exception in one is
    logged and does not stop the feed.
    """

    def __init__(
        self,
        url: str,
        *,
        min_backoff: float = 0.1,
        max_backoff: float = 5.0,
        wait: float = 0.5,
    ) -> None:
        try:
            parsed = sa.engine.make_url(url)
        except sa.exc.ArgumentError as exc:
            raise InvalidInputError(
                f"invalid database URL {url!r} for the change feed: use sqlite:///PATH or "
                "postgresql+psycopg://USER@HOST:PORT/DB"
            ) from exc
        self.enabled = parsed.get_backend_name() == "postgresql"
        self.safe_url = parsed.render_as_string(hide_password=True)
        # libpq understands the URL once SQLAlchemy's "+driver" is gone.
        self._conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self._min_backoff = min_backoff
        self._max_backoff = max_backoff
        self._wait = wait
        self._callbacks: list[Callback] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None
        self.connects = 0
        """How many times the feed started listening (1 + reconnections)."""
        self.backend_pid: int | None = None
        """The server process of the current listening connection (for operators and tests)."""

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback(subject)`` for every change; returns the function that unsubscribes."""
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe

    def start(self) -> ChangeFeed:
        """Start listening in a daemon thread (nothing happens on SQLite)."""
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="shipyard-change-feed", daemon=True
            )
            self._thread.start()
        return self

    def wait_listening(self, timeout: float) -> bool:
        """Block until the feed is listening (True) or ``timeout`` passed (False)."""
        return self.enabled and self._listening.wait(timeout)

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    def close(self, timeout: float = 5.0) -> None:
        """Stop listening and wait (up to ``timeout``) for the thread to end."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def __enter__(self) -> ChangeFeed:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        import psycopg

        delay = self._min_backoff
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.backend_pid = conn.info.backend_pid
                    self.connects += 1
                    if self.connects > 1:
                        log.info("change feed: listening again on %s", self.safe_url)
                    self._listening.set()
                    delay = self._min_backoff
                    self._dispatch(RESYNC)
                    while not self._stop.is_set():
                        # Returns after ``wait`` seconds without a notification, so a close()
                        # is noticed; a dropped connection raises at once.
                        for note in conn.notifies(timeout=self._wait):
                            self._dispatch(note.payload)
            except psycopg.Error as exc:
                if not self._stop.is_set():
                    log.warning(
                        "change feed: connection to %s lost or refused (%s); retrying in %.1fs",
                        self.safe_url,
                        str(exc).strip() or type(exc).__name__,
                        delay,
                    )
            finally:
                self._listening.clear()
                self.backend_pid = None
            if self._stop.wait(delay):
                break
            delay = min(delay * 2, self._max_backoff)

    def _dispatch(self, subject: str) -> None:
        with self._lock:
            callbacks = list(self._callbacks)
        for callback in callbacks:
            try:
                callback(subject)
            except Exception:
                log.exception("change feed: a subscriber failed on %r", subject)


async def follow(url: str, on_change: Callback) -> None:
    """Run a :class:`ChangeFeed` on ``url`` until cancelled, calling ``on_change(subject)`` on
    the running event loop (not the feed's thread). A no-op wait on SQLite.

    A server runs this as a background task and wakes its hosts from ``on_change``, so an
    alias move reaches every replica within moments of its commit."""
    loop = asyncio.get_running_loop()
    feed = ChangeFeed(url)

    def hand_over(subject: str) -> None:
        loop.call_soon_threadsafe(on_change, subject)

    feed.subscribe(hand_over)
    feed.start()
    try:
        await asyncio.Event().wait()  # until cancelled
    finally:
        await asyncio.to_thread(feed.close)
