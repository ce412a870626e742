"""``logomesh pipeline ...`` as a person uses it: the real console script in a private,
trusted workspace whose pipeline runs a real process (a declared DevShell command that
sleeps), so cancelling from another process and Ctrl-C are the real thing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.cli.conftest import LOGOMESH, Run
from tests.conftest import trust_now

NAP = """\
[[devshell.commands]]
name = "nap"
summary = "Sleep a minute"
argv = ["sleep", "61"]
risk = "read"
"""

SLOW = """\
version: 1
name: slow
description: Sleep, then say so.
steps:
  - {id: nap, uses: nap, needs: []}
  - {id: status, uses: git.status, needs: []}
  - {id: after, uses: git.status, needs: [nap]}
"""


@pytest.fixture
def project(workspace: Path, cli_env: dict[str, str]) -> Path:
    subprocess.run(["git", "init", "-q", str(workspace)], check=True)
    (workspace / "logomesh.toml").write_text(NAP, encoding="utf-8")
    (workspace / "pipelines").mkdir()
    (workspace / "pipelines" / "slow.yaml").write_text(SLOW, encoding="utf-8")
    trust_now(workspace, cli_env)
    return workspace


@pytest.fixture
def started(
    project: Path, cli_env: dict[str, str]
) -> Iterator[Callable[[], tuple[subprocess.Popen[str], str]]]:
    procs: list[subprocess.Popen[str]] = []

    def start() -> tuple[subprocess.Popen[str], str]:
        """`pipeline run slow --json` in the background, once its nap is running and the
        step beside it finished."""
        proc = subprocess.Popen([str(LOGOMESH), "pipeline", "run", "slow", "--json"],
                                cwd=project, env=cli_env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)  # fmt: skip
        procs.append(proc)
        assert proc.stdout is not None
        run_id, seen = "", set()
        for line in proc.stdout:
            event = json.loads(line)
            run_id = event.get("run_id", run_id)
            seen.add((event["event"], event.get("step")))
            if {("step_started", "nap"), ("step_finished", "status")} <= seen:
                break
        _wait_for_sleep(proc.pid)
        return proc, run_id

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _wait_for_sleep(pid: int) -> psutil.Process:
    for _ in range(200):
        naps = [p for p in psutil.Process(pid).children(recursive=True) if p.name() == "sleep"]
        if naps:
            return naps[0]
        time.sleep(0.05)
    raise AssertionError("the nap never started")


def _events(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_list_validate_and_schema(project: Path, cli: Callable[..., Run]) -> None:
    listed = cli("pipeline", "list", "--json").json()
    assert [(row["name"], row["valid"], row["risk"]) for row in listed["data"]] == [
        ("slow", True, "read")
    ]
    assert cli("pipeline", "validate").code == 0
    (project / "pipelines" / "bad.yaml").write_text("version: 1\nname: bad\nsteps:\n\t- x\n")
    bad = cli("pipeline", "validate")
    assert bad.code == 1
    assert "bad.yaml:4:1" in bad.err and "tab" in bad.err
    assert "slow" in cli("pipeline", "list").out  # the broken file is not fatal
    schema = json.loads(cli("pipeline", "schema").out)
    assert schema["title"] == "LogoMesh pipeline" and "steps" in schema["properties"]


@pytest.mark.timeout(120)
def test_cancel_from_another_process_stops_the_running_step_and_skips_the_rest(
    started: Callable[[], tuple[subprocess.Popen[str], str]], cli: Callable[..., Run]
) -> None:
    proc, run_id = started()
    nap = _wait_for_sleep(proc.pid)
    cancelled = cli("pipeline", "cancel", run_id)
    assert cancelled.code == 0, cancelled.err
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 4  # cancelled
    events = _events(out)
    finished = {e["step"]: e["state"] for e in events if e["event"] == "step_finished"}
    assert finished == {"nap": "cancelled", "after": "skipped"}  # status finished before
    assert events[-1]["event"] == "result" and events[-1]["error"]["code"] == "pipeline.cancelled"
    assert not nap.is_running() or nap.status() == psutil.STATUS_ZOMBIE  # its process killed
    shown = cli("pipeline", "show", run_id, "--json").json()["data"]
    assert shown["state"] == "cancelled"


@pytest.mark.timeout(120)
def test_ctrl_c_cancels_the_run_and_records_it(
    started: Callable[[], tuple[subprocess.Popen[str], str]], cli: Callable[..., Run]
) -> None:
    proc, run_id = started()
    nap = _wait_for_sleep(proc.pid)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 4, err
    assert "Cancelled" in err
    nap_gone = not nap.is_running() or nap.status() == psutil.STATUS_ZOMBIE
    assert nap_gone
    runs = cli("pipeline", "runs", "--json").json()["data"]
    assert [(r["id"], r["state"]) for r in runs] == [(run_id, "cancelled")]
    [record] = [r for r in cli("audit", "query", "--json").json()["data"] if r["action"] == "nap"]
    assert record["outcome"] == "cancelled" and record["source"] == "pipeline"
