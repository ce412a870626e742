"""What DevShell adds to running a program: the same argv run directly vs through the door.

Each figure pairs ``subprocess.run(argv)`` with ``Engine.execute`` of a DevShell command
that runs the same argv, back to back (alternating which goes first) so both see the same
machine state, and reports percentiles of the per-pair differences. The difference is
DevShell's and the engine's whole cost per command: argument validation,
authorisation, the scrubbed environment, the tool lookup, the process group, output capture
and the audit record written to SQLite. Two programs: ``true`` (a user-defined command, so
nothing but overhead) and ``git status`` in a small repository (the built-in ``git.status``,
which adds porcelain parsing).
"""

from __future__ import annotations

import asyncio
import getpass
import shutil
import subprocess
import time
from pathlib import Path

from benchmarks.table import Row
from benchmarks.timing import Paired, overhead_rows, paired
from benchmarks.workspace import open_engine, private_workspace
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Source
from logomesh.devshell.git import git_argv
from logomesh.engine import Engine

P95_TARGET_MS = 20.0
MEASURES = (
    "Per pair: seconds of `Engine.execute` of the DevShell command (in one event loop, its "
    "audit record committed) minus seconds of `subprocess.run` of the same argv in the same "
    "folder; the two run back to back, alternating which goes first."
)
GIT_STATUS = git_argv("status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all")


def run(quick: bool) -> list[Row]:
    count, warmup = (50, 5) if quick else (200, 20)
    true = shutil.which("true")
    if true is None or shutil.which("git") is None:
        raise FileNotFoundError("this benchmark needs `true` and `git` on PATH")
    with private_workspace() as workspace, asyncio.Runner() as loop:
        _make_repository(workspace.root, true)
        engine = open_engine(workspace)
        try:
            cases = (
                ("`true` via a user command", "bench.true", [true]),
                ("`git status` via git.status", "git.status", GIT_STATUS),
            )
            rows = []
            for name, command, argv in cases:
                pairs = _compare(loop, engine, command, argv, workspace.root, count, warmup)
                rows += overhead_rows(
                    f"DevShell overhead, {name} ({count:,} runs)",
                    pairs,
                    baseline_label="direct",
                    measures=MEASURES,
                    p95_target_ms=P95_TARGET_MS,
                    digits=2,
                )
        finally:
            engine.close()
    return rows


def _make_repository(root: Path, true: str) -> None:
    (root / "logomesh.toml").write_text(
        f'[[devshell.commands]]\nname = "bench.true"\nargv = ["{true}"]\nrisk = "read"\n'
    )
    (root / ".gitignore").write_text(".logomesh/\n")
    for number in range(20):
        (root / f"module_{number}.py").write_text(f"VALUE = {number}\n")
    identity = ["-c", "user.name=Bench", "-c", "user.email=bench@example.com"]
    for argv in (["init", "-q"], ["add", "."], [*identity, "commit", "-q", "-m", "Start"]):
        subprocess.run(["git", *argv], cwd=root, check=True, capture_output=True)
    (root / "module_0.py").write_text("VALUE = 'changed'\n")


def _compare(
    loop: asyncio.Runner,
    engine: Engine,
    command: str,
    argv: list[str],
    cwd: Path,
    count: int,
    warmup: int,
) -> Paired:
    """Direct and engine runs in pairs; one event loop serves every engine run, as in a
    long-lived adapter."""
    actor = Actor(Source.CLI, getpass.getuser())

    def direct() -> float:
        started = time.perf_counter()
        subprocess.run(argv, cwd=cwd, check=True, capture_output=True)
        return time.perf_counter() - started

    def through() -> float:
        request = CommandRequest(command, actor)
        started = time.perf_counter()
        result = loop.run(engine.execute(request))
        elapsed = time.perf_counter() - started
        if not result.ok:
            raise RuntimeError(f"{command} did not succeed: {result.message}")
        return elapsed

    return paired(direct, through, count, warmup)
