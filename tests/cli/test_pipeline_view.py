"""The CLI's view of a pipeline run: the table fed by the run's events (a pure state
machine with an injected clock), and ``follow_run`` on a real engine running a real
pipeline: JSON lines, plain lines off a terminal, a live table on one; and the tables of
``pipeline runs``, ``show`` and ``list``."""

from __future__ import annotations

import asyncio
import getpass
import io
import json
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict
from rich.console import Console, RenderableType

from logomesh.cli.pipeline_view import (
    RunView,
    follow_run,
    render_pipelines,
    render_run,
    render_runs,
)
from logomesh.commands.models import CommandContext, CommandOutput, CommandSpec
from logomesh.commands.values import Actor, RiskLevel, Source
from logomesh.engine import Engine
from logomesh.events import ApprovalDecided, ApprovalRequested
from logomesh.pipelines.events import (
    PipelineRunFinished,
    PipelineRunStarted,
    StepFinished,
    StepProgress,
    StepRetrying,
    StepStarted,
)
from logomesh.pipelines.executor import RunResult, run_pipeline
from logomesh.pipelines.loader import load_bytes
from logomesh.pipelines.validation import validate

ME = Actor(Source.CLI, getpass.getuser())
CID, RUN = "corr-1", "run-1"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def text_of(renderable: RenderableType) -> str:
    console = Console(file=io.StringIO(), record=True, width=120)
    console.print(renderable)
    return console.export_text()


def row(text: str, step: str) -> str:
    """The rendered line of one step (its name first in the line)."""
    [line] = [line for line in text.splitlines() if line.strip().startswith(f"{step} ")]
    return line


# -- RunView: a run's events into a table -------------------------------------------------


def test_a_run_is_shown_step_by_step_as_its_events_come() -> None:
    clock = Clock()
    view = RunView(clock=clock)
    steps = ("lint", "tests", "each", "deploy", "notify")
    view.feed(PipelineRunStarted(CID, RUN, "ci", steps))
    text = text_of(view.render())
    assert "ci" in text and RUN in text
    assert all("pending" in row(text, step) for step in steps)

    view.feed(StepStarted(CID, RUN, "lint", "devshell.lint", 1))
    view.feed(StepStarted(CID, RUN, "tests", "devshell.test", 1))
    clock.now += 1.5
    view.feed(StepProgress(CID, RUN, "tests", "collected 12 items\nran 3 of 12", 0.25))
    view.feed(StepProgress(CID, RUN, "lint", "checking 3 files"))
    view.feed(StepRetrying(CID, RUN, "lint", 1, 2.0, "timeout"))
    clock.now += 0.5
    text = text_of(view.render())
    assert "running" in row(text, "tests") and "2.0s" in row(text, "tests")  # live elapsed
    assert "25% ran 3 of 12" in row(text, "tests") and "collected" not in text
    lint = row(text, "lint")
    assert "retrying" in lint and "timeout" in lint and "1.5s" in lint  # the delay left
    assert "pending" in row(text, "deploy")

    view.feed(StepStarted(CID, RUN, "lint", "devshell.lint", 2))
    lint = row(text_of(view.render()), "lint")
    assert lint.split()[1:4] == ["●", "running", "2"] and "checking" not in lint
    clock.now += 1.0
    view.feed(StepFinished(CID, RUN, "lint", "succeeded", "no problems", 2, 3200.0))
    # for_each items are rows of their own, shown under their step, in the order they come
    view.feed(StepStarted(CID, RUN, "each[1]", "t.echo", 1))
    view.feed(StepStarted(CID, RUN, "each[0]", "t.echo", 1))
    clock.now += 0.25
    view.feed(StepFinished(CID, RUN, "each[1]", "failed", "exit status 1\nboom", 1, 250.0))
    view.feed(StepFinished(CID, RUN, "each[0]", "succeeded", "", 1, 250.0))
    view.feed(StepFinished(CID, RUN, "deploy", "skipped", "its if: is false"))
    clock.now += 1.0
    view.feed(StepFinished(CID, RUN, "tests", "cancelled", "run cancelled", 1, 4250.0))
    view.feed(StepFinished(CID, RUN, "notify", "skipped", "run cancelled"))
    view.feed(PipelineRunFinished(CID, RUN, "ci", "cancelled"))

    text = text_of(view.render())
    lines = [line.split()[0] for line in text.splitlines() if line.strip()]
    order = [name for name in lines if name in {*steps, "each[0]", "each[1]"}]
    assert order == ["lint", "tests", "each", "each[1]", "each[0]", "deploy", "notify"]
    assert row(text, "lint").split()[1:5] == ["✔", "succeeded", "2", "3.2s"]
    assert "no problems" in row(text, "lint")
    assert "failed" in row(text, "each[1]") and "boom" in row(text, "each[1]")
    assert "exit status" not in row(text, "each[1]")  # the last line of the message
    assert "skipped" in row(text, "deploy") and "its if: is false" in row(text, "deploy")
    assert "cancelled" in row(text, "tests") and "4.2s" in row(text, "tests")
    assert "run cancelled" in row(text, "notify")
    assert view.state == "cancelled"
    assert "cancelled" in text.splitlines()[-2] + text.splitlines()[-1]  # the footer


