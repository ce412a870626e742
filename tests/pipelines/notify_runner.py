"""Another process running a pipeline whose first step waits a minute, with
``pipelines.cancel_poll_s`` at 60 s so that only a NOTIFY can stop it in time:
``python -m tests.pipelines.notify_runner WORKSPACE PIPELINE``.

It runs with the test's environment (its private config dir, LOGOMESH_DATABASE__URL and
LOGOMESH_PIPELINES__CANCEL_POLL_S), prints ``run ID`` once the run's row is written, its
first step has started and its change feed is listening, then ``result JSON`` at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from logomesh.commands.models import CommandRequest
from logomesh.composition import build_engine
from logomesh.config import load_settings
from logomesh.pipelines.events import StepStarted
from tests.pipelines.test_pipeline_commands import ME, Calls, step_registry
from tests.speaking_process import feed_listening


async def main(workspace: Path, pipeline: str) -> None:
    loaded = load_settings(workspace, None, environ=dict(os.environ))
    engine = build_engine(loaded.settings, registry=step_registry(Calls()))
    started: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_start(event: StepStarted) -> None:
        if not started.done():
            started.set_result(event.run_id)

    engine.events.subscribe(StepStarted, on_start)
    try:
        task = asyncio.create_task(engine.execute(CommandRequest(f"pipeline.{pipeline}", ME)))
        run_id = await started
        await feed_listening(engine)
        print("run", run_id, flush=True)
        result = await task
        code = result.error.code if result.error else None
        print("result", json.dumps({"code": code, "message": result.message}), flush=True)
    finally:
        engine.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2]))
