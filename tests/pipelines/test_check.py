"""``pipeline.check``: a step that fails unless its ``ok`` is true, so a verdict a command
gives as data (``tests.run``'s ``passed``) can fail a run (real engine, real commands)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from logomesh.commands.models import CommandRequest
from logomesh.config import LoadedSettings
from logomesh.engine import Engine
from logomesh.pipelines.executor import RunOptions, RunResult, run_pipeline
from logomesh.pipelines.loader import load_bytes
from logomesh.pipelines.store import RunState, StepState
from logomesh.pipelines.validation import validate
from tests.pipelines.test_executor import ME


def run_text(engine: Engine, text: str, passed: bool) -> RunResult:
    known = {spec.name for spec in engine.registry}
    pipeline = validate(load_bytes(text.encode(), file="p.yaml"), known_commands=known)
    return asyncio.run(run_pipeline(engine, pipeline, {"passed": passed}, ME, RunOptions()))


CHECKS = """\
version: 1
name: checks
inputs:
  passed: {type: boolean, required: true}
defaults:
  retry: {max_attempts: 3, backoff: {initial: 0}}
steps:
  - id: gate
    uses: pipeline.check
    with: {ok: "${{ inputs.passed }}", message: "tests did not pass"}
  - id: ship
    uses: status
  - id: tell
    uses: status
    needs: [gate]
    if: failure()
"""


def test_a_false_check_fails_its_step_and_the_run_without_retries(engine: Engine) -> None:
    result = run_text(engine, CHECKS, passed=False)
    gate = result.steps["gate"]
    assert gate.state is StepState.FAILED and gate.message == "tests did not pass"
    assert gate.attempts == 1  # a verdict is the same on every attempt: never retried
    assert result.steps["ship"].state is StepState.SKIPPED
    assert result.steps["tell"].state is StepState.SUCCEEDED  # failure() sees it
    assert result.state is RunState.FAILED


def test_a_true_check_lets_the_run_go_on(engine: Engine) -> None:
    result = run_text(engine, CHECKS, passed=True)
    assert result.steps["gate"].data == {"ok": True, "message": "tests did not pass"}
    assert result.steps["ship"].state is StepState.SUCCEEDED
    assert result.steps["tell"].state is StepState.SKIPPED
    assert result.state is RunState.SUCCEEDED


def test_only_a_real_boolean_passes_a_check(engine: Engine) -> None:
    """A truthy string or number (``"true"``, ``1``: an expression mixed with text, a
    count) is refused with the argument named, rather than read as a verdict."""
    for ok in ("true", 1, "yes"):
        result = asyncio.run(engine.execute(CommandRequest("pipeline.check", ME, {"ok": ok})))
        assert not result.ok and result.error is not None
        assert result.error.code == "command.invalid_arguments", result.error
        assert "ok" in result.message and "boolean" in result.message


def test_no_pipeline_may_be_named_check(
    workspace: Path, make_engine: Callable[..., Engine], load: Callable[..., LoadedSettings]
) -> None:
    folder = workspace / "pipelines"
    folder.mkdir()
    (folder / "check.yaml").write_text(
        "version: 1\nname: check\nsteps:\n  - {id: a, uses: status}\n", encoding="utf-8"
    )
    engine = make_engine()
    [entry] = engine.pipelines.entries
    assert not entry.valid
    assert "taken by the command pipeline.check" in str(entry.problems[0])
    assert entry.problems[0].line == 2
