"""Waking a request that waits on a row (an approval ticket, a run's cancel, a distributed
step's result) when any process changes that row.

A waiter *subscribes* to a key on a channel first and only then reads its row, and reads it
again each time it is woken: a change announced before the subscription existed is found by
that first read, so no order of events loses one. The process that makes the change
*announces* it inside the transaction that makes it, so a waiter can never be woken for a
change that was rolled back, nor before it is visible.

Two feeds, one port:

- :class:`PollingFeed` (SQLite, which has no way to tell another process anything): nothing
  is announced and a waiter simply re-reads its row every ``poll_s``.
- :class:`PostgresFeed`: ``pg_notify`` in the changing transaction, delivered by PostgreSQL
  at commit to one ``LISTEN``-ing connection per feed (one per engine), on a daemon thread;
  it wakes the matching waiters on whichever event loop each one runs. Waiters still
  re-read their row every :data:`SAFETY_POLL_S` (or their ``poll_s`` if longer), in case a
  notification is ever lost. When the listening connection drops (a database restart, a
  terminated backend) the thread reconnects with backoff; meanwhile waiters fall back to a
  re-read every :data:`FALLBACK_POLL_S`, and every waiter re-reads once when the feed is
  listening again (what was announced in between reached nobody), so nothing is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from sqlalchemy import Connection, text

from logomesh.storage.database import Database

logger = logging.getLogger(__name__)

APPROVALS = "logomesh_approvals"  # keys: ticket ids (decided, declined, expired, cancelled)
RUNS = "logomesh_runs"  # keys: pipeline run ids (a cancel was requested)
JOBS = "logomesh_jobs"  # keys: procrastinate job ids (a worker kept the job's result)
CHANNELS = (APPROVALS, RUNS, JOBS)

SAFETY_POLL_S = 5.0  # a re-read even when changes are pushed: a lost NOTIFY costs this much
FALLBACK_POLL_S = 1.0  # the re-read while the listening connection is being re-made
_TICK_S = 0.25  # how often the listening thread looks up from the socket (to stop, to ping)
_FIRST_BACKOFF_S, _MAX_BACKOFF_S = 0.1, 10.0
_KEEPALIVES = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}


class Subscription(Protocol):
    async def wait(self, poll_s: float, at_most: float | None = None) -> bool:
        """Until the key's row may have changed (True) or it is time to read it again
        anyway (False): after ``poll_s`` where changes are not pushed, after a long safety
        interval where they are; never later than ``at_most`` seconds."""
        ...


class ChangeFeed(Protocol):
    """Tells waiters in any process that the row they wait on was changed."""

    pushes: bool  # a change wakes its waiters at commit (else they find it at their poll)

    def subscribe(self, channel: str, key: str) -> AbstractAsyncContextManager[Subscription]:
        """Be woken for ``key`` on ``channel`` until the block ends; read the row after
        entering it (and after each wake), never only before."""
        ...

    def announce(self, conn: Connection, channel: str, key: str) -> None:
        """Inside the transaction changing ``key``'s row: wake its waiters at commit."""
        ...

    def close(self) -> None: ...


def change_feed_for(db: Database) -> ChangeFeed:
    """The feed ``db`` supports: NOTIFY on PostgreSQL through psycopg 3, else polling."""
    if db.dialect == "postgresql" and db.engine.dialect.driver == "psycopg":
        return PostgresFeed(db)
    return PollingFeed()


# -- polling (SQLite) ---------------------------------------------------------------------


class _Poll:
    async def wait(self, poll_s: float, at_most: float | None = None) -> bool:
        await asyncio.sleep(_bounded(poll_s, at_most))
        return False


class PollingFeed:
    """No announcements: each waiter re-reads its row every ``poll_s`` (SQLite)."""

    pushes = False

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str, key: str) -> AsyncIterator[Subscription]:
        yield _Poll()

    def announce(self, conn: Connection, channel: str, key: str) -> None:
        return None

    def close(self) -> None:
        return None


# -- LISTEN/NOTIFY (PostgreSQL) -----------------------------------------------------------


class _Waiter:
    """One subscription: an event on its own loop, set from the listening thread."""

    def __init__(self, feed: PostgresFeed) -> None:
        self._feed = feed
        self._loop = asyncio.get_running_loop()
        self._woken = asyncio.Event()

    def wake(self) -> None:
        # From the listening thread; a loop already closed has no one left to wake.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._woken.set)

    async def wait(self, poll_s: float, at_most: float | None = None) -> bool:
        interval = max(poll_s, SAFETY_POLL_S) if self._feed.listening else FALLBACK_POLL_S
        if not self._woken.is_set():
            try:
                async with asyncio.timeout(_bounded(interval, at_most)):
                    await self._woken.wait()
            except TimeoutError:
                return False
        self._woken.clear()  # before the caller's read: a change after it wakes us again
        return True


