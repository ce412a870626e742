"""`logomesh worker` and `logomesh worker status` as a person uses them: refused on SQLite
with the fix, the figures of a real queue, and the faults that must say what to do."""

from __future__ import annotations

import asyncio
import getpass
import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Source
from logomesh.config import LoadedSettings
from logomesh.engine import Engine
from logomesh.errors import QueueUnreachableError
from logomesh.workers.dispatch import _enqueue
from logomesh.workers.job import CommandJob
from logomesh.workers.queue import opened
from tests.cli.conftest import LOGOMESH, Run
from tests.workers.conftest import Team, wait_for

ME = Actor(Source.CLI, getpass.getuser(), "Ada", ("g1",))


def test_a_worker_on_sqlite_says_it_needs_postgresql(cli: Callable[..., Run]) -> None:
    for args in (("worker",), ("worker", "status")):
        run = cli(*args)
        assert run.code == 1, run
        assert "needs team mode's PostgreSQL" in run.err and "database.url" in run.err
        assert "docs/team.md" in run.err


def test_a_distributed_step_on_sqlite_fails_with_the_fix(
    workspace: Any, make_engine: Callable[..., Engine]
) -> None:
    (workspace / "pipelines").mkdir()
    (workspace / "pipelines" / "far.yaml").write_text(
        "version: 1\nname: far\nsteps:\n  - {id: s, uses: status, executor: distributed}\n"
    )
    local = make_engine()
    result = run_sync(local, CommandRequest("pipeline.far", ME, {}))
    assert result.error is not None and "s (failed)" in result.error.message
    [step] = local.pipeline_runs.get(result.error.message.split("run ")[1].split(")")[0]).steps
    assert "needs team mode's PostgreSQL" in str(step.error)
    assert "`executor: local`" in str(step.error)


def test_an_unknown_executor_is_a_validation_error(
    workspace: Any, make_engine: Callable[..., Engine]
) -> None:
    (workspace / "pipelines").mkdir()
    (workspace / "pipelines" / "bad.yaml").write_text(
        "version: 1\nname: bad\nexecutor: remote\nsteps:\n  - {id: s, uses: status}\n"
    )
    result = run_sync(make_engine(), CommandRequest("pipeline.validate", ME, {}))
    assert "executor" in json.dumps(result.to_dict())


def test_the_payload_carries_the_original_actor_and_ids() -> None:
    request = CommandRequest("mark", ME, {"n": "1"}, parent_id="run", timeout_s=5.0)
    job = CommandJob.model_validate(json.loads(CommandJob.of(request, 2).model_dump_json()))
    again = job.request()
    assert (again.actor, again.correlation_id, again.parent_id) == (
        ME,
        request.correlation_id,
        "run",
    )
    assert (again.timeout_s, again.via, job.attempt) == (5.0, Source.PIPELINE, 2)


def test_an_unreachable_queue_names_the_host_and_setting_never_the_password(
    load: Callable[..., LoadedSettings], tmp_path: Any
) -> None:
    url = f"postgresql+psycopg://lm:s3cret-pw@/db?host={tmp_path}/nowhere"
    settings = load(LOGOMESH_DATABASE__URL=url).settings

    async def go() -> None:
        async with opened(settings):
            pass

    with pytest.raises(QueueUnreachableError) as caught:
        asyncio.run(go())
    message = caught.value.user_message
    assert f"{tmp_path}/nowhere" in message and "`database.url`" in message
    assert "s3cret" not in message and "s3cret" not in str(caught.value)


def test_worker_status_counts_workers_waiting_jobs_and_the_oldest_wait(
    team: Team, run_engine: Any
) -> None:
    engine = run_engine("version: 1\nname: idle\nsteps:\n  - {id: s, uses: status}\n")
    team.worker("--queue", "elsewhere")  # alive, but takes nothing from `logomesh`
    for n in range(3):
        request = CommandRequest("mark", ME, {"n": str(n)}, parent_id="r")
        asyncio.run(_enqueue(engine, CommandJob.of(request)))
    shown = _cli(team, "worker", "status", "--json")
    data = shown["data"]
    assert (data["workers_alive"], data["waiting"], data["running"]) == (1, 3, 0)
    [queue] = data["queues"]
    assert (queue["name"], queue["waiting"]) == ("logomesh", 3)
    assert data["oldest_waiting_s"] >= 0
    status = _cli(team, "status", "--json")["data"]["workers"]
    assert (status["workers_alive"], status["waiting"]) == (1, 3)
    worker = team.worker("--queue", "logomesh")
    wait_for(lambda: [s for _, s, _ in team.jobs()] == ["succeeded"] * 3,
             what="the worker to run the waiting jobs", proc=worker)  # fmt: skip
    assert sorted((team.out / "marks.txt").read_text().split()) == ["0", "1", "2"]


def _cli(team: Team, *args: str) -> Any:
    proc = subprocess.run([str(LOGOMESH), *args], cwd=team.run_ws, env=team.env,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)
