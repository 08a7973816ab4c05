"""The change feed on the real PostgreSQL server: a change committed by another process reaches a
listener, a rolled-back one never does, and the feed comes back after its connection is killed."""

from __future__ import annotations

import asyncio
import queue
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from shipyard.errors import InvalidInputError
from shipyard.registry import schema as t
from shipyard.registry.changes import RESYNC, ChangeFeed, follow
from shipyard.registry.engine import Database

TIMEOUT = 30.0  # generous: the machine is shared; delivery is normally milliseconds

_MOVE_ALIAS = """
import sys
from shipyard.registry.client import Registry
from shipyard.settings import Settings
reg = Registry(Settings(home=sys.argv[1], database_url=sys.argv[2], actor="other-process"))
reg.set_alias("churn", "champion", 2)
reg.close()
"""


def _next_subject(inbox: queue.Queue[str], *, skip_resync: bool = True) -> str:
    deadline = time.monotonic() + TIMEOUT
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "no change notification arrived"
        subject = inbox.get(timeout=remaining)
        if not (skip_resync and subject == RESYNC):
            return subject


def _listening_feed(url: str) -> tuple[ChangeFeed, queue.Queue[str]]:
    inbox: queue.Queue[str] = queue.Queue()
    feed = ChangeFeed(url, min_backoff=0.05, max_backoff=0.5, wait=0.2)
    feed.subscribe(inbox.put)
    feed.start()
    assert feed.wait_listening(TIMEOUT), "the change feed never started listening"
    assert _next_subject(inbox, skip_resync=False) == RESYNC  # said once it listens
    return feed, inbox


@pytest.mark.postgres
def test_an_alias_move_in_another_process_reaches_the_listener(pg_registry: Any) -> None:
    feed, inbox = _listening_feed(pg_registry.db.url)
    home = str(pg_registry.settings.home)  # the same settings: no config.change entry first
    try:
        subprocess.run(
            [sys.executable, "-c", _MOVE_ALIAS, home, pg_registry.db.url],
            check=True,
            timeout=120,
        )
        assert _next_subject(inbox) == "churn@champion"
        assert pg_registry.get_version("churn@champion").version == 2  # readable when heard
        pg_registry.set_tag("churn/1", "stage", "old")
        assert _next_subject(inbox) == "churn/1"
    finally:
        feed.close()
    assert not feed.listening


@pytest.mark.postgres
def test_a_rolled_back_change_is_never_announced(pg_registry: Any) -> None:
    feed, inbox = _listening_feed(pg_registry.db.url)
    try:
        db: Database = pg_registry.db
        with pytest.raises(RuntimeError), db.write() as conn:
            conn.execute(
                t.audit_log.insert().values(
                    seq=10**9,
                    at="2026-01-01T00:00:00+00:00",
                    actor="x",
                    action="test.rollback",
                    subject="rolled-back",
                    prev_hash="0" * 64,
                    hash="0" * 64,
                )
            )
            raise RuntimeError("abort the transaction")
        pg_registry.set_alias("churn", "challenger", 2)
        assert _next_subject(inbox) == "churn@challenger"  # the rolled-back one never came
        assert inbox.empty()
    finally:
        feed.close()


@pytest.mark.postgres
def test_the_feed_reconnects_after_its_backend_is_terminated(pg_registry: Any) -> None:
    feed, inbox = _listening_feed(pg_registry.db.url)
    try:
        first_pid = feed.backend_pid
        assert first_pid is not None
        with pg_registry.db.engine.connect() as conn:
            killed = conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": first_pid})
            assert killed.scalar() is True
        # Back again: it says RESYNC (changes meanwhile were missed) from a new backend.
        assert _next_subject(inbox, skip_resync=False) == RESYNC
        assert feed.connects == 2 and feed.listening
        assert feed.backend_pid not in (None, first_pid)
        pg_registry.set_alias("churn", "champion", 2)
        assert _next_subject(inbox) == "churn@champion"
    finally:
        feed.close()


@pytest.mark.postgres
def test_a_failing_subscriber_does_not_stop_the_others(pg_registry: Any) -> None:
    inbox: queue.Queue[str] = queue.Queue()

    def broken(subject: str) -> None:
        raise ValueError(subject)

    feed = ChangeFeed(pg_registry.db.url, wait=0.2)
    feed.subscribe(broken)
    unsubscribe = feed.subscribe(inbox.put)
    with feed:
        assert feed.wait_listening(TIMEOUT)
        pg_registry.set_alias("churn", "champion", 2)
        assert _next_subject(inbox) == "churn@champion"
        unsubscribe()
        pg_registry.set_alias("churn", "champion", 1)
        with pytest.raises(queue.Empty):
            inbox.get(timeout=1.0)  # unsubscribed: nothing more arrives


def test_on_sqlite_the_feed_is_a_no_op(tmp_path: Path) -> None:
    feed = ChangeFeed(f"sqlite:///{tmp_path / 'registry.db'}")
    calls: list[str] = []
    feed.subscribe(calls.append)
    with feed:
        assert not feed.enabled
        assert feed.wait_listening(0.1) is False
        assert feed._thread is None
    assert calls == []


def test_a_malformed_url_names_the_fix() -> None:
    with pytest.raises(InvalidInputError, match="postgresql\\+psycopg://"):
        ChangeFeed("not a url")


@pytest.mark.postgres
def test_follow_calls_back_on_the_event_loop(pg_registry: Any) -> None:
    async def scenario() -> list[tuple[str, bool]]:
        loop = asyncio.get_running_loop()
        seen: list[tuple[str, bool]] = []
        moved = asyncio.Event()

        def on_change(subject: str) -> None:
            seen.append((subject, asyncio.get_running_loop() is loop))  # raises off the loop
            if subject == "churn@champion":
                moved.set()

        task = asyncio.create_task(follow(pg_registry.db.url, on_change))
        deadline = loop.time() + TIMEOUT
        while not seen:  # RESYNC: listening
            assert loop.time() < deadline, "the feed never started listening"
            await asyncio.sleep(0.02)
        await asyncio.to_thread(pg_registry.set_alias, "churn", "champion", 2)
        await asyncio.wait_for(moved.wait(), TIMEOUT)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return seen

    seen = asyncio.run(scenario())
    assert seen[0] == (RESYNC, True) and ("churn@champion", True) in seen