def test_without_a_duration_in_the_event_the_view_times_the_step_itself() -> None:
    clock = Clock()
    view = RunView(clock=clock)
    view.feed(PipelineRunStarted(CID, RUN, "p"))  # no steps announced: rows come as they run
    view.feed(StepStarted(CID, RUN, "only", "t.echo", 1))
    clock.now += 0.75
    view.feed(StepFinished(CID, RUN, "only", "succeeded", "echo hi"))
    clock.now += 60
    text = text_of(view.render())
    assert "750ms" in row(text, "only") and "1" in row(text, "only").split()
    view.feed(PipelineRunFinished(CID, RUN, "p", "succeeded"))
    assert "succeeded" in text_of(view.render()).strip().splitlines()[-1]


def test_the_header_names_the_pipeline_and_run_on_one_line_however_narrow_the_table() -> None:
    view = RunView(clock=Clock())
    assert "waiting for the run to start" in text_of(view.render())
    run_id = "01a232c49bc9763ea522658aef5b1df1"
    view.feed(PipelineRunStarted(CID, run_id, "ci", ("a",)))
    assert text_of(view.render()).splitlines()[0].split() == ["pipeline", "ci", "run", run_id]


def test_what_a_step_says_is_shown_as_text_never_as_markup() -> None:
    view = RunView(clock=Clock())
    view.feed(PipelineRunStarted(CID, RUN, "p", ("s",)))
    view.feed(StepStarted(CID, RUN, "s", "t.echo", 1))
    view.feed(StepFinished(CID, RUN, "s", "failed", "[bold red]x[/] [link=file:///]y", 1, 5.0))
    assert "[bold red]x[/] [link=file:///]y" in text_of(view.render())


def test_a_step_waiting_for_approval_says_how_to_approve_it() -> None:
    view = RunView(clock=Clock())
    view.feed(PipelineRunStarted(CID, RUN, "release", ("tests", "deploy")))
    view.feed(StepStarted(CID, RUN, "deploy", "devshell.deploy", 1))
    other = ApprovalRequested("c9", "t-other", "plugin.x", "danger", "ada", {}, "later", False)
    assert not view.feed(other)  # no step of this run runs plugin.x
    ticket = ApprovalRequested(
        "c2", "t-42", "devshell.deploy", "danger", "ada", {}, "2026-12-01T18:00:00Z", False
    )
    assert view.feed(ticket)
    line = row(text_of(view.render()), "deploy")
    assert "waiting" in line and "logomesh approvals approve t-42" in line
    assert view.feed(ApprovalDecided("c2", "t-42", "approved", "bob"))
    line = row(text_of(view.render()), "deploy")
    assert "running" in line and "approval approved by bob" in line


