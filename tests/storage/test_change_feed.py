"""The change feed on a real PostgreSQL: a committed change wakes its waiters on every loop,
a rolled-back one wakes no one, the listening connection comes back after its backend is
killed, and a listener that cannot connect says why (without the password) while waiters
fall back to re-reading. SQLite keeps polling."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from logomesh.storage.change_feed import (
    APPROVALS,
    RUNS,
    PollingFeed,
    PostgresFeed,
    Subscription,
    change_feed_for,
)
from logomesh.storage.database import Database
from tests.postgres import PgServer

GENEROUS_S = 20.0  # far beyond a NOTIFY's milliseconds, far below the 60 s waits asked for


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url)
    yield database
    database.dispose()


@pytest.fixture
def feed(db: Database) -> Iterator[PostgresFeed]:
    made = change_feed_for(db)
    assert isinstance(made, PostgresFeed)
    yield made
    made.close()


def announce(db: Database, feed: PostgresFeed, channel: str, key: str, *, commit: bool) -> None:
    """Announce ``key`` in a write transaction that commits or rolls back."""

    class Rollback(Exception):
        pass

    try:
        with db.write() as conn:
            feed.announce(conn, channel, key)
            if not commit:
                raise Rollback
    except Rollback:
        pass


async def until_listening(feed: PostgresFeed, changes: Subscription) -> None:
    """Wait (as a waiter does, re-reading on each wake) until the feed listens; then
    forget the wake its connecting gave everyone."""
    async with asyncio.timeout(GENEROUS_S):
        while not feed.listening:
            await changes.wait(0.05, at_most=0.05)
    await changes.wait(0, at_most=0)


async def woken_by(feed: PostgresFeed, changes: Subscription, changed: threading.Event) -> None:
    """Wait for ``changed`` (the row) the way the service does: read, then sleep until
    woken; a 60 s poll that timed out means no notification came."""
    async with asyncio.timeout(GENEROUS_S):
        while not changed.is_set():
            assert await changes.wait(60), "timed out: no NOTIFY woke the waiter"


def test_sqlite_keeps_polling(tmp_path: Path) -> None:
    """No process can tell another anything through SQLite: the waiter re-reads every poll."""
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        feed = change_feed_for(db)
        assert isinstance(feed, PollingFeed)

        async def wait_once() -> bool:
            async with feed.subscribe(APPROVALS, "t1") as changes:
                with db.write() as conn:
                    feed.announce(conn, APPROVALS, "t1")  # nothing to say, nothing said
                return await changes.wait(0.01)

        assert asyncio.run(wait_once()) is False
    finally:
        db.dispose()


def test_a_committed_change_wakes_its_waiters_on_every_loop(
    db: Database, feed: PostgresFeed
) -> None:
    """Two threads, each with its own event loop (as engines used through run_sync), wait on
    one ticket; one commit wakes both, through one listening connection."""
    changed, ready = threading.Event(), [threading.Event(), threading.Event()]
    failures: list[BaseException] = []

    async def waiter(index: int) -> None:
        async with feed.subscribe(APPROVALS, "ticket-1") as changes:
            await until_listening(feed, changes)
            ready[index].set()
            await woken_by(feed, changes, changed)

    def in_thread(index: int) -> None:
        try:
            asyncio.run(waiter(index))
        except BaseException as exc:  # reported by the test thread
            failures.append(exc)

    threads = [threading.Thread(target=in_thread, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for event in ready:
        assert event.wait(GENEROUS_S)
    changed.set()  # the row, as the waiters will read it
    announce(db, feed, APPROVALS, "ticket-1", commit=True)
    for thread in threads:
        thread.join(GENEROUS_S + 5)
    assert failures == []
    assert feed.delivered == 1
    with db.read() as conn:
        listening = conn.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'LISTEN%%'"
        ).scalar()
    assert listening == 1  # one listening connection for both loops


def test_a_rolled_back_change_wakes_no_one(db: Database, feed: PostgresFeed) -> None:
    """NOTIFY is sent at commit: the rolled-back change on one key reaches nobody, the
    committed change after it on another key does (so the first had every chance)."""

    async def go() -> bool:
        async with (
            feed.subscribe(APPROVALS, "rolled-back") as rolled_back,
            feed.subscribe(RUNS, "committed") as committed,
        ):
            await until_listening(feed, rolled_back)
            await committed.wait(0, at_most=0)
            await asyncio.to_thread(announce, db, feed, APPROVALS, "rolled-back", commit=False)
            await asyncio.to_thread(announce, db, feed, RUNS, "committed", commit=True)
            async with asyncio.timeout(GENEROUS_S):
                assert await committed.wait(60)
            return await rolled_back.wait(0, at_most=0)

    assert asyncio.run(go()) is False
    assert feed.delivered == 1


def test_the_listener_reconnects_after_its_backend_is_terminated(
    db: Database, feed: PostgresFeed, pg_server: PgServer, pg_database: str
) -> None:
    """The listening backend is killed: the feed makes a new connection, LISTENs again,
    and the next commit wakes the waiter through it."""
    changed = threading.Event()

    async def go() -> tuple[int, int | None]:
        async with feed.subscribe(RUNS, "run-1") as changes:
            await until_listening(feed, changes)
            killed = feed.backend_pid
            assert killed is not None
            pg_server.execute(f"SELECT pg_terminate_backend({killed})", pg_database)
            async with asyncio.timeout(GENEROUS_S):
                while feed.backend_pid in (None, killed) or not feed.listening:
                    await changes.wait(0.05, at_most=0.05)
            await changes.wait(0, at_most=0)
            changed.set()
            await asyncio.to_thread(announce, db, feed, RUNS, "run-1", commit=True)
            await woken_by(feed, changes, changed)
            return killed, feed.backend_pid

    killed, now = asyncio.run(go())
    assert now is not None and now != killed
    assert feed.delivered == 1


def test_a_listener_that_cannot_connect_says_why_and_waiters_fall_back(
    pg_server: PgServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A database that does not exist: the log names it and `database.url` (never the
    password); a waiter re-reads every second meanwhile instead of waiting its 60 s."""
    url = pg_server.url("no_such_database").replace("postgres@", "postgres:s3cret-pw@")
    db = Database(url)
    feed = change_feed_for(db)
    assert isinstance(feed, PostgresFeed)
    caplog.set_level(logging.WARNING, logger="logomesh.storage.change_feed")

    async def go() -> bool:
        async with feed.subscribe(APPROVALS, "t1") as changes:
            return await asyncio.wait_for(changes.wait(60), GENEROUS_S)

    try:
        assert asyncio.run(go()) is False  # the fallback re-read, not a wake
        assert not feed.listening
    finally:
        feed.close()
        db.dispose()
    [message, *_] = [r.getMessage() for r in caplog.records]
    assert "`database.url`" in message and "no_such_database" in message
    assert "Reconnecting" in message
    assert "s3cret-pw" not in caplog.text
