"""The engine's one audit writer: a thread that owns the write path, off every event loop.

Writing a record can take a ``flock``, wait up to ``database.busy_timeout_ms`` for another
process's write lock, run first-use migrations and fsync. None of that may happen on an
adapter's event loop, where one slow commit would freeze every request it serves. So each
engine has one writer thread: callers queue entries and await a future; the thread takes
whatever is queued (up to ``max_batch``) and writes it with one transaction through
:meth:`AuditTrail.record_many`, which keeps the chain, redaction, spool and checkpoint
guarantees. One commit for many records is also what lifts throughput: records queued while
a commit is under way go in together with the next one.

Back-pressure: the queue is bounded. An entry that finds it full is spooled at once (the
same spool a failed write uses, chained in by the next successful write) and its caller is
told; an entry is never dropped. The thread starts on the first record and stops in
:meth:`close`, which writes what is still queued first.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import replace
from datetime import UTC, datetime

from logomesh.audit.models import AuditEntry, AuditRecord
from logomesh.audit.trail import AuditTrail
from logomesh.errors import AuditError, LogoMeshError

logger = logging.getLogger(__name__)

_Item = tuple[AuditEntry, "Future[AuditRecord]"]
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
        entry, future = _stamped(entry)
        if not self._enqueue(entry, future):
            # Spooling appends and fsyncs a file: not on the loop either.
            await asyncio.to_thread(self._spool_now, [(entry, future)], self._why_refused())
            return future.result()
        # Shielded: a caller cancelled mid-wait must not cancel the write (it still happens).
        return await asyncio.shield(asyncio.wrap_future(future))

    def record_sync(self, entry: AuditEntry) -> AuditRecord:
        """For threads that are not an event loop (plugin readers, worker threads)."""
        return self.submit(entry).result()

    def submit(self, entry: AuditEntry) -> Future[AuditRecord]:
        """Queue ``entry``; the future holds its record, or the AuditError that spooled it."""
        entry, future = _stamped(entry)
        if not self._enqueue(entry, future):
            self._spool_now([(entry, future)], self._why_refused())
        return future

    def _enqueue(self, entry: AuditEntry, future: Future[AuditRecord]) -> bool:
        if self._closed:
            return False
        self._ensure_thread()
        try:
            self._queue.put_nowait((entry, future))
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
            batch, stop = self._take_batch()
            if batch:
                self._write(batch)
            if stop:
                return

    def _take_batch(self) -> tuple[list[_Item], bool]:
        first = self._queue.get()
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

    def _write(self, batch: Sequence[_Item]) -> None:
        entries = [entry for entry, _ in batch]
        try:
            records = self.trail.record_many(entries)
        except AuditError as exc:  # spooled by the trail; each caller is told
            _fail_all(batch, exc)
            return
        except LogoMeshError as exc:  # the database could not even be opened
            self._spool_now(batch, exc.user_message)
            return
        except Exception as exc:  # a bug must not kill the thread and strand the callers
            logger.exception("the audit writer failed on a batch of %d", len(batch))
            self._spool_now(batch, f"{type(exc).__name__}: {exc}")
            return
        for (_, future), record in zip(batch, records, strict=True):
            if not future.done():
                future.set_result(record)

    def _spool_now(self, items: Sequence[_Item], why: str) -> None:
        try:
            self.trail.spool([entry for entry, _ in items])
        except OSError as exc:
            error = AuditError(
                f"The audit record could not be written ({why}) nor spooled to "
                f"{self.trail.spool_path} ({exc}). Free disk space or fix the permissions "
                "of the state directory.",
                code="audit.lost",
            )
        else:
            error = AuditError(
                f"The audit record was spooled to {self.trail.spool_path} because {why}; the "
                "next successful write adds it to the trail.",
                code="audit.spooled",
            )
        _fail_all(items, error)


def _stamped(entry: AuditEntry) -> tuple[AuditEntry, Future[AuditRecord]]:
    # Stamped now, not when its batch is written: the record says when it happened.
    if entry.timestamp is None:
        entry = replace(entry, timestamp=datetime.now(UTC))
    return entry, Future()


def _fail_all(items: Sequence[_Item], error: AuditError) -> None:
    for _, future in items:
        if not future.done():
            future.set_exception(error)
