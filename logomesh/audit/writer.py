"""The engine's one audit writer: a thread that owns the write path, off every event loop.

Writing a record can take a ``flock``, wait up to ``database.busy_timeout_ms`` for another
process's write lock, run first-use migrations and fsync. None of that may happen on an
adapter's event loop, where one slow commit would freeze every request it serves. So each
engine has one writer thread: callers queue entries and await a future; the thread takes
whatever is queued (up to ``max_batch``) and writes it with one transaction through
:meth:`AuditTrail.record_many`, which keeps the chain, redaction, spool and checkpoint
guarantees. One commit for many records is also what lifts throughput: records queued while
a commit is under way go in together with the next one. When it has nothing to write and
records wait unsigned, the thread wakes up for the interval checkpoint
(``audit.checkpoint_interval_s``) instead of a timer thread of its own.

Back-pressure: the queue is bounded. An entry that finds it full is spooled at once (the
same spool a failed write uses, chained in by the next successful write) and its caller is
told; an entry is never dropped. The thread starts on the first record and stops in
:meth:`close`, which writes what is still queued first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from logomesh.audit.models import AuditEntry, AuditRecord
from logomesh.audit.trail import AuditTrail
from logomesh.errors import AuditError, AuditSpooledError, LogoMeshError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _LoopWaiter:
    """An ``await record(...)`` caller: its loop and the asyncio future it awaits."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[AuditRecord]


# A thread's Future, or a coroutine's future on its loop.
_Waiter = Future[AuditRecord] | _LoopWaiter
_Item = tuple[AuditEntry, _Waiter]
_Outcome = AuditRecord | AuditError
_STOP = None


class AuditWriter:
    """Queues audit entries and writes them in batches on a thread of its own."""

    def __init__(self, trail: AuditTrail, *, max_queue: int = 10_000, max_batch: int = 500) -> None:
        self.trail = trail
        self.max_batch = max_batch
        self._queue: queue.Queue[_Item | None] = queue.Queue(maxsize=max_queue)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- what callers use --------------------------------------------------------------

    async def record(self, entry: AuditEntry) -> AuditRecord:
        """Write ``entry`` without blocking the running loop; raises AuditError as the trail."""
        loop = asyncio.get_running_loop()
        waiter = _LoopWaiter(loop, loop.create_future())
        item = (_stamped(entry), waiter)
        if not self._enqueue(item):
            # Spooling appends and fsyncs a file: not on the loop either.
            [outcome] = await asyncio.to_thread(self._spool_now, [item], self._why_refused())
            if isinstance(outcome, AuditError):
                raise outcome
            return outcome
        # Shielded: a caller cancelled mid-wait must not cancel the write (it still happens).
        return await asyncio.shield(waiter.future)

    def record_sync(self, entry: AuditEntry) -> AuditRecord:
        """For threads that are not an event loop (plugin readers, worker threads)."""
        return self.submit(entry).result()

    def submit(self, entry: AuditEntry) -> Future[AuditRecord]:
        """Queue ``entry``; the future holds its record, or the AuditError that spooled it."""
        future: Future[AuditRecord] = Future()
        item = (_stamped(entry), future)
        if not self._enqueue(item):
            _settle([item], self._spool_now([item], self._why_refused()))
        return future

    def _enqueue(self, item: _Item) -> bool:
        if self._closed:
            return False
        self._ensure_thread()
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            return False
        return True

    def _why_refused(self) -> str:
        if self._closed:
            return "the engine is closing"
        return f"the audit queue is full ({self.queued} records wait for the database)"

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def close(self, timeout: float | None = 30.0) -> None:
        """Write what is queued, then stop the thread (idempotent)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is None:
            return
        self._queue.put(_STOP)
        thread.join(timeout)
        if thread.is_alive():
            logger.warning("the audit writer did not finish within %s s", timeout)

    # -- the thread --------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="logomesh-audit-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                batch, stop = self._take_batch()
            except queue.Empty:  # quiet for the checkpoint interval: sign what waits
                self._checkpoint_quiet_trail()
                continue
            if batch:
                self._write(batch)
            if stop:
                return

    def _take_batch(self) -> tuple[list[_Item], bool]:
        # Without unsigned records this waits for ever; with them, only until they are due
        # for an interval checkpoint (``audit.checkpoint_interval_s``).
        first = self._queue.get(timeout=self.trail.seconds_until_checkpoint())
        if first is _STOP:
            return self._drain_rest(), True
        batch = [first]
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                return batch + self._drain_rest(), True
            batch.append(item)
        return batch, False

    def _drain_rest(self) -> list[_Item]:
        rest: list[_Item] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return rest
            if item is not _STOP:
                rest.append(item)

    def _checkpoint_quiet_trail(self) -> None:
        try:
            self.trail.checkpoint_if_quiet()
        except LogoMeshError as exc:  # postponed by the trail, tried again an interval later
            logger.warning("could not write the interval audit checkpoint: %s", exc.user_message)
        except Exception:  # a bug must not kill the thread and strand the callers
            logger.exception("the interval audit checkpoint failed")

    def _write(self, batch: Sequence[_Item]) -> None:
        entries = [entry for entry, _ in batch]
        outcomes: Sequence[_Outcome]
        try:
            outcomes = self.trail.record_many(entries)
        except AuditError as exc:  # spooled by the trail; each caller is told
            outcomes = [exc] * len(batch)
        except LogoMeshError as exc:  # the database could not even be opened
            outcomes = self._spool_now(batch, exc.user_message)
        except Exception as exc:  # a bug must not kill the thread and strand the callers
            logger.exception("the audit writer failed on a batch of %d", len(batch))
            outcomes = self._spool_now(batch, f"{type(exc).__name__}: {exc}")
        _settle(batch, outcomes)

    def _spool_now(self, items: Sequence[_Item], why: str) -> list[_Outcome]:
        """Spool ``items``; the error each caller gets (never a record)."""
        error: AuditError
        try:
            self.trail.spool_or_lose([entry for entry, _ in items], why)
        except AuditError as lost:
            error = lost
        else:
            error = AuditSpooledError(
                f"The audit record was spooled to {self.trail.spool_path} because {why}; the "
                "next successful write adds it to the trail."
            )
        return [error] * len(items)


def _stamped(entry: AuditEntry) -> AuditEntry:
    # Stamped now, not when its batch is written: the record says when it happened.
    return entry if entry.timestamp is not None else replace(entry, timestamp=datetime.now(UTC))


def _settle(batch: Sequence[_Item], outcomes: Sequence[_Outcome]) -> None:
    """Hand each caller its outcome: one wake-up per event loop for the whole batch.

    Waking a loop writes to its self-pipe and releases the GIL; done per record, a busy
    loop would take the GIL back each time and the writer would wait a switch interval
    (5 ms) for every caller in the batch.
    """
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[AuditRecord], _Outcome]]]
    by_loop = {}
    for (_, waiter), outcome in zip(batch, outcomes, strict=True):
        if isinstance(waiter, _LoopWaiter):
            by_loop.setdefault(waiter.loop, []).append((waiter.future, outcome))
        elif not waiter.done():
            _set(waiter, outcome)
    for loop, pairs in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            loop.call_soon_threadsafe(_settle_on_loop, pairs)


def _settle_on_loop(pairs: list[tuple[asyncio.Future[AuditRecord], _Outcome]]) -> None:
    for future, outcome in pairs:
        if not future.done():
            _set(future, outcome)


def _set(future: Future[AuditRecord] | asyncio.Future[AuditRecord], outcome: _Outcome) -> None:
    if isinstance(outcome, AuditError):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
