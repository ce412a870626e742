"""The executor: pipelines over real commands through ``Engine.execute`` (a real engine on a
real SQLite file; the steps' commands are registered by the test): order and parallelism
from ``needs``, ``${{ }}`` arguments, ``if:`` and status functions, retries with backoff,
timeouts, ``continue_on_error``, cancellation, events, and the audit tree of a run."""

from __future__ import annotations

import asyncio
import getpass
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from logomesh.audit.query import AuditFilter
from logomesh.commands.models import CommandContext, CommandOutput, CommandSpec
from logomesh.commands.values import Actor, RiskLevel, Source
from logomesh.engine import Engine
from logomesh.events import ApprovalRequested, Event
from logomesh.pipelines.events import (
    PipelineRunFinished,
    StepFinished,
    StepRetrying,
    StepStarted,
)
from logomesh.pipelines.executor import RunOptions, run_pipeline
from logomesh.pipelines.loader import load_bytes
from logomesh.pipelines.model import Pipeline
from logomesh.pipelines.store import RunState, StepState
from logomesh.pipelines.validation import validate

ME = Actor(Source.CLI, getpass.getuser())


class Args(BaseModel):
    model_config = ConfigDict(extra="allow")


class Calls:
    def __init__(self) -> None:
        self.log: list[tuple[str, dict[str, Any]]] = []
        self.running = 0
        self.most = 0
        self.failures: dict[str, int] = {}


@pytest.fixture
def calls(engine: Engine) -> Calls:
    """Commands for the steps: t.echo (returns its arguments), t.fail (fails the first N
    times for a key), t.sleep (takes its time), all real commands through the one door."""
    seen = Calls()

    async def echo(ctx: CommandContext, args: BaseModel) -> CommandOutput:
        arguments = args.model_dump()
        seen.log.append(("echo", arguments))
        seen.running += 1
        seen.most = max(seen.most, seen.running)
        try:
            await asyncio.sleep(float(arguments.get("wait", 0)))
        finally:
            seen.running -= 1
        return CommandOutput(data=arguments, message=f"echo {arguments.get('say', '')}")

    async def fail(ctx: CommandContext, args: BaseModel) -> CommandOutput:
        arguments = args.model_dump()
        key = str(arguments.get("key", ""))
        seen.log.append(("fail", arguments))
        left = seen.failures.get(key, int(arguments.get("times", 1)))
        seen.failures[key] = left - 1
        if left > 0:
            raise ValueError(f"failing on purpose ({left} left)")
        return CommandOutput(data={"recovered": True})

    for name, handler in (("t.echo", echo), ("t.fail", fail)):
        engine.registry.register(CommandSpec(name, "test", Args, "t.run", RiskLevel.READ, handler))
    return seen


def pipeline(text: str, engine: Engine) -> Pipeline:
    known = {spec.name for spec in engine.registry}
    return validate(load_bytes(text.encode(), file="p.yaml"), known_commands=known)


def run(engine: Engine, text: str, **kwargs: Any) -> Any:
    async def go() -> Any:
        inputs = kwargs.pop("inputs", {})
        options = RunOptions(sleep=kwargs.pop("sleep", _no_sleep), **kwargs)
        return await run_pipeline(engine, pipeline(text, engine), inputs, ME, options)

    return asyncio.run(go())


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


def test_steps_run_in_order_with_their_arguments_and_results(engine: Engine, calls: Calls) -> None:
    result = run(engine, """\
version: 1
name: order
inputs:
  who: {type: string, default: world}
steps:
  - id: first
    uses: t.echo
    with: {say: "hello ${{ inputs.who }}", n: 1}
  - id: second
    uses: t.echo
    with: {said: "${{ steps.first.data.say }}", n: "${{ steps.first.data.n }}"}
""", inputs={"who": "ada"})  # fmt: skip
    assert result.state is RunState.SUCCEEDED
    assert calls.log == [
        ("echo", {"say": "hello ada", "n": 1}),
        ("echo", {"said": "hello ada", "n": 1}),  # a whole ${{ }} keeps its type
    ]
    records = engine.audit.store.query(AuditFilter(action="t.echo"))
    assert {record.parent_id for record in records} == {result.correlation_id}


def test_independent_steps_run_at_once_up_to_max_parallel(engine: Engine, calls: Calls) -> None:
    steps = "".join(
        f"  - {{id: s{n}, uses: t.echo, needs: [], with: {{wait: 0.05}}}}\n" for n in range(6)
    )
    text = f"version: 1\nname: wide\nsteps:\n{steps}"
    assert run(engine, text, max_parallel=3).state is RunState.SUCCEEDED
    assert calls.most == 3


