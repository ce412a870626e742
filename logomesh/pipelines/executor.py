"""Running a pipeline: its steps as ordinary commands through ``Engine.execute``, as many
at once as the graph and ``max_parallel`` allow.

Every step is a :class:`CommandRequest` of the person who started the run, with the run's
correlation id as its parent, so authorisation, approvals (``wait_for_approval``: a danger
step waits for its ticket while the rest of the run goes on), timeouts and the audit trail
apply as to any command, and ``audit query`` shows a run and its steps as one tree.

A step runs when every step it needs has finished and its ``if:`` holds: without one, or
with one that names no status function, ``success()`` (every step it needs concluded
well: succeeded, or failed with ``continue_on_error``) is implied, as in GitHub Actions.
A failed attempt is retried as its ``retry`` says (on ``error`` and/or ``timeout``, with
exponential backoff and jitter); a refusal (denied, cancelled) is never retried.
Cancelling the run cancels the steps that are running (their commands' own cancellation:
a DevShell process group killed, ``notifications/cancelled`` to a plugin) and marks the
steps not started as skipped.

Not yet here (issue 12): ``for_each``, persisting runs (``store.py``), and a cancel asked
from another process; the executor's events are the contract for the CLI's live view.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from logomesh.commands.models import CommandRequest, CommandResult
from logomesh.commands.values import Actor, Outcome, new_id
from logomesh.events import Event
from logomesh.pipelines.evaluator import evaluate
from logomesh.pipelines.events import (
    PipelineRunFinished,
    PipelineRunStarted,
    StepFinished,
    StepRetrying,
    StepStarted,
)
from logomesh.pipelines.graph import Scheduler, StepGraph
from logomesh.pipelines.model import PipelineUse, RetrySpec, Step
from logomesh.pipelines.store import RunState, StepState
from logomesh.pipelines.templates import parse_condition, render
from logomesh.pipelines.values import is_truthy

if TYPE_CHECKING:
    from logomesh.engine import Engine
    from logomesh.pipelines.model import Pipeline

Sleep = Callable[[float], Awaitable[None]]
DEFAULT_MAX_PARALLEL = 8


@dataclass
class StepResult:
    state: StepState
    attempts: int = 0
    outcome: str | None = None
    data: Any = None
    message: str = ""
    continue_on_error: bool = False

    @property
    def concluded_well(self) -> bool:
        return self.state is StepState.SUCCEEDED or (
            self.state is StepState.FAILED and self.continue_on_error
        )

    def context(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "data": self.data, "message": self.message,
                "state": str(self.state)}  # fmt: skip


@dataclass
class RunResult:
    run_id: str
    correlation_id: str
    state: RunState
    steps: dict[str, StepResult] = field(default_factory=dict)


async def run_pipeline(
    engine: Engine,
    pipeline: Pipeline,
    inputs: Mapping[str, Any],
    actor: Actor,
    *,
    max_parallel: int = DEFAULT_MAX_PARALLEL,
    sleep: Sleep = asyncio.sleep,
) -> RunResult:
    run = _Run(engine, pipeline, dict(inputs), actor, max_parallel, sleep)
    return await run.execute()


class _Run:
    def __init__(
        self,
        engine: Engine,
        pipeline: Pipeline,
        inputs: dict[str, Any],
        actor: Actor,
        max_parallel: int,
        sleep: Sleep,
    ) -> None:
        self.engine, self.pipeline, self.actor, self.sleep = engine, pipeline, actor, sleep
        self.result = RunResult(new_id(), new_id(), RunState.RUNNING)
        self.steps = {step.id: step for step in pipeline.steps}
        self.graph = StepGraph.of([(step.id, step.needs) for step in pipeline.steps])
        self.context: dict[str, Any] = {"inputs": inputs, "steps": {}}
        self.slots = asyncio.Semaphore(max_parallel)
        self.cancelled = False

    async def execute(self) -> RunResult:
        run = self.result
        await self._publish(PipelineRunStarted(run.correlation_id, run.run_id, self.pipeline.name))
        scheduler = Scheduler(self.graph)
        running: dict[asyncio.Task[None], str] = {}
        try:
            self._launch(scheduler.start(), running)
            while running:
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    step_id = running.pop(task)
                    task.result()  # a bug in the executor itself surfaces here
                    self._launch(scheduler.finish(step_id), running)
        except asyncio.CancelledError:
            await self._cancel(running)
            raise
        failed = any(r.state is StepState.FAILED and not r.concluded_well
                     for r in run.steps.values())  # fmt: skip
        run.state = RunState.FAILED if failed else RunState.SUCCEEDED
        await self._finish()
        return run

    async def _cancel(self, running: dict[asyncio.Task[None], str]) -> None:
        """The run was cancelled: its running steps are (their commands' own cancellation),
        the others are skipped; each is reported, then the run."""
        self.cancelled = True
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        for step_id in running.values():
            if step_id not in self.result.steps:
                await self._conclude(
                    self.steps[step_id], StepResult(StepState.CANCELLED, message="run cancelled")
                )
        for step_id in self.graph.order:
            if step_id not in self.result.steps:
                await self._conclude(
                    self.steps[step_id], StepResult(StepState.SKIPPED, message="run cancelled")
                )
        self.result.state = RunState.CANCELLED
        await self._finish()

    def _launch(self, step_ids: list[str], running: dict[asyncio.Task[None], str]) -> None:
        for step_id in step_ids:
            running[asyncio.ensure_future(self._step(self.steps[step_id]))] = step_id

    async def _step(self, step: Step) -> None:
        if not self._should_run(step):
            await self._conclude(step, StepResult(StepState.SKIPPED, message="its if: is false"))
            return
        async with self.slots:
            result = await self._attempts(step)
        await self._conclude(step, result)

    def _should_run(self, step: Step) -> bool:
        needs = [self.result.steps[n] for n in self.graph.needs[step.id]]
        succeeded = all(r.concluded_well for r in needs) and not self.cancelled
        failed = any(r.state is StepState.FAILED and not r.concluded_well for r in needs)
        status: dict[str, Callable[[], bool]] = {
            "success": lambda: succeeded,
            "failure": lambda: failed,
            "always": lambda: True,
            "cancelled": lambda: self.cancelled,
        }
        if step.if_ is None:
            return succeeded
        condition = parse_condition(step.if_)
        if not condition.uses_status_function and not succeeded:
            return False
        return is_truthy(evaluate(condition, self.context, status))  # GitHub: [] and {} hold

    async def _attempts(self, step: Step) -> StepResult:
        retry = step.retry or self.pipeline.defaults.retry or RetrySpec()
        command = _command_of(step)
        for attempt in range(1, retry.max_attempts + 1):
            run = self.result
            await self._publish(StepStarted(run.correlation_id, run.run_id, step.id, command,
                                            attempt))  # fmt: skip
            outcome = await self._call(step, command)
            reason = _retry_reason(outcome)
            if reason is None or reason not in retry.on or attempt == retry.max_attempts:
                return _result_of(outcome, attempt, step.continue_on_error)
            delay = _delay(retry, attempt)
            await self._publish(StepRetrying(run.correlation_id, run.run_id, step.id, attempt,
                                             delay, reason))  # fmt: skip
            await self.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns")

    async def _call(self, step: Step, command: str) -> CommandResult:
        arguments = render(dict(step.with_), self.context)
        assert isinstance(arguments, dict)
        request = CommandRequest(
            command,
            self.actor,
            arguments,
            parent_id=self.result.correlation_id,
            timeout_s=step.timeout or self.pipeline.defaults.timeout,
            wait_for_approval=True,
        )
        return await self.engine.execute(request)

    async def _conclude(self, step: Step, result: StepResult) -> None:
        run = self.result
        run.steps[step.id] = result
        self.context["steps"][step.id] = result.context()
        await self._publish(StepFinished(run.correlation_id, run.run_id, step.id,
                                         str(result.state), result.message))  # fmt: skip

    async def _finish(self) -> None:
        run = self.result
        await self._publish(PipelineRunFinished(run.correlation_id, run.run_id,
                                                self.pipeline.name, str(run.state)))  # fmt: skip

    async def _publish(self, event: Event) -> None:
        await self.engine.events.publish(event)


def _command_of(step: Step) -> str:
    uses = step.uses
    return f"pipeline.{uses.pipeline}" if isinstance(uses, PipelineUse) else uses


def _retry_reason(outcome: CommandResult) -> str | None:
    if outcome.outcome is not Outcome.ERROR or outcome.error is None:
        return None  # succeeded, or refused (denied, cancelled): never retried
    return "timeout" if outcome.error.code.startswith("command.timeout") else "error"


def _delay(retry: RetrySpec, attempt: int) -> float:
    backoff = retry.backoff
    delay = min(backoff.max, backoff.initial * backoff.factor ** (attempt - 1))
    return delay * random.uniform(0.5, 1.0) if retry.jitter else delay  # noqa: S311


def _result_of(outcome: CommandResult, attempts: int, continue_on_error: bool) -> StepResult:
    if outcome.outcome is Outcome.OK:
        state = StepState.SUCCEEDED
    elif outcome.outcome is Outcome.CANCELLED:
        state = StepState.CANCELLED
    else:
        state = StepState.FAILED
    return StepResult(state, attempts, str(outcome.outcome), outcome.data, outcome.message,
                      continue_on_error)  # fmt: skip
