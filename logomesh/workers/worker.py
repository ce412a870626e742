"""``logomesh worker``: procrastinate's worker on the engine's PostgreSQL, running jobs
through this process's own engine, until SIGTERM or SIGINT.

procrastinate does the queue's work: it takes each job with ``SELECT ... FOR UPDATE SKIP
LOCKED`` (two workers never take the same job), wakes on LISTEN/NOTIFY, beats a heartbeat,
and cancels a running job whose abort was asked. This module adds what LogoMesh needs
around it: the engine in each job's context, the rescue of jobs whose worker died
(:mod:`logomesh.workers.rescue`), and staying up when the database goes away. psycopg's
pool replaces a connection the server dropped, and the listener reconnects by itself; when
procrastinate gives up anyway (a side task failed: the heartbeat could not be written while
the server was down), the worker is started again after a backoff instead of exiting, and
says so on stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from logomesh.errors import QueueUnreachableError
from logomesh.workers.queue import opened, require_postgres, shown
from logomesh.workers.rescue import rescue_forever
from logomesh.workers.task import ENGINE_KEY, worker_name

if TYPE_CHECKING:
    import procrastinate

    from logomesh.engine import Engine

logger = logging.getLogger(__name__)
_BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """What ``logomesh worker`` was asked: its queues (None: every queue) and concurrency."""

    queues: tuple[str, ...] | None = None
    concurrency: int | None = None  # None: ``workers.concurrency``


def serve(engine: Engine, options: WorkerOptions) -> None:
    """Run the worker in this thread until SIGTERM or SIGINT (the process's main)."""
    require_postgres(engine.settings, "`logomesh worker`")
    asyncio.run(_main(engine, options))


async def _main(engine: Engine, options: WorkerOptions) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    await asyncio.to_thread(engine.ensure_schema)  # procrastinate's tables are in 0006
    await run(engine, options, stop)


async def run(engine: Engine, options: WorkerOptions, stop: asyncio.Event) -> None:
    """Work until ``stop`` is set, starting procrastinate's worker again whenever it ends
    on its own (it lost the database)."""
    failures = 0
    while not stop.is_set():
        try:
            await _work_once(engine, options, stop)
            failures = 0 if stop.is_set() else failures + 1
        except QueueUnreachableError as exc:
            logger.warning("%s", exc.user_message)
            failures += 1
        if stop.is_set():
            break
        delay = _BACKOFF_S[min(failures, len(_BACKOFF_S)) - 1] if failures else _BACKOFF_S[0]
        logger.warning("the worker lost the database; starting again in %g s", delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)


async def _work_once(engine: Engine, options: WorkerOptions, stop: asyncio.Event) -> None:
    settings = engine.settings.workers
    concurrency = options.concurrency or settings.concurrency
    # The jobs' own writes, the heartbeat, the abort poll and the rescuer's turn.
    async with opened(engine.settings, pool_size=concurrency + 4) as app:
        name = worker_name()
        queues = ", ".join(options.queues) if options.queues else "all"
        where = shown(engine.settings.database_url)
        logger.info("worker %s on %s, queues %s, %d at once", name, where, queues, concurrency)
        working = asyncio.ensure_future(_procrastinate(app, engine, options, concurrency, name))
        rescuing = asyncio.ensure_future(rescue_forever(app, engine, name))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait([working, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (working, rescuing, stopping):
                task.cancel()  # procrastinate's cancel is its graceful stop: jobs finish
            await asyncio.gather(working, rescuing, stopping, return_exceptions=True)
        if working.done() and not working.cancelled() and working.exception() is not None:
            logger.warning("the worker stopped: %s", working.exception())


async def _procrastinate(
    app: procrastinate.App, engine: Engine, options: WorkerOptions, concurrency: int, name: str
) -> None:
    settings = engine.settings.workers
    # Without queues: every queue (procrastinate's None), which its typing does not say.
    queues: Any = list(options.queues) if options.queues else None
    await app.run_worker_async(
        queues=queues,
        name=name,
        concurrency=concurrency,
        additional_context={ENGINE_KEY: engine},
        install_signal_handlers=False,  # ours: they stop the restart loop too
        update_heartbeat_interval=settings.heartbeat_s,
        stalled_worker_timeout=settings.stalled_after_s,
        # The abort poll backs up NOTIFY (a notice sent while the listener reconnected).
        abort_job_polling_interval=min(5.0, settings.heartbeat_s),
        fetch_job_polling_interval=min(5.0, settings.heartbeat_s),
    )
