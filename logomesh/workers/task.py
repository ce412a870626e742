"""What a worker does with one job: run its request through the worker's own engine, keep
the result for the waiting run, and end the job as the command ended.

The request goes through ``Engine.execute`` like any other, so the worker's engine
authorises the original actor, asks for approvals, enforces the step's timeout and writes
the audit record under the run's correlation id. A command the worker's machine does not
have (its plugin is not installed there) is not a mystery: the job fails with that reason,
naming the worker's host, and the run's step fails with it. An abort (the run was
cancelled) cancels the running ``execute``, which records the cancellation itself.
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from logomesh.commands.models import CommandResult, ErrorInfo
from logomesh.errors import JobFailedError
from logomesh.workers.job import CommandJob
from logomesh.workers.results import save_result

if TYPE_CHECKING:
    from procrastinate.job_context import JobContext

    from logomesh.engine import Engine

# The key of the worker's engine in procrastinate's ``additional_context``.
ENGINE_KEY = "logomesh_engine"


def worker_name() -> str:
    """Who ran a job, as results and rescue records name it: host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_command(context: JobContext, /, **payload: Any) -> None:
    engine: Engine = context.additional_context[ENGINE_KEY]
    job = CommandJob.model_validate(payload)
    result = await engine.execute(job.request())
    result = _explained(engine, result)
    assert context.job.id is not None
    await asyncio.to_thread(
        save_result, engine.database, engine.change_feed, context.job.id, result, worker_name()
    )
    if not result.ok:
        # procrastinate's status says the job failed; the row above says why, in full.
        raise JobFailedError(f"{job.command}: {result.message}")


def _explained(engine: Engine, result: CommandResult) -> CommandResult:
    """An unknown command, said as what it is on a worker: this machine lacks it."""
    if result.error is None or result.error.code != "command.unknown":
        return result
    message = (
        f"The worker on {socket.gethostname()} (workspace {engine.settings.workspace}) cannot "
        f"run {result.command}: {result.error.message} Install the plugin or declare the "
        "command that provides it on that machine (and restart the worker), or give the "
        "step `executor: local` to run it where the pipeline runs."
    )
    return replace(result, message=message, error=ErrorInfo(result.error.code, message))
