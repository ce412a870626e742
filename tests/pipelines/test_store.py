"""Pipeline runs in a real SQLite file (migration 0004): what a run and its steps keep,
redacted; a cancel asked from another process; a run whose process died shown as
interrupted; and the newest runs first."""

from __future__ import annotations

import subprocess
import sys

import pytest

from logomesh.engine import Engine
from logomesh.errors import PipelineRunNotFoundError
from logomesh.pipelines.store import Runner, RunState, RunStore, StepState

SECRET = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"


@pytest.fixture
def store(engine: Engine) -> RunStore:
    return RunStore(engine.database, prepare=engine.ensure_schema)


def start(store: RunStore, run_id: str = "run1", runner: Runner | None = None) -> None:
    store.start_run(
        run_id,
        "ci",
        "d" * 64,
        correlation_id=f"corr-{run_id}",
        actor="ada",
        inputs={"branch": "main", "token": SECRET},
        runner=runner,
    )


def test_a_run_and_its_steps_are_kept_redacted(store: RunStore) -> None:
    start(store)
    store.record_step("run1", "lint", command="devshell.lint", state=StepState.RUNNING, attempts=1)
    store.record_step(
        "run1", "lint", command="devshell.lint", state=StepState.RETRYING, attempts=1,
        error=f"failed with token={SECRET}",
    )  # fmt: skip
    store.record_step(
        "run1", "lint", command="devshell.lint", state=StepState.SUCCEEDED, attempts=2,
        outcome="ok", output={"log": f"pushed with {SECRET}"}, audit_id="a" * 32,
    )  # fmt: skip
    for item in (0, 1):
        store.record_step(
            "run1", "each", item=item, command="audit.query", state=StepState.SKIPPED, attempts=0
        )
    store.finish_run("run1", RunState.SUCCEEDED)

    run = store.get("run1")
    assert run.state is RunState.SUCCEEDED and run.finished_at is not None
    assert run.inputs["branch"] == "main" and SECRET not in str(run.to_dict())
    lint = next(step for step in run.steps if step.step_id == "lint")
    assert (lint.state, lint.attempts, lint.outcome) == (StepState.SUCCEEDED, 2, "ok")
    assert lint.started_at is not None and lint.finished_at is not None
    assert lint.audit_id == "a" * 32
    assert [(s.step_id, s.item) for s in run.steps if s.step_id == "each"] == [
        ("each", 0),
        ("each", 1),
    ]


def test_a_cancel_asked_from_another_process_is_seen_by_the_runner(
    store: RunStore, engine: Engine
) -> None:
    start(store)
    assert not store.cancel_requested("run1")
    url = engine.settings.database_url
    code = (
        "import sys; from logomesh.storage.database import Database;"
        "from logomesh.pipelines.store import RunStore;"
        "run = RunStore(Database(sys.argv[1])).request_cancel('run1');"
        "print(run.cancel_requested)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, url], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "True"
    assert store.cancel_requested("run1")
    store.finish_run("run1", RunState.CANCELLED)
    assert store.request_cancel("run1").state is RunState.CANCELLED  # nothing left to cancel


def test_a_run_whose_process_died_is_interrupted(store: RunStore) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    runner = Runner(Runner.this_process().host, gone.pid, 1.0)  # not this pid's start time
    start(store, "dead", runner=runner)
    start(store, "alive")
    states = {run.id: run.state for run in store.runs()}
    assert states == {"dead": RunState.INTERRUPTED, "alive": RunState.RUNNING}
    elsewhere = Runner("another-host", 1, 1.0)
    start(store, "remote", runner=elsewhere)
    assert store.get("remote").state is RunState.RUNNING  # not ours to judge


def test_runs_are_listed_newest_first_and_an_unknown_run_is_named(store: RunStore) -> None:
    for run_id in ("a", "b", "c"):
        start(store, run_id)  # microsecond stamps: in order
    assert [run.id for run in store.runs()] == ["c", "b", "a"]
    assert [run.id for run in store.runs(pipeline="ci", limit=2)] == ["c", "b"]
    assert store.runs(pipeline="other") == []
    with pytest.raises(PipelineRunNotFoundError) as caught:
        store.get("nope")
    assert "logomesh pipeline runs" in caught.value.user_message
