"""DevShell fixtures: a real git repository as the workspace, and helpers for processes.

No mocks: repositories are made with the real ``git``, commands run real processes, and
"the process is gone" is checked against the kernel's own process table.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest, CommandResult
from logomesh.commands.values import Actor
from logomesh.engine import Engine

# Spawns a grandchild, writes its pid to argv[1], then waits: killing only the direct
# child would leave the grandchild running.
SPAWNS_GRANDCHILD = (
    "import pathlib, subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "pathlib.Path(sys.argv[1]).write_text(str(child.pid))\n"
    "time.sleep(60)\n"
)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)
    return done.stdout


def commit_file(repo: Path, name: str, text: str, message: str) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    git(repo, "add", "--", name)
    git(repo, "commit", "-q", "-m", message)


@pytest.fixture
def repo(workspace: Path) -> Path:
    """The test workspace as a git repository on ``main`` with two commits."""
    git(workspace, "init", "-q", "-b", "main")
    git(workspace, "config", "user.name", "Ada Lovelace")
    git(workspace, "config", "user.email", "ada@example.com")
    git(workspace, "config", "commit.gpgsign", "false")
    commit_file(workspace, ".gitignore", ".logomesh/\n", "Ignore LogoMesh state")
    commit_file(workspace, "src/app.py", "def greet():\n    return 'hello'\n", "Add the app")
    return workspace


@pytest.fixture
def tools_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put this virtualenv's bin (ruff, pytest) on PATH, as an activated venv would."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


@pytest.fixture
def run_with(owner: Actor) -> Callable[..., CommandResult]:
    """Run a command through a given engine's one door, as the workspace owner."""

    def _run(
        engine: Engine, command: str, confirmed: bool = False, **arguments: Any
    ) -> CommandResult:
        return run_sync(engine, CommandRequest(command, owner, arguments, confirmed=confirmed))

    return _run


def is_running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie awaiting its reaper does not count)."""
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return False
        return state not in {"Z", "X"}
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_until_gone(pid: int, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not is_running(pid):
            return True
        time.sleep(0.02)
    return not is_running(pid)


def wait_for_pid_file(path: Path, within_s: float = 10.0) -> int:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if text.strip():
            return int(text)
        time.sleep(0.02)
    raise AssertionError(f"{path} was never written")


@pytest.fixture
def no_pwned(tmp_path: Path) -> Iterator[None]:
    """After the test: no file named ``pwned`` anywhere an injection could have made one."""
    yield
    found = [*tmp_path.rglob("pwned"), *Path.cwd().glob("pwned"), *Path("/").glob("pwned")]
    assert found == [], "an injected command ran"
