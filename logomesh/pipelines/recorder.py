"""Writing a run into the database as it goes, without ever holding the run up.

The executor hands each change (the run started, a step's new state, the run finished) to a
:class:`RunRecorder`, which returns at once; one task writes what queued in the last
``batch_s`` (50 ms) in a single transaction off the event loop (the store blocks), so a
thousand fast steps cost a few dozen commits, not two thousand. A database that stays
locked (another process holding it past the busy timeout) is retried with backoff while
the run goes on; the rows wait in memory, in order, and nothing is dropped. If it is still
locked when the run ends, the run's result says so (``warning``): its steps were run and
audited, only the run's own rows are missing.

Another task asks the store whether another process requested a cancel (``logomesh
pipeline cancel RUN``), and calls ``on_cancel`` then: each time the store's change feed
says the run's row changed (at once on PostgreSQL, through LISTEN/NOTIFY) and at least every
``poll_s`` seconds where nothing is pushed (SQLite).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from logomesh.errors import StorageError
from logomesh.pipelines.states import RunState
from logomesh.pipelines.store import RunStore, StepUpdate
from logomesh.storage.change_feed import RUNS

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunStart:
    run_id: str
    pipeline: str
    digest: str
    correlation_id: str
    actor: str
    inputs: dict[str, Any]


class RunRecorder:
    """The rows of one run, written in order, in batches, from one task."""

    def __init__(
        self,
        store: RunStore,
        start: RunStart,
        *,
        poll_s: float = 0.1,
        retry_for_s: float = 30.0,
        batch_s: float = 0.05,
        on_cancel: Callable[[], None] | None = None,
    ) -> None:
        self.store, self.start, self.poll_s, self.retry_for_s = store, start, poll_s, retry_for_s
        self.on_cancel, self.batch_s = on_cancel, batch_s
        self._steps: list[StepUpdate] = []
        self._finish: tuple[RunState, str | None] | None = None
        self._started = False
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        self.warning: str | None = None

    async def open(self) -> None:
        """Write the run's own row before the run is announced, so its id, once shown, is
        one that ``pipeline show``/``cancel`` find; a locked database is left to the loop's
        retries rather than holding the run up."""
        with contextlib.suppress(StorageError):
            await asyncio.to_thread(self._write, [], None)
        self._task = asyncio.ensure_future(self._write_loop())
        if self.on_cancel is not None:
            self._poller = asyncio.ensure_future(self._poll_loop())

    def step(self, update: StepUpdate) -> None:
        self._steps.append(update)
        self._wake.set()

    async def close(self, state: RunState, error: str | None = None) -> str | None:
        """Record the run's end and wait for every row to be written (or given up on);
        the warning to tell the person, if the database never took them."""
        self._finish = (state, error)
        self._wake.set()
        self._closing.set()
        if self._poller is not None:
            self._poller.cancel()
        if self._task is not None:
            # The rows are written even when the run's own task is being cancelled (Ctrl-C).
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)
        return self.warning

    async def _write_loop(self) -> None:
        while True:
            await self._wait(self._wake, self.poll_s)
            # Let the rows of the next few milliseconds come too: one commit for a batch, so
            # the run's rows never compete with its steps' audit records commit by commit.
            await self._wait(self._closing, self.batch_s)
            self._wake.clear()
            done = self._finish is not None
            if not await self._flush():
                return  # given up on: said in self.warning
            if done:
                return

    @staticmethod
    async def _wait(event: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()

    async def _flush(self) -> bool:
        """Write what is queued; False once the database refused for ``retry_for_s``."""
        delay, waited = 0.05, 0.0
        while True:
            steps, finish = self._steps[:], self._finish
            try:
                await asyncio.to_thread(self._write, steps, finish)
            except StorageError as exc:  # locked (past the busy timeout), or worse
                if waited >= self.retry_for_s:
                    self.warning = (
                        f"Pipeline run {self.start.run_id} ran, but its rows could not be "
                        f"written: {exc.user_message}"
                    )
                    logger.warning("%s", self.warning)
                    return False
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 2.0)
                continue
            del self._steps[: len(steps)]
            return True

    def _write(self, steps: list[StepUpdate], finish: tuple[RunState, str | None] | None) -> None:
        """One thread hop: the run's row first, then its steps, then its end."""
        if not self._started:
            s = self.start
            self.store.start_run(s.run_id, s.pipeline, s.digest, correlation_id=s.correlation_id,
                                 actor=s.actor, inputs=s.inputs)  # fmt: skip
            self._started = True
        if steps:
            self.store.record_steps(self.start.run_id, steps)
        if finish is not None:  # set only once every step was queued
            self.store.finish_run(self.start.run_id, *finish)

    async def _poll_loop(self) -> None:
        """Ask whether another process requested a cancel whenever the feed wakes this
        run (or ``poll_s`` passed); on its own task, so a batch being written never delays
        the answer. Subscribed before the first read, so no request slips between."""
        async with self.store.feed.subscribe(RUNS, self.start.run_id) as changes:
            while self.on_cancel is not None:
                if self._started and await self._cancel_requested():
                    self.on_cancel()
                    return
                await changes.wait(self.poll_s)

    async def _cancel_requested(self) -> bool:
        try:
            return await asyncio.to_thread(self.store.cancel_requested, self.start.run_id)
        except StorageError:
            return False  # asked again at the next wake or poll