def test_a_large_for_each_shows_its_busy_and_failed_items_and_counts_the_rest() -> None:
    view = RunView(clock=Clock(), max_items=3)
    view.feed(PipelineRunStarted(CID, RUN, "wide", ("each", "after")))
    for n in range(1000):
        view.feed(StepStarted(CID, RUN, f"each[{n}]", "t.echo", 1))
        if n not in (7, 500, 998):
            view.feed(StepFinished(CID, RUN, f"each[{n}]", "succeeded", "", 1, 1.0))
    view.feed(StepFinished(CID, RUN, "each[500]", "failed", "no such file", 1, 1.0))
    text = text_of(view.render())
    shown = [line.split()[0] for line in text.splitlines()[2:] if line.strip()]
    assert shown == ["each", "each[7]", "each[500]", "each[998]", "each[…]", "after"]
    assert "997 more items: 997 succeeded" in text
    assert "no such file" in row(text, "each[500]")


# -- follow_run: a real run on a real engine ----------------------------------------------


class Args(BaseModel):
    model_config = ConfigDict(extra="allow")


FOREIGN = "another-run-s-correlation-id"


@pytest.fixture
def commands(engine: Engine) -> Engine:
    """t.echo answers; t.fail fails once per key, then succeeds; t.noise publishes the
    events of another run (a nested pipeline's, say) on the same bus while it runs."""
    failed: set[str] = set()

    async def echo(ctx: CommandContext, args: BaseModel) -> CommandOutput:
        arguments = args.model_dump()
        await asyncio.sleep(float(arguments.get("wait", 0)))
        return CommandOutput(data=arguments, message=f"echo {arguments.get('say', '')}")

    async def fail(ctx: CommandContext, args: BaseModel) -> CommandOutput:
        key = str(args.model_dump().get("key"))
        if key not in failed:
            failed.add(key)
            raise ValueError("failing once on purpose")
        return CommandOutput(message="recovered")

    async def noise(ctx: CommandContext, args: BaseModel) -> CommandOutput:
        for event in (
            PipelineRunStarted(FOREIGN, "run-x", "inner", ("a",)),
            StepStarted(FOREIGN, "run-x", "a", "t.echo", 1),
            StepFinished(FOREIGN, "run-x", "a", "failed", "not ours"),
            PipelineRunFinished(FOREIGN, "run-x", "inner", "failed"),
        ):
            await ctx.engine.events.publish(event)
        return CommandOutput(message="made noise")

    for name, handler in (("t.echo", echo), ("t.fail", fail), ("t.noise", noise)):
        engine.registry.register(CommandSpec(name, "test", Args, "t.run", RiskLevel.READ, handler))
    return engine


PIPELINE = """\
version: 1
name: view
steps:
  - {id: hello, uses: t.echo, with: {say: hi}}
  - id: flaky
    uses: t.fail
    with: {key: flaky}
    retry: {max_attempts: 2, backoff: {initial: 0.01}, jitter: false}
  - {id: noisy, uses: t.noise}
  - {id: never, uses: t.echo, if: "failure()"}
"""


def run_followed(engine: Engine, text: str = PIPELINE, **follow: Any) -> RunResult:
    """Run a pipeline inside ``follow_run``, as ``logomesh pipeline run`` does.

    Today ``run_pipeline`` makes its own correlation id, so the view follows the first run
    that starts (``None``). When it takes that of the ``pipeline.NAME`` request, make the id
    first and pass it to both: this is the one place to change.
    """
    known = {spec.name for spec in engine.registry}
    pipeline = validate(load_bytes(text.encode(), file="view.yaml"), known_commands=known)

    async def go() -> RunResult:
        with follow_run(engine, None, **follow):
            return await run_pipeline(engine, pipeline, {}, ME)

    return asyncio.run(go())


