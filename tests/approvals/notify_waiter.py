"""Another process whose request waits for approval with a 60 s poll, so that only a NOTIFY
can wake it in time: ``python -m tests.approvals.notify_waiter WORKSPACE POLL_S``.

It runs with the test's environment (its private config dir and LOGOMESH_DATABASE__URL),
prints ``ticket ID`` once its ticket is open and its change feed is listening (a decision
taken earlier would only prove the fallback re-read), then ``result JSON`` when the request
has ended.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import sys
from pathlib import Path

from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Source
from logomesh.composition import build_engine
from logomesh.config import load_settings
from logomesh.events import ApprovalRequested
from tests.approvals.conftest import guarded
from tests.speaking_process import feed_listening


async def main(workspace: Path, poll_s: float) -> None:
    loaded = load_settings(workspace, None, environ=dict(os.environ))
    engine = build_engine(loaded.settings, provenance=loaded.provenance)
    engine.registry.register(guarded)
    engine.approvals.poll_s = poll_s
    opened: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    engine.events.subscribe(ApprovalRequested, lambda event: opened.set_result(event.ticket_id))
    request = CommandRequest(
        "test.guarded", Actor(Source.CLI, getpass.getuser()), {"note": "woken"},
        wait_for_approval=True,
    )  # fmt: skip
    try:
        task = asyncio.create_task(engine.execute(request))
        ticket_id = await opened
        await feed_listening(engine)
        print("ticket", ticket_id, flush=True)
        result = await task
        said = {"ok": result.ok, "message": result.message, "correlation_id": result.correlation_id}
        print("result", json.dumps(said), flush=True)
    finally:
        engine.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), float(sys.argv[2])))
