"""Jobs whose worker died are put back in the queue, by the workers that are still alive.

procrastinate 3.10 records a heartbeat per worker and can list the jobs "doing" on a worker
whose heartbeat stopped (``get_stalled_jobs``) and put a job back (``retry_job``), but it
runs neither by itself: every ``logomesh worker`` does it every ``workers.rescue_every_s``.
Rescuers take turns through a PostgreSQL advisory lock held on a connection of their own,
so two of them never put back the same job (the second would see it taken again by then,
not stalled); a rescuer that dies mid-turn drops its connection, and the lock with it.

Each job put back is an audit record (``worker.rescue``) under the run's correlation id,
naming the lost worker and the attempt, so the trail of a step that was retried elsewhere
shows both attempts and why there were two.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from logomesh.audit import AuditEntry
from logomesh.commands.values import Outcome, Source
from logomesh.workers.job import TASK_NAME

if TYPE_CHECKING:
    import procrastinate

    from logomesh.engine import Engine

logger = logging.getLogger(__name__)
RESCUE_ACTION = "worker.rescue"
# pg_advisory_lock's key for the rescuers' turn: "LMRESCUE" in ASCII, apart from the audit's.
_LOCK_KEY = 0x4C4D524553435545


async def rescue_forever(app: procrastinate.App, engine: Engine, rescuer: str) -> None:
    """Rescue stalled jobs every ``workers.rescue_every_s`` until cancelled."""
    settings = engine.settings.workers
    while True:
        await asyncio.sleep(settings.rescue_every_s)
        try:
            await rescue_once(app, engine, rescuer)
        except Exception:  # the database is away: the next turn tries again
            logger.warning("looking for stalled jobs failed; trying again", exc_info=True)


async def rescue_once(app: procrastinate.App, engine: Engine, rescuer: str) -> list[int]:
    """Put back every job of a worker silent for ``workers.stalled_after_s``; their ids."""
    stalled_after = engine.settings.workers.stalled_after_s
    async with app.connector.pool.connection() as turn:  # type: ignore[attr-defined]
        await turn.set_autocommit(True)
        taken = await turn.execute("SELECT pg_try_advisory_lock(%s)", (_LOCK_KEY,))
        row = await taken.fetchone()
        if not row or not row[0]:
            return []  # another worker is rescuing right now
        try:
            jobs = await app.job_manager.get_stalled_jobs(
                task_name=TASK_NAME, seconds_since_heartbeat=stalled_after
            )
            rescued = []
            for job in jobs:
                await app.job_manager.retry_job(job)
                assert job.id is not None
                rescued.append(job.id)
                await engine.record_audit(_record(job, rescuer, stalled_after))
            return rescued
        finally:
            await turn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def _record(job: Any, rescuer: str, stalled_after: float) -> AuditEntry:
    payload = job.task_kwargs
    lost = f"worker {job.worker_id}" if job.worker_id is not None else "a worker since pruned"
    return AuditEntry(
        actor="system",  # as the engine names itself elsewhere (identity, approvals)
        source=Source.SYSTEM,
        action=RESCUE_ACTION,
        outcome=Outcome.OK,
        target=str(payload.get("command", "")),
        correlation_id=f"{payload.get('correlation_id', '')}-rescue-{job.attempts + 1}",
        parent_id=payload.get("parent_id"),
        details={
            "job_id": job.id,
            "queue": job.queue,
            "command": payload.get("command"),
            "step_correlation_id": payload.get("correlation_id"),
            "lost_worker": job.worker_id,
            "silent_for_s": stalled_after,
            "retry": job.attempts + 1,
            "rescued_by": rescuer,
            "message": f"job {job.id} was running on {lost}, silent for over "
            f"{stalled_after:g} s (`workers.stalled_after_s`); put back in the queue",
        },
        timestamp=datetime.now(UTC),
    )