def test_json_lines_are_the_run_s_events_one_per_line_in_order(
    commands: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    console = Console(file=io.StringIO(), force_terminal=True)  # --json wins on a terminal
    result = run_followed(commands, json_lines=True, console=console)
    lines = capsys.readouterr().out.splitlines()
    events = [json.loads(line) for line in lines]
    assert all(isinstance(event, dict) for event in events)
    assert {(e["correlation_id"], e["run_id"]) for e in events} == {
        (result.correlation_id, result.run_id)
    }
    kinds = [(e["event"], e.get("step")) for e in events]
    assert kinds == [
        ("run_started", None),
        ("step_started", "hello"),
        ("step_finished", "hello"),
        ("step_started", "flaky"),
        ("step_retrying", "flaky"),
        ("step_started", "flaky"),
        ("step_finished", "flaky"),
        ("step_started", "noisy"),
        ("step_finished", "noisy"),
        ("step_finished", "never"),
        ("run_finished", None),
    ]
    assert events[4]["reason"] == "error" and events[4]["attempt"] == 1
    assert events[-2]["state"] == "skipped" and events[-1]["state"] == "succeeded"
    assert FOREIGN not in "".join(lines) and "not ours" not in "".join(lines)
    assert console.file.getvalue() == ""  # type: ignore[attr-defined]


def test_off_a_terminal_each_finished_step_is_one_plain_line(
    commands: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    console = Console(file=io.StringIO(), width=120)  # a pipe: not a terminal
    result = run_followed(commands, json_lines=False, console=console)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "\x1b" not in out
    lines = out.splitlines()
    assert lines[0].startswith(f"pipeline view: run {result.run_id} started")
    assert [line.split()[0] for line in lines[1:-1]] == ["hello", "flaky", "noisy", "never"]
    assert "succeeded" in lines[2] and "2 attempts" in lines[2] and "recovered" in lines[2]
    assert "skipped" in lines[4]
    assert lines[-1].startswith(f"pipeline view: run {result.run_id} succeeded in ")
    assert FOREIGN not in out and "not ours" not in out
    assert capsys.readouterr().out == ""


def test_on_a_terminal_a_live_table_is_left_showing_the_finished_run(
    commands: Engine,
) -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=120, color_system=None)
    result = run_followed(commands, json_lines=False, console=console, refresh_per_second=20)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    assert "\x1b[" in out  # the live display redraws in place
    last = out[out.rindex(f"run {result.run_id}") :]  # the final frame
    for step, state in (("hello", "succeeded"), ("flaky", "succeeded"), ("never", "skipped")):
        assert state in row(last, step)
    assert "not ours" not in out and "inner" not in out


def test_after_follow_run_ends_nothing_more_is_printed(
    commands: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_followed(commands, json_lines=True)
    capsys.readouterr()

    async def late() -> None:
        await commands.events.publish(
            PipelineRunFinished(result.correlation_id, result.run_id, "view", "failed")
        )

    asyncio.run(late())
    assert capsys.readouterr().out == ""


def test_a_cancelled_run_is_shown_cancelled(commands: Engine) -> None:
    console = Console(file=io.StringIO(), width=120)
    known = {spec.name for spec in commands.registry}
    text = "version: 1\nname: long\nsteps:\n  - {id: slow, uses: t.echo, with: {wait: 30}}\n"
    text += "  - {id: next, uses: t.echo}\n"
    pipeline = validate(load_bytes(text.encode(), file="long.yaml"), known_commands=known)

    async def go() -> RunView:
        with follow_run(commands, None, json_lines=False, console=console) as view:
            task = asyncio.ensure_future(run_pipeline(commands, pipeline, {}, ME))
            await asyncio.sleep(0.3)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        return view

    view = asyncio.run(go())
    assert view.state == "cancelled"
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert "cancelled" in row("\n".join(lines), "slow")
    assert "skipped" in row("\n".join(lines), "next")
    assert "cancelled" in lines[-1]


def test_a_step_waiting_for_approval_is_said_and_goes_on_once_approved(
    commands: Engine,
) -> None:
    """A danger step opens a real ticket; the run waits, says how to approve it, and the
    step runs once it is approved (here by its owner, as from another adapter)."""
    from tests.approvals.conftest import guarded

    commands.registry.register(guarded)
    console = Console(file=io.StringIO(), width=200)
    decided: list[asyncio.Task[Any]] = []

    def approve(event: ApprovalRequested) -> None:
        decided.append(asyncio.ensure_future(commands.decide(event.ticket_id, ME, True, "ok")))

    commands.events.subscribe(ApprovalRequested, approve)
    text = "version: 1\nname: release\nsteps:\n  - {id: tests, uses: t.echo}\n"
    text += "  - {id: deploy, uses: test.guarded, with: {note: shipped}}\n"
    result = run_followed(commands, text, json_lines=False, console=console)
    assert decided and decided[0].done()
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    [ticket] = [line for line in lines if "waits for approval" in line]
    assert ticket.startswith("deploy  waits for approval: logomesh approvals approve ")
    assert ticket.split()[-1] == decided[0].result().id
    assert lines[lines.index(ticket) + 1] == f"deploy  approval approved by {ME.user_id}"
    assert lines[lines.index(ticket) + 2].startswith("deploy  succeeded in ")
    assert result.steps["deploy"].state == "succeeded"


# -- the management commands' tables ------------------------------------------------------


def step_dict(step_id: str, item: int = 0, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "step_id": step_id,
        "item": item,
        "command": "t.echo",
        "state": "succeeded",
        "attempts": 1,
        "started_at": "2026-12-01T17:00:01.000000Z",
        "finished_at": "2026-12-01T17:00:03.500000Z",
        "outcome": "ok",
        "output": {"say": "hi"},
        "error": None,
        "audit_id": f"audit-{step_id}-{item}",
    }
    return {**base, **fields}


def run_dict(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "r-1",
        "pipeline": "ci",
        "digest": "ab" * 32,
        "correlation_id": "c-1",
        "actor": "ada",
        "inputs": {"branch": "main"},
        "state": "failed",
        "started_at": "2026-12-01T17:00:00.000000Z",
        "finished_at": "2026-12-01T17:01:05.000000Z",
        "error": None,
        "cancel_requested": False,
        "steps": [],
    }
    return {**base, **fields}


def test_runs_are_listed_with_their_state_times_and_actor() -> None:
    rows = [
        run_dict(),
        run_dict(id="r-2", state="running", finished_at=None, actor="bob"),
        run_dict(id="r-3", state="interrupted", finished_at=None),
    ]
    text = text_of(render_runs(rows))
    for column in ("id", "pipeline", "state", "started", "duration", "actor"):
        assert column in text.splitlines()[0]
    assert row(text, "r-1").split()[1:6] == ["ci", "failed", "2026-12-01", "17:00:00", "1m05s"]
    assert "running" in row(text, "r-2") and "bob" in row(text, "r-2")
    assert "interrupted" in row(text, "r-3")
    assert "No pipeline runs" in text_of(render_runs([]))


def test_one_run_is_shown_with_its_steps() -> None:
    steps = [
        step_dict("lint", state="failed", outcome="error", error="ruff: 3 problems", attempts=2),
        step_dict("each", 0),
        step_dict("each", 1, state="cancelled", finished_at=None, audit_id=None),
        step_dict("deploy", state="skipped", started_at=None, outcome=None, audit_id=None),
    ]
    text = text_of(render_run(run_dict(steps=steps, error="lint failed")))
    assert "r-1" in text and "ci" in text and "lint failed" in text and "branch" in text
    lint = row(text, "lint")
    assert "failed" in lint and "2" in lint.split() and "ruff: 3 problems" in lint
    assert "audit-lint-0" in lint and "17:00:01" in lint
    each = [line.split() for line in text.splitlines() if line.strip().startswith("each ")]
    assert [(cells[1], cells[2]) for cells in each] == [("0", "succeeded"), ("1", "cancelled")]
    assert "skipped" in row(text, "deploy")


def test_pipelines_are_listed_with_their_inputs_and_problems() -> None:
    rows: list[dict[str, Any]] = [
        {"name": "ci", "file": "pipelines/ci.yaml", "description": "lint and tests",
         "risk": "read", "inputs": ["branch", "fast"], "valid": True, "problems": []},
        {"name": "broken", "file": "pipelines/broken.yaml", "description": "",
         "risk": None, "inputs": [], "valid": False,
         "problems": ["broken.yaml:3:5: unknown key 'stpes' (did you mean 'steps'?)"]},
    ]  # fmt: skip
    text = text_of(render_pipelines(rows))
    assert "ci" in row(text, "ci") and "branch, fast" in row(text, "ci")
    assert "yes" in row(text, "ci") and "no" in row(text, "broken").split()
    assert "did you mean 'steps'?" in text
    assert "No pipelines" in text_of(render_pipelines([]))