class PostgresFeed:
    """``pg_notify`` announcements and one listening connection, on a daemon thread.

    The thread starts with the first subscription (an engine that never waits opens no
    connection) and stops at :meth:`close`. It uses its own psycopg connection in autocommit
    mode, made from the same settings as the engine's pool, and never touches a loop except
    through ``call_soon_threadsafe``, so engines on several loops and threads share it.
    """

    pushes = True

    def __init__(self, db: Database) -> None:
        self._db = db
        self._waiters: dict[tuple[str, str], set[_Waiter]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = False
        self.backend_pid: int | None = None  # of the listening connection, when listening
        self.delivered = 0  # notifications received (for `status` and tests)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str, key: str) -> AsyncIterator[Subscription]:
        waiter = _Waiter(self)
        with self._lock:
            self._waiters.setdefault((channel, key), set()).add(waiter)
            self._start()
        try:
            yield waiter
        finally:
            with self._lock:
                waiters = self._waiters.get((channel, key), set())
                waiters.discard(waiter)
                if not waiters:
                    self._waiters.pop((channel, key), None)

    def announce(self, conn: Connection, channel: str, key: str) -> None:
        conn.execute(text("SELECT pg_notify(:channel, :key)"), {"channel": channel, "key": key})

    def close(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2 * _TICK_S + 1)

    # -- the listening thread ---------------------------------------------------------------

    def _start(self) -> None:
        """Start the listening thread once (called holding the lock)."""
        if self._thread is None and not self._stop.is_set():
            self._thread = threading.Thread(
                target=self._listen_forever, name="logomesh-change-feed", daemon=True
            )
            self._thread.start()

    def _listen_forever(self) -> None:
        backoff, failing = _FIRST_BACKOFF_S, False
        while not self._stop.is_set():
            try:
                self._listen(after_failure=failing)
                backoff, failing = _FIRST_BACKOFF_S, False
            except Exception as exc:  # any driver failure: reconnect, never end the thread
                self._went_deaf()
                # Said once per outage; the retries of a long one are only debug lines.
                log = logger.debug if failing else logger.warning
                log(
                    "Not listening for approval and cancel changes on %s (`database.url`): "
                    "%s. Reconnecting in %.1f s; waiting requests re-read their rows every "
                    "%g s until then.",
                    self._db.display_url, self._safe(exc), backoff, FALLBACK_POLL_S,
                )  # fmt: skip
                failing = True
                self._stop.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)

    def _listen(self, *, after_failure: bool) -> None:
        """One connection's life: LISTEN, wake everyone once, then deliver until it fails."""
        import psycopg  # the postgres extra; only a PostgreSQL engine gets here

        args, kwargs = self._db.engine.dialect.create_connect_args(self._db.engine.url)
        # A host that vanishes without closing the socket is noticed in seconds, not hours
        # (TCP only; the URL's own values win).
        for name, value in _KEEPALIVES.items():
            kwargs.setdefault(name, value)
        with psycopg.connect(*args, **kwargs, autocommit=True) as conn:
            for channel in CHANNELS:
                conn.execute(f"LISTEN {channel}")  # our constants, never input
            self.backend_pid = conn.info.backend_pid
            self.listening = True
            self._wake_all()  # what was announced while nobody listened reached no one
            if after_failure:
                logger.info("Listening for changes on %s again.", self._db.display_url)
            idle = 0.0
            while not self._stop.is_set():
                woke = False
                for notify in conn.notifies(timeout=_TICK_S):
                    woke = True
                    self._wake(notify.channel, notify.payload)
                idle = 0.0 if woke else idle + _TICK_S
                if idle >= SAFETY_POLL_S:
                    conn.execute("SELECT 1")  # a connection dead without a word raises here
                    idle = 0.0
        self._went_deaf()

    def _went_deaf(self) -> None:
        was_listening, self.listening, self.backend_pid = self.listening, False, None
        if was_listening:
            self._wake_all()  # each waiter switches to the fallback re-read at once

    def _wake(self, channel: str, key: str) -> None:
        with self._lock:
            self.delivered += 1
            waiters = list(self._waiters.get((channel, key), ()))
        for waiter in waiters:
            waiter.wake()

    def _wake_all(self) -> None:
        with self._lock:
            waiters = [waiter for group in self._waiters.values() for waiter in group]
        for waiter in waiters:
            waiter.wake()

    def _safe(self, exc: BaseException) -> str:
        """The driver's message for a log line, with the URL's password (if any) cut out."""
        detail = str(exc).strip() or type(exc).__name__
        password = self._db.engine.url.password
        return detail.replace(str(password), "***") if password else detail


def _bounded(seconds: float, at_most: float | None) -> float:
    return max(0.0, seconds if at_most is None else min(seconds, at_most))
