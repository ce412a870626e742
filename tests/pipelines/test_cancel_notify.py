"""On PostgreSQL a run cancelled from another process is woken by the request's NOTIFY:
its ``pipelines.cancel_poll_s`` is 60 s, so only the notification can stop it within the
test's (generous) deadline."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from logomesh.engine import Engine
from logomesh.pipelines.states import RunState, StepState
from tests.pipelines.test_pipeline_commands import ME, execute
from tests.speaking_process import speaking

ROOT = Path(__file__).resolve().parents[2]
GENEROUS_S = 30.0  # below the run's 60 s poll and its first step's 60 s wait

pytestmark = pytest.mark.slow  # a real other process

SLOW = """\
version: 1
name: slow
steps:
  - {id: wait, uses: t.echo, with: {wait: 60}}
  - {id: after, uses: t.echo}
"""


def test_a_cancel_from_this_process_stops_a_run_in_another_at_once(
    pg_url: str,
    make_engine: Callable[..., Engine],
    workspace: Path,
    test_env: dict[str, str],
) -> None:
    """The run waits in a subprocess; ``pipeline.cancel`` here wakes it through NOTIFY: its
    running step is cancelled, the next skipped, the run recorded as cancelled."""
    (workspace / "pipelines").mkdir()
    (workspace / "pipelines" / "slow.yaml").write_text(SLOW, encoding="utf-8")
    canceller = make_engine(LOGOMESH_DATABASE__URL=pg_url)  # trusts the workspace too
    canceller.ensure_schema()  # migrated once, before two processes reach for it
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LOGOMESH_")},
        **test_env,
        "PYTHONPATH": str(ROOT),
        "LOGOMESH_DATABASE__URL": pg_url,
        "LOGOMESH_PIPELINES__CANCEL_POLL_S": "60",
    }
    with speaking(
        "tests.pipelines.notify_runner", str(workspace), "slow", cwd=workspace, env=env
    ) as runner:
        run_id = runner.expect("run", GENEROUS_S)
        cancel = execute(canceller, "pipeline.cancel", {"run": run_id})
        assert cancel.ok and "its process was told" in cancel.message, cancel.message
        result = json.loads(runner.expect("result", GENEROUS_S))
    assert result["code"] == "pipeline.cancelled", result["message"]
    record = canceller.pipeline_runs.get(run_id)
    assert record.state is RunState.CANCELLED
    assert {s.step_id: s.state for s in record.steps} == {
        "wait": StepState.CANCELLED,
        "after": StepState.SKIPPED,
    }
    assert record.actor == ME.user_id
