"""Distributed work for real: a PostgreSQL of the session's server, `logomesh worker`
subprocesses in workspaces of their own (their commands are that machine's), and the run's
side as an engine of the test's workspace on the same database.

The steps' commands are declared DevShell commands running this Python: ``mark`` appends a
number to a file (who ran what, how often), ``nap`` sleeps unless a marker file says an
earlier attempt already slept (so a step retried after its worker was killed finishes).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from logomesh.engine import Engine
from tests.cli.conftest import LOGOMESH, cli, cli_env  # noqa: F401  (fixtures)
from tests.conftest import trust_now
from tests.postgres import PgServer

PY = sys.executable
MARK = "import sys; open(sys.argv[1], 'a').write(sys.argv[2] + '\\n')"
NAP = (
    "import os, sys, time\n"
    "marker = sys.argv[1]\n"
    "if os.path.exists(marker): sys.exit(0)\n"
    "open(marker, 'w').write(str(os.getpid()))\n"
    "time.sleep(float(sys.argv[2]))\n"
)
# Fast figures, so a silent worker is gone in seconds, not half a minute.
WORKERS = """
[workers]
heartbeat_s = 0.3
stalled_after_s = 1.5
rescue_every_s = 0.3
poll_s = 0.05
"""
# Every step's "started" record is written before it runs (a user setting, not a
# workspace's), so the trail shows an attempt its worker never finished.
DURABLE = {"LOGOMESH_AUDIT__DURABLE_FROM": "read"}


def toml(out: Path, *, only_here: bool = False) -> str:
    commands = [
        ("mark", [PY, "-c", MARK, str(out / "marks.txt"), "{n}"], {"n": "[0-9]+"}),
        ("nap", [PY, "-c", NAP, str(out / "napped"), "{s}"], {"s": "[0-9.]+"}),
    ]
    if only_here:
        commands.append(("only-here", [PY, "-c", "pass"], {}))
    blocks = [
        f'[[devshell.commands]]\nname = "{name}"\nsummary = "{name}"\nrisk = "read"\n'
        f"argv = {json.dumps(argv)}\nargs = {json.dumps(args).replace(':', ' =')}\n"
        for name, argv, args in commands
    ]
    return WORKERS + "\n" + "\n".join(blocks)


@dataclass
class Team:
    """One database; the run's workspace; a worker's workspace; the workers started."""

    pg: PgServer
    database: str
    url: str
    run_ws: Path
    worker_ws: Path
    out: Path
    env: dict[str, str]
    procs: list[subprocess.Popen[str]]

    def sql(self, statement: str) -> list[tuple[Any, ...]]:
        return self.pg.execute(statement, self.database)

    def worker(self, *args: str, workspace: Path | None = None) -> subprocess.Popen[str]:
        """`logomesh worker ARGS` in its own process group, once it is registered."""
        before = self.sql("SELECT count(*) FROM procrastinate_workers")[0][0]
        log = (self.out / f"worker-{len(self.procs)}.log").open("w")
        proc = subprocess.Popen([str(LOGOMESH), "worker", *args], cwd=workspace or self.worker_ws,
                                env=self.env, stdout=log, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)  # fmt: skip
        self.procs.append(proc)
        wait_for(lambda: self.sql("SELECT count(*) FROM procrastinate_workers")[0][0] > before,
                 what="the worker to register", proc=proc)  # fmt: skip
        return proc

    def kill(self, proc: subprocess.Popen[str]) -> None:
        """SIGKILL the worker and what it started (its step's process)."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def jobs(self) -> list[tuple[int, str, int]]:
        rows = self.sql("SELECT id, status::text, attempts FROM procrastinate_jobs ORDER BY id")
        return [(int(i), str(s), int(a)) for i, s, a in rows]

    def log(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.out.glob("worker-*.log")))


def wait_for(check: Callable[[], Any], *, what: str, timeout: float = 30,
             proc: subprocess.Popen[str] | None = None) -> Any:  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the process exited ({proc.returncode}) while waiting for {what}")
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture
def team(
    pg_server: PgServer, pg_database: str, workspace: Path, tmp_path: Path, test_env: dict[str, str]
) -> Iterator[Team]:
    out = tmp_path / "out"
    out.mkdir()
    worker_ws = tmp_path / "worker-ws"
    worker_ws.mkdir()
    (workspace / "logomesh.toml").write_text(toml(out, only_here=True), encoding="utf-8")
    (worker_ws / "logomesh.toml").write_text(toml(out), encoding="utf-8")
    (workspace / "pipelines").mkdir()
    url = pg_server.url(pg_database)
    keep = {k: v for k, v in os.environ.items() if not k.startswith("LOGOMESH_")}
    env = {**keep, **test_env, **DURABLE, "LOGOMESH_DATABASE__URL": url, "NO_COLOR": "1"}
    trust_now(worker_ws, env)
    made = Team(pg_server, pg_database, url, workspace, worker_ws, out, env, [])
    yield made
    for proc in made.procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture
def run_engine(team: Team, make_engine: Callable[..., Engine]) -> Callable[[str], Engine]:
    """The run's side: an engine of the test's workspace with the pipeline file written."""

    def make(pipeline: str) -> Engine:
        name = pipeline.split("name:", 1)[1].split()[0]
        (team.run_ws / "pipelines" / f"{name}.yaml").write_text(pipeline, encoding="utf-8")
        engine = make_engine(LOGOMESH_DATABASE__URL=team.url, **DURABLE)
        engine.ensure_schema()
        return engine

    return make
