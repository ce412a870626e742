"""What a command's deadline means: an honest error, and an audit record for work that
outlives it.

A handler's thread work may still be running when its timeout passes (a thread cannot be
killed). The command then fails with "stopped" only when nothing of it still runs;
otherwise with "still running", and when that work ends, a second audit record and a
:class:`BackgroundWorkFinished` event say how (:meth:`Attempt.late_entry`).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from logomesh.commands.threads import (
    ThreadWork,
    ThreadWorks,
    follow_up,
    still_running_message,
    stopped_message,
)
from logomesh.errors import CommandStillRunningError, CommandTimeoutError
from logomesh.events import BackgroundWorkFinished

if TYPE_CHECKING:
    from logomesh.attempt import Attempt
    from logomesh.commands.models import CommandSpec
    from logomesh.engine import Engine


async def timed_out(
    engine: Engine, spec: CommandSpec, limit_s: float, works: ThreadWorks, attempt: Attempt
) -> CommandTimeoutError:
    """The error for a deadline: "stopped" only when nothing of the command still runs."""
    running = await works.settle()
    if not running:
        done = [work.what for work in works.stopped() if work.error() is None]
        if done:  # it ended as the deadline passed: its effects are there
            attempt.details["finished_at_deadline"] = done
        return CommandTimeoutError(stopped_message(spec.name, limit_s, works.stopped()))
    correlation_id = attempt.request.correlation_id
    attempt.details["still_running"] = True
    attempt.details["still_running_work"] = [work.what for work in running]
    follow_up(running, engine.events, correlation_id, functools.partial(_late, engine, attempt))
    return CommandStillRunningError(
        still_running_message(spec.name, limit_s, running, correlation_id)
    )


def _late(engine: Engine, attempt: Attempt, work: ThreadWork) -> None:
    """Audit how work that outlived its command's timeout ended (in a thread)."""
    entry = attempt.late_entry(work)
    engine.record_audit_sync(entry)
    request = attempt.request
    engine.events.publish_threadsafe(
        BackgroundWorkFinished(
            request.correlation_id, request.command, work.what, str(entry.outcome), entry.error
        )
    )
