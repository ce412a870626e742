"""The executor: pipelines over real commands through ``Engine.execute`` (a real engine on a
real SQLite file; the steps' commands are registered by the test): order and parallelism
from ``needs``, ``${{ }}`` arguments, ``if:`` and status functions, retries with backoff,
timeouts, ``continue_on_error``, cancellation, events, and the audit tree of a run."""

from __future__ import annotations

import asyncio
import getpass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from logomesh.audit.query import AuditFilter
from logomesh.commands.models import CommandContext, CommandOutput, CommandSpec
from logomesh.commands.values import Actor, RiskLevel, Source
from logomesh.engine import Engine
from logomesh.events import ApprovalRequested, Event
from logomesh.pipelines.events import (
    PipelineRunFinished,
    StepFinished,
    StepProgress,
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


def test_for_each_runs_once_per_item_at_most_max_parallel_at_once(
    engine: Engine, calls: Calls
) -> None:
    finished: list[StepFinished] = []
    engine.events.subscribe(StepFinished, finished.append)
    result = run(engine, """\
version: 1
name: fan
inputs:
  names: {type: array, default: [a, b, c, d, e]}
steps:
  - id: each
    uses: t.echo
    for_each: "${{ inputs.names }}"
    max_parallel: 2
    with: {say: "${{ index }}:${{ item }}", wait: 0.05}
  - id: after
    uses: t.echo
    with: {got: "${{ steps.each.data }}"}
""")  # fmt: skip
    assert result.state is RunState.SUCCEEDED, result.steps["each"]
    assert calls.most == 2
    said = sorted(arguments["say"] for name, arguments in calls.log if "say" in arguments)
    assert said == ["0:a", "1:b", "2:c", "3:d", "4:e"]
    assert [item["say"] for item in result.steps["each"].data] == said  # in the items' order
    assert {e.step for e in finished} >= {"each[0]", "each[4]", "each", "after"}


@pytest.mark.parametrize(
    ("for_each", "message"),
    [
        (
            "${{ inputs.many }}",
            "gave 100,000 items, over the cap of 10,000 (`pipelines.max_items`)",
        ),
        ("${{ inputs.one }}", "gave str, not a list"),
    ],
)
def test_for_each_over_the_cap_or_not_a_list_fails_the_step_clearly(
    engine: Engine, calls: Calls, for_each: str, message: str
) -> None:
    text = f"""\
version: 1
name: capped
inputs:
  many: {{type: array}}
  one: {{type: string, default: x}}
steps:
  - {{id: each, uses: t.echo, for_each: "{for_each}"}}
"""
    result = run(engine, text, inputs={"many": list(range(100_000)), "one": "x"})
    assert result.state is RunState.FAILED
    assert message in result.steps["each"].message
    assert calls.log == []  # not one item ran


@pytest.mark.timeout(30)
def test_a_run_cancelled_while_a_retry_waits_ends_at_once(engine: Engine, calls: Calls) -> None:
    retrying: list[StepRetrying] = []
    text = """\
version: 1
name: patient
steps:
  - id: shaky
    uses: t.fail
    with: {key: p, times: 5}
    retry: {max_attempts: 5, backoff: {initial: 600, max: 600}, jitter: false}
"""

    async def go() -> float:
        waiting = asyncio.Event()
        engine.events.subscribe(StepRetrying, lambda e: (retrying.append(e), waiting.set()))
        options = RunOptions()  # the real sleep: the wait is what is cancelled
        task = asyncio.ensure_future(run_pipeline(engine, pipeline(text, engine), {}, ME, options))
        await waiting.wait()
        cancelled_at = asyncio.get_running_loop().time()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return asyncio.get_running_loop().time() - cancelled_at

    took = asyncio.run(go())
    assert [e.delay_s for e in retrying] == [600.0]
    assert took < 10  # not the 600 s backoff (the timeout mark bounds the test itself)
    assert [name for name, _ in calls.log] == ["fail"]  # no second attempt


def test_a_steps_own_progress_is_said_again_as_the_steps(engine: Engine) -> None:
    async def talk(ctx: CommandContext, args: BaseModel) -> CommandOutput:
        await ctx.progress("halfway", 0.5)
        return CommandOutput()

    engine.registry.register(CommandSpec("t.talk", "test", Args, "t.run", RiskLevel.READ, talk))
    seen: list[StepProgress] = []
    engine.events.subscribe(StepProgress, seen.append)
    result = run(engine, "version: 1\nname: talky\nsteps:\n  - {id: speak, uses: t.talk}\n")
    assert result.state is RunState.SUCCEEDED
    assert [(e.step, e.message, e.fraction, e.run_id) for e in seen] == [
        ("speak", "halfway", 0.5, result.run_id)
    ]


@st.composite
def graphs(draw: st.DrawFn) -> list[list[int]]:
    """A random DAG in file order: each step needs some of the steps before it."""
    size = draw(st.integers(1, 7))
    return [
        sorted(draw(st.sets(st.integers(0, n - 1), max_size=3))) if n else [] for n in range(size)
    ]


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(needs=graphs())
def test_the_audit_tree_of_a_run_matches_its_graph(
    engine: Engine, calls: Calls, needs: list[list[int]]
) -> None:
    """Every step is one child of the run in the audit trail, from the pipeline source, and
    no step's command started before every step it needs had finished."""
    lines = [f"  - {{id: s{n}, uses: t.echo, needs: {[f's{m}' for m in ns]}, "
             f"with: {{say: s{n}}}}}\n" for n, ns in enumerate(needs)]  # fmt: skip
    text = "version: 1\nname: dag\nsteps:\n" + "".join(lines).replace("'", "")
    calls.log.clear()
    result = run(engine, text)
    assert result.state is RunState.SUCCEEDED
    records = engine.audit.store.query(AuditFilter(correlation_id=None, limit=None))
    children = [r for r in records if r.parent_id == result.correlation_id]
    assert sorted(r.arguments["say"] for r in children) == sorted(
        f"s{n}" for n in range(len(needs))
    )
    assert {r.source for r in children} == {"pipeline"}
    order = [arguments["say"] for _, arguments in calls.log]
    for n, ns in enumerate(needs):
        for m in ns:
            assert order.index(f"s{m}") < order.index(f"s{n}")


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
