"""The run recorder against a real SQLite file that another connection holds locked: the
run is never held up, rows wait in memory and are written in order once the lock goes, and
a database that never frees is said in a warning, not raised into the run."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from logomesh.engine import Engine
from logomesh.pipelines.recorder import RunRecorder, RunStart
from logomesh.pipelines.store import RunState, RunStore, StepState, StepUpdate
from logomesh.storage.database import Database


@pytest.fixture
def store(engine: Engine) -> Iterator[RunStore]:
    engine.ensure_schema()
    assert engine.database.path is not None
    impatient = Database(engine.settings.database_url, busy_timeout_ms=50)
    yield RunStore(impatient)
    impatient.dispose()


HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


@contextmanager
def locked(engine: Engine) -> Iterator[threading.Event]:
    """Another process holds the write lock until the event is set (a process, since
    SQLite's POSIX locks do not tell two connections of one process apart)."""
    release = threading.Event()
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(engine.database.path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline().strip() == "locked"

    def let_go() -> None:
        release.wait(30)
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()

    thread = threading.Thread(target=let_go)
    thread.start()
    try:
        yield release
    finally:
        release.set()
        thread.join()
        holder.wait(10)


START = RunStart("run1", "ci", "d" * 64, "corr1", "ada", {"branch": "main"})


def steps(count: int) -> list[StepUpdate]:
    return [StepUpdate(f"s{n}", 0, "t.echo", StepState.SUCCEEDED, 1, "ok", {"n": n})
            for n in range(count)]  # fmt: skip


@pytest.mark.timeout(60)
def test_rows_queued_while_the_database_is_locked_are_written_once_it_frees(
    engine: Engine, store: RunStore
) -> None:
    async def go(release: threading.Event) -> str | None:
        recorder = RunRecorder(store, START, poll_s=0.05)
        await recorder.open()
        for update in steps(50):
            recorder.step(update)  # returns at once: the run goes on
        await asyncio.sleep(0.5)  # several failed attempts meanwhile
        assert (await asyncio.to_thread(_runs, engine)) == 0
        release.set()
        return await recorder.close(RunState.SUCCEEDED)

    with locked(engine) as release:
        warning = asyncio.run(go(release))
    assert warning is None
    run = RunStore(engine.database).get("run1")
    assert run.state is RunState.SUCCEEDED
    assert sorted(step.output["n"] for step in run.steps) == list(range(50))


@pytest.mark.timeout(60)
def test_a_database_that_stays_locked_is_a_warning_naming_it_and_the_run(
    engine: Engine, store: RunStore
) -> None:
    async def go() -> str | None:
        recorder = RunRecorder(store, START, poll_s=0.05, retry_for_s=0.5)
        await recorder.open()
        for update in steps(3):
            recorder.step(update)
        return await recorder.close(RunState.SUCCEEDED)

    with locked(engine):
        warning = asyncio.run(go())
    assert warning is not None
    assert "Pipeline run run1 ran, but its rows could not be written" in warning
    assert "locked" in warning and str(engine.database.path) in warning


def _runs(engine: Engine) -> int:
    return len(RunStore(engine.database).runs())
