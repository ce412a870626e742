"""The run's side of a distributed step: enqueue its request as a job, wait for the job's
result, and abort the job when the step is cancelled.

Waiting is a read of the job's status and its ``job_results`` row (blocking reads, off the
loop) each time the worker's commit of that row is announced on the change feed (NOTIFY),
and at the feed's safety interval in case one is lost; procrastinate's own LISTEN/NOTIFY
is what wakes an idle worker. Two guards keep a run from waiting forever: a
job no worker takes within ``workers.start_within_s`` fails saying so (is any worker
running on that queue?), and a job running longer than its command's timeout plus
``workers.grace_s`` (and the approval wait, when it may wait for one) is aborted. A worker
that dies is not a guard's business: its heartbeat stops, and another worker retries the
job (:mod:`logomesh.workers.rescue`), which the waiting run sees as the same job again.

Retries stay the executor's (``retry:`` of the step): each attempt is one job, so the trail
has a record per attempt exactly as in a local run, and backoff, ``retry.on`` and
``StepRetrying`` events mean what they mean locally. procrastinate's own retry is used for
one thing only: a job whose worker died, which did not fail, but was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from logomesh.commands.models import CommandRequest, CommandResult, ErrorInfo
from logomesh.commands.values import Outcome
from logomesh.errors import JobFailedError, LogoMeshError
from logomesh.storage.change_feed import JOBS
from logomesh.workers.job import TASK_NAME, CommandJob
from logomesh.workers.queue import opened
from logomesh.workers.results import read_job

if TYPE_CHECKING:
    from logomesh.engine import Engine

logger = logging.getLogger(__name__)
_ENDED = frozenset({"succeeded", "failed", "aborted", "cancelled"})


async def run_on_worker(engine: Engine, request: CommandRequest, attempt: int = 1) -> CommandResult:
    """``request``'s result, as a worker ran it; a failure to queue or to finish is an
    error result (the step fails with its message), never an exception."""
    try:
        job_id = await _enqueue(engine, CommandJob.of(request, attempt))
    except LogoMeshError as exc:
        return _failed(request, exc)
    try:
        return await _wait(engine, request, job_id)
    except asyncio.CancelledError:
        # The run was cancelled: the job must not go on (or start) without it.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(abort(engine, job_id))
        raise
    except LogoMeshError as exc:  # the database went away while we waited
        return _failed(request, exc)


async def _enqueue(engine: Engine, job: CommandJob) -> int:
    await asyncio.to_thread(engine.ensure_schema)  # procrastinate's tables are in 0006
    queue = engine.settings.workers.queue
    async with opened(engine.settings) as app:
        deferrer = app.configure_task(TASK_NAME, queue=queue)
        job_id: int = await deferrer.defer_async(**job.model_dump(mode="json"))
        return job_id


async def abort(engine: Engine, job_id: int) -> None:
    """Cancel job ``job_id`` if queued, ask its worker to stop it if running."""
    try:
        async with opened(engine.settings) as app:
            await app.job_manager.cancel_job_by_id_async(job_id, abort=True)
    except Exception:  # the run is ending anyway; the job's guard or a person sees it
        logger.warning("could not abort job %s", job_id, exc_info=True)


async def _wait(engine: Engine, request: CommandRequest, job_id: int) -> CommandResult:
    settings = engine.settings.workers
    loop = asyncio.get_running_loop()
    seen: str | None = "todo"
    deadline = loop.time() + settings.start_within_s
    # Subscribed before the first read: a result kept in between is found by that read.
    async with engine.change_feed.subscribe(JOBS, str(job_id)) as changes:
        while True:
            state = await asyncio.to_thread(read_job, engine.database, job_id)
            if state.outcome is not None:
                return state.outcome
            if state.status in _ENDED or state.status is None:
                return _ended_without_result(request, job_id, state.status)
            if state.status != seen:  # taken, or back in the queue after its worker died
                seen = state.status
                wait = settings.start_within_s if seen == "todo" else _run_limit(engine, request)
                deadline = loop.time() + wait
            if loop.time() > deadline:
                await abort(engine, job_id)
                return _failed(request, _overdue(engine, request, job_id, seen))
            await changes.wait(settings.poll_s, at_most=max(0.0, deadline - loop.time()))


def _run_limit(engine: Engine, request: CommandRequest) -> float:
    """How long a running job may take: its command's timeout as the worker enforces it
    (as far as this side knows the command), the approval wait, and the grace."""
    settings = engine.settings
    spec = engine.registry.get(request.command) if request.command in engine.registry else None
    timeout = request.timeout_s or (spec.timeout_s if spec else None)
    limit = (timeout or settings.commands.default_timeout_s) + settings.workers.grace_s
    return limit + (settings.security.approval_timeout_s if request.wait_for_approval else 0)


def _overdue(
    engine: Engine, request: CommandRequest, job_id: int, status: str | None
) -> JobFailedError:
    queue = engine.settings.workers.queue
    if status == "todo":
        return JobFailedError(
            f"No worker took job {job_id} ({request.command}) on queue {queue!r} within "
            f"{engine.settings.workers.start_within_s:g} s (`workers.start_within_s`). Start "
            f"one with `logomesh worker --queue {queue}` on a machine that shares "
            "`database.url`; `logomesh worker status` shows the workers alive."
        )
    return JobFailedError(
        f"Job {job_id} ({request.command}) ran past its command's timeout plus "
        f"{engine.settings.workers.grace_s:g} s (`workers.grace_s`) and was aborted. Its "
        "worker may be stuck; see that worker's log and `logomesh worker status`."
    )


def _ended_without_result(
    request: CommandRequest, job_id: int, status: str | None
) -> CommandResult:
    if status in ("aborted", "cancelled"):
        message = f"Job {job_id} ({request.command}) was {status} before it finished."
        error = ErrorInfo("command.cancelled", message)
        return CommandResult(request.command, Outcome.CANCELLED, request.correlation_id,
                             message=message, error=error)  # fmt: skip
    what = "no longer exists" if status is None else f"ended {status}"
    return _failed(request, JobFailedError(
        f"Job {job_id} ({request.command}) {what} without a result: its task broke on the "
        "worker before the command finished. The worker's log (stderr) has the traceback."
    ))  # fmt: skip


def _failed(request: CommandRequest, exc: LogoMeshError) -> CommandResult:
    error = ErrorInfo(exc.code, exc.user_message)
    return CommandResult(request.command, Outcome.ERROR, request.correlation_id,
                         message=exc.user_message, error=error)  # fmt: skip