def test_a_failure_skips_what_needs_it_and_failure_steps_run(engine: Engine, calls: Calls) -> None:
    result = run(engine, """\
version: 1
name: failing
steps:
  - {id: lint, uses: t.fail, with: {key: lint, times: 5}}
  - {id: tests, uses: t.echo, needs: [], with: {say: tests}}
  - {id: deploy, uses: t.echo, needs: [lint, tests]}
  - {id: summary, uses: t.echo, needs: [lint, tests], if: "failure()",
     with: {say: "lint said ${{ steps.lint.message }}"}}
  - {id: tidy, uses: t.echo, needs: [deploy], if: "always()"}
""")  # fmt: skip
    states = {step: r.state for step, r in result.steps.items()}
    assert states == {
        "lint": StepState.FAILED,
        "tests": StepState.SUCCEEDED,
        "deploy": StepState.SKIPPED,
        "summary": StepState.SUCCEEDED,
        "tidy": StepState.SUCCEEDED,
    }
    assert result.state is RunState.FAILED
    summary = [args for name, args in calls.log if args.get("say", "").startswith("lint said")]
    assert summary and "failing on purpose" in summary[0]["say"]


def test_retries_back_off_and_continue_on_error_lets_the_run_succeed(
    engine: Engine, calls: Calls
) -> None:
    delays: list[float] = []
    events: list[Event] = []
    engine.events.subscribe(StepRetrying, events.append)

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    result = run(engine, """\
version: 1
name: retrying
steps:
  - id: flaky
    uses: t.fail
    with: {key: flaky, times: 2}
    retry: {max_attempts: 3, backoff: {initial: 1, factor: 2, max: 10}, jitter: false}
  - {id: hopeless, uses: t.fail, with: {key: hopeless, times: 9}, continue_on_error: true}
  - {id: after, uses: t.echo}
""", sleep=sleep)  # fmt: skip
    assert result.steps["flaky"].state is StepState.SUCCEEDED
    assert result.steps["flaky"].attempts == 3 and delays == [1.0, 2.0]
    assert [(e.attempt, e.reason) for e in events if isinstance(e, StepRetrying)] == [
        (1, "error"),
        (2, "error"),
    ]
    assert result.steps["hopeless"].state is StepState.FAILED
    assert result.steps["after"].state is StepState.SUCCEEDED
    assert result.state is RunState.SUCCEEDED


def test_a_step_that_hangs_times_out_and_is_retried_on_timeout_only_if_asked(
    engine: Engine, calls: Calls
) -> None:
    result = run(engine, """\
version: 1
name: hanging
steps:
  - id: hang
    uses: t.echo
    with: {wait: 30}
    timeout: 0.2
    retry: {max_attempts: 2, on: [error], jitter: false}
""")  # fmt: skip
    hang = result.steps["hang"]
    assert hang.state is StepState.FAILED and hang.attempts == 1
    assert "timed out" in hang.message or "timeout" in hang.message.lower()


def test_cancelling_a_run_cancels_its_running_steps_and_skips_the_rest(
    engine: Engine, calls: Calls
) -> None:
    finished: list[Event] = []
    engine.events.subscribe(StepFinished, finished.append)
    engine.events.subscribe(PipelineRunFinished, finished.append)
    text = """\
version: 1
name: long
steps:
  - {id: slow, uses: t.echo, with: {wait: 30}}
  - {id: next, uses: t.echo}
"""

    async def go() -> None:
        started = asyncio.Event()
        engine.events.subscribe(StepStarted, lambda _: started.set())
        task = asyncio.ensure_future(run_pipeline(engine, pipeline(text, engine), {}, ME))
        await started.wait()
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    steps = {e.step: e.state for e in finished if isinstance(e, StepFinished)}
    assert steps["slow"] == "cancelled"
    runs = [e.state for e in finished if isinstance(e, PipelineRunFinished)]
    assert runs == ["cancelled"]
    [record] = engine.audit.store.query(AuditFilter(action="t.echo"))
    assert record.outcome == "cancelled"


def test_a_step_whose_approval_is_declined_fails_the_run(engine: Engine, calls: Calls) -> None:
    """A danger step waits for its ticket; declined, its command is cancelled (nothing was
    done), the steps after it are skipped, and the run has not succeeded."""
    engine.registry.register(
        CommandSpec("t.deploy", "test", Args, "t.run", RiskLevel.DANGER, _deploy_handler(calls))
    )
    text = """\
version: 1
name: deploy
steps:
  - {id: build, uses: t.echo}
  - {id: deploy, uses: t.deploy}
  - {id: after, uses: t.echo}
"""

    async def go() -> Any:
        opened: asyncio.Queue[ApprovalRequested] = asyncio.Queue()
        engine.events.subscribe(ApprovalRequested, opened.put_nowait)
        task = asyncio.ensure_future(run_pipeline(engine, pipeline(text, engine), {}, ME))
        ticket = await asyncio.wait_for(opened.get(), 10)
        await engine.decide(ticket.ticket_id, ME, False, "not today")
        return await asyncio.wait_for(task, 10)

    result = asyncio.run(go())
    states = {step_id: step.state for step_id, step in result.steps.items()}
    assert states == {"build": StepState.SUCCEEDED, "deploy": StepState.CANCELLED,
                      "after": StepState.SKIPPED}  # fmt: skip
    assert "declined" in result.steps["deploy"].message
    assert result.state is RunState.FAILED
    assert [name for name, _ in calls.log] == ["echo"]  # the deploy never ran


def _deploy_handler(calls: Calls) -> Any:
    async def deploy(ctx: CommandContext, args: BaseModel) -> CommandOutput:
        calls.log.append(("deploy", args.model_dump()))
        return CommandOutput(message="deployed")

    return deploy
