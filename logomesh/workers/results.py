"""Where a job's result waits for the run that asked: the ``job_results`` table (0006).

procrastinate's job row says how a job ended (succeeded, failed, aborted), not what the
command returned, and a task's return value is not kept. The worker writes the
:class:`~logomesh.workers.job.JobOutcome` here, redacted as a pipeline step's output is (a
step's data may hold a token it printed), before it marks the job done; the waiting side
reads the job's status and this row together, so "failed without a result" (the task
itself broke) and "finished with an error" (the command failed) are told apart. The row's
commit is announced on the change feed's jobs channel, so the run reads it at once instead
of at its next poll.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, MetaData, String, Table, Text, select, text
from sqlalchemy.dialects.postgresql import insert

from logomesh.canonical import canonical_json, format_timestamp
from logomesh.commands.models import CommandResult
from logomesh.security.redaction import redact
from logomesh.storage.change_feed import JOBS, ChangeFeed
from logomesh.storage.database import Database
from logomesh.workers.job import JobOutcome

# PostgreSQL only (the migration skips SQLite), so not in the SQLite-first tables module.
_metadata = MetaData()
job_results = Table(
    "job_results",
    _metadata,
    Column("job_id", BigInteger, primary_key=True, autoincrement=False),
    Column("correlation_id", String(64), nullable=False),
    Column("result", Text, nullable=False),
    Column("worker", String(300), nullable=False),
    Column("finished_at", String(32), nullable=False),
)
_STATUS = text("SELECT status::text FROM procrastinate_jobs WHERE id = :job_id")


@dataclass(frozen=True, slots=True)
class JobState:
    """A job as the waiting side sees it: procrastinate's status, and its result if any."""

    status: str | None  # todo, doing, succeeded, failed, cancelled, aborted; None: no such job
    outcome: CommandResult | None = None


def save_result(
    database: Database, feed: ChangeFeed, job_id: int, result: CommandResult, worker: str
) -> None:
    """Keep ``result`` for job ``job_id`` and wake the run waiting for it at commit
    (blocking: run it off the loop)."""
    outcome = JobOutcome.model_validate(redact(JobOutcome.of(result).model_dump(mode="json")))
    row = {"job_id": job_id, "correlation_id": result.correlation_id,
           "result": canonical_json(outcome.model_dump(mode="json")), "worker": worker[:300],
           "finished_at": format_timestamp(datetime.now(UTC))}  # fmt: skip
    # A result row needs no place in the chain, so no audit lock (Database.transaction).
    # A job that somehow finishes twice keeps its first result.
    with database.transaction() as conn:
        conn.execute(insert(job_results).values(**row).on_conflict_do_nothing())
        feed.announce(conn, JOBS, str(job_id))


def read_job(database: Database, job_id: int) -> JobState:
    """Job ``job_id``'s status and result (blocking: run it off the loop)."""
    with database.read() as conn:
        status = conn.execute(_STATUS, {"job_id": job_id}).scalar()
        found = conn.execute(select(job_results.c.result).where(job_results.c.job_id == job_id))
        row = found.first()
    if row is None:
        return JobState(status)
    return JobState(status, JobOutcome.model_validate(json.loads(row[0])).result())
