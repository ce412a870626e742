"""Pipelines with ``executor: distributed`` run by real `logomesh worker` processes on a
real PostgreSQL: a worker killed mid-step, many jobs and two workers, a step the worker's
machine cannot run, a cancelled run, and a worker whose connections the server drops."""

from __future__ import annotations

import getpass
import socket
import threading
from collections import Counter
from typing import Any

from logomesh.audit.query import AuditFilter
from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest, CommandResult
from logomesh.commands.values import Actor, Source
from logomesh.engine import Engine
from tests.workers.conftest import Team, wait_for

ME = Actor(Source.CLI, getpass.getuser())


class Background:
    """``pipeline.NAME`` run in a thread, as a person runs it; ``result`` once it ends."""

    def __init__(self, engine: Engine, name: str, **inputs: Any) -> None:
        self.request = CommandRequest(f"pipeline.{name}", ME, inputs)
        self.result: CommandResult | None = None
        self.engine = engine
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.result = run_sync(self.engine, self.request)

    def join(self, timeout: float = 60) -> CommandResult:
        self.thread.join(timeout)
        assert self.result is not None, "the run did not end"
        return self.result


def test_a_step_whose_worker_is_killed_is_retried_on_another_and_the_run_completes(
    team: Team, run_engine: Any
) -> None:
    engine = run_engine("""\
version: 1
name: nap
executor: distributed
steps:
  - {id: nap, uses: nap, with: {s: "60"}}
  - {id: after, uses: mark, with: {n: "7"}}
""")
    first = team.worker()
    run = Background(engine, "nap")
    wait_for(lambda: (team.out / "napped").exists(), what="the step to start on the first worker")
    second = team.worker()
    team.kill(first)  # mid-step: its nap never ends, its heartbeat stops
    result = run.join()
    assert result.ok, result.message
    assert result.data["steps"]["nap"]["state"] == "succeeded"
    assert (team.out / "marks.txt").read_text() == "7\n"
    [(job_id, status, attempts), after] = team.jobs()
    assert (status, attempts) == ("succeeded", 2)  # procrastinate's count: run twice
    assert after[1:] == ("succeeded", 1)
    # The trail: the first attempt's start, its rescue, the second attempt's start and end.
    records = engine.audit.store.query(AuditFilter(limit=None, oldest_first=True))
    tree = [r for r in records if r.parent_id == result.correlation_id]
    nap = [(r.action, str(r.outcome)) for r in tree if "nap" in (r.action, r.target)]
    assert nap == [("command.started", "started"), ("worker.rescue", "ok"),
                   ("command.started", "started"), ("nap", "ok")]  # fmt: skip
    rescue = next(r for r in tree if r.action == "worker.rescue")
    assert rescue.details["job_id"] == job_id and rescue.details["retry"] == 1
    assert second.poll() is None


def test_two_workers_never_run_the_same_job(team: Team, run_engine: Any) -> None:
    engine = run_engine("""\
version: 1
name: many
executor: distributed
steps:
  - id: each
    uses: mark
    for_each: "${{ inputs.items }}"
    max_parallel: 50
    with: {n: "${{ item }}"}
inputs:
  items: {type: array}
""")
    team.worker("--concurrency", "4")
    team.worker("--concurrency", "4")
    result = run_sync(
        engine, CommandRequest("pipeline.many", ME, {"items": [str(n) for n in range(50)]})
    )
    assert result.ok, result.message
    marks = Counter((team.out / "marks.txt").read_text().split())
    assert marks == Counter(str(n) for n in range(50))  # each exactly once
    assert [status for _, status, _ in team.jobs()] == ["succeeded"] * 50
    assert team.sql("SELECT count(*) FROM job_results")[0][0] == 50
    done = engine.audit.store.query(AuditFilter(action="mark", outcome="ok", limit=None))
    assert sorted(int(r.target or -1) for r in done) == list(range(50))


def test_a_command_the_workers_machine_lacks_fails_the_step_with_that_reason(
    team: Team, run_engine: Any
) -> None:
    engine = run_engine("""\
version: 1
name: here
executor: distributed
steps:
  - {id: local-only, uses: only-here}
""")
    team.worker()
    result = run_sync(engine, CommandRequest("pipeline.here", ME, {}))
    assert result.error is not None and "local-only (failed)" in result.error.message
    [(error,)] = team.sql("SELECT error FROM pipeline_steps")  # the run's step, as shown
    assert f"The worker on {socket.gethostname()}" in error
    assert "cannot run only-here" in error and "Install the plugin" in error
    assert [status for _, status, _ in team.jobs()] == ["failed"]  # procrastinate's too


def test_cancelling_a_run_aborts_its_running_and_queued_jobs(team: Team, run_engine: Any) -> None:
    engine = run_engine("""\
version: 1
name: two
executor: distributed
steps:
  - {id: a, uses: nap, needs: [], with: {s: "60"}}
  - {id: b, uses: nap, needs: [], with: {s: "60"}}
""")
    team.worker("--concurrency", "1")
    run = Background(engine, "two")
    wait_for(lambda: sorted(s for _, s, _ in team.jobs()) == ["doing", "todo"],
             what="one job running and one waiting")  # fmt: skip
    run_id = wait_for(lambda: team.sql("SELECT id FROM pipeline_runs"), what="the run")[0][0]
    cancelled = run_sync(engine, CommandRequest("pipeline.cancel", ME, {"run": run_id}))
    assert cancelled.ok, cancelled.message
    result = run.join()
    assert result.error is not None and result.error.code == "pipeline.cancelled"
    wait_for(lambda: sorted(s for _, s, _ in team.jobs()) == ["aborted", "cancelled"],
             what="the running job aborted and the waiting one cancelled")  # fmt: skip
    records = engine.audit.store.query(AuditFilter(action="nap", limit=None))
    assert [str(r.outcome) for r in records] == ["cancelled"]  # the worker's execute said so


def test_a_worker_whose_connections_are_dropped_reconnects_and_goes_on(
    team: Team, run_engine: Any
) -> None:
    engine = run_engine("""\
version: 1
name: once
executor: distributed
steps:
  - {id: mark, uses: mark, with: {n: "${{ inputs.n }}"}}
inputs:
  n: {type: string}
""")
    proc = team.worker()
    assert run_sync(engine, CommandRequest("pipeline.once", ME, {"n": "1"})).ok
    dropped = team.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{team.database}' AND pid <> pg_backend_pid()"
    )
    assert len(dropped) >= 2  # the worker's listener and pooled connections, ours too
    result = run_sync(engine, CommandRequest("pipeline.once", ME, {"n": "2"}))
    assert result.ok, result.message + team.log()
    assert (team.out / "marks.txt").read_text() == "1\n2\n"
    assert proc.poll() is None
