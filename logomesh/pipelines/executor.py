"""Running a pipeline: its steps as ordinary commands through ``Engine.execute``, as many
at once as the graph and ``max_parallel`` allow.

Every step is a :class:`CommandRequest` of the person who started the run, made ``via``
the pipeline source, with the run's correlation id as its parent, so authorisation,
approvals (``wait_for_approval``: a danger step waits for its ticket while the rest of the
run goes on), timeouts and the audit trail apply as to any command, and ``audit query``
shows a run and its steps as one tree.

A step runs when every step it needs has finished and its ``if:`` holds: without one, or
with one that names no status function, ``success()`` (every step it needs concluded
well: succeeded, or failed with ``continue_on_error``) is implied, as in GitHub Actions.
A failed attempt is retried as its ``retry`` says (on ``error`` and/or ``timeout``, with
exponential backoff and jitter); a refusal (denied, cancelled) is never retried. A
``for_each`` step runs once per item (``${{ item }}``, ``${{ index }}``), at most
``max_items`` of them, and ``max_parallel`` of them at once.

A step whose ``executor`` (its own, else the pipeline's, else ``pipelines.executor``) is
``distributed`` is the same request sent as a job to ``logomesh worker``
(:mod:`logomesh.workers.dispatch`); everything else here is the same for it.

Cancelling the run (its task, or ``pipeline cancel`` from another process, which the
recorder polls for) cancels the steps that are running (their commands' own cancellation:
a DevShell process group killed, ``notifications/cancelled`` to a plugin, a retry's wait
cut short) and marks the steps not started as skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from logomesh.commands.models import CommandRequest, CommandResult, ErrorInfo
from logomesh.commands.values import Actor, Outcome, Source, new_id
from logomesh.errors import PipelineExpressionError
from logomesh.events import CommandProgress, Event
from logomesh.pipelines.evaluator import evaluate
from logomesh.pipelines.events import (
    PipelineRunFinished,
    PipelineRunStarted,
    StepFinished,
    StepProgress,
    StepRetrying,
    StepStarted,
)
from logomesh.pipelines.graph import Scheduler, StepGraph
from logomesh.pipelines.model import PipelineUse, RetrySpec, Step
from logomesh.pipelines.recorder import RunRecorder, RunStart
from logomesh.pipelines.states import RunState, StepState
from logomesh.pipelines.store import RunStore, StepUpdate
from logomesh.pipelines.templates import parse_condition, render
from logomesh.pipelines.values import is_truthy
from logomesh.plural import plural

if TYPE_CHECKING:
    from logomesh.engine import Engine
    from logomesh.pipelines.model import Pipeline

Sleep = Callable[[float], Awaitable[None]]
DEFAULT_MAX_PARALLEL = 8
DEFAULT_MAX_ITEMS = 10_000


@dataclass
class StepResult:
    state: StepState
    attempts: int = 0
    outcome: str | None = None
    data: Any = None
    message: str = ""
    continue_on_error: bool = False
    audit_id: str | None = None
    duration_ms: float = 0.0

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
    outputs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How one run goes; the defaults come from ``[pipelines]`` settings."""

    correlation_id: str | None = None  # the ``pipeline.NAME`` request's, when it is one
    digest: str = ""  # of the file run, kept with the run
    store: RunStore | None = None  # None: the run is not recorded
    max_parallel: int = DEFAULT_MAX_PARALLEL
    max_items: int = DEFAULT_MAX_ITEMS
    poll_s: float = 0.1
    # Steps whose earlier result stands (``pipeline rerun --failed``): not run again.
    reuse: Mapping[str, StepResult] = field(default_factory=dict)
    sleep: Sleep = asyncio.sleep


async def run_pipeline(
    engine: Engine,
    pipeline: Pipeline,
    inputs: Mapping[str, Any],
    actor: Actor,
    options: RunOptions | None = None,
) -> RunResult:
    # Every declared input is in the context (its default when not given), so an optional
    # input left out reads as its default or null, never as "no field".
    given = {name: spec.default for name, spec in pipeline.inputs.items()} | dict(inputs)
    run = _Run(engine, pipeline, given, actor, options or RunOptions())
    return await run.execute()


class _Run:
    def __init__(
        self, engine: Engine, pipeline: Pipeline, inputs: dict[str, Any], actor: Actor,
        options: RunOptions,
    ) -> None:  # fmt: skip
        self.engine, self.pipeline, self.actor, self.options = engine, pipeline, actor, options
        self.result = RunResult(new_id(), options.correlation_id or new_id(), RunState.RUNNING)
        self.steps = {step.id: step for step in pipeline.steps}
        self.graph = StepGraph.of([(step.id, step.needs) for step in pipeline.steps])
        self.context: dict[str, Any] = {"inputs": inputs, "steps": {}}
        self.slots = asyncio.Semaphore(options.max_parallel)
        self.cancelled = False
        self.cancel_asked = asyncio.Event()
        self.labels: dict[str, str] = {}  # a step request's correlation id -> its step label
        self.recorder: RunRecorder | None = None
        if options.store is not None:
            start = RunStart(
                self.result.run_id,
                pipeline.name,
                options.digest,
                self.result.correlation_id,
                _actor_name(engine, actor),
                inputs,
            )
            self.recorder = RunRecorder(options.store, start, poll_s=options.poll_s,
                                        on_cancel=self.cancel_asked.set)  # fmt: skip

    async def execute(self) -> RunResult:
        run = self.result
        if self.recorder is not None:
            await self.recorder.open()
        unsubscribe = self.engine.events.subscribe(CommandProgress, self._progress)
        try:
            await self._publish(
                PipelineRunStarted(
                    run.correlation_id, run.run_id, self.pipeline.name, tuple(self.steps)
                )
            )
            await self._schedule()
        except asyncio.CancelledError:
            await self._finish()
            raise
        finally:
            unsubscribe()
        if not self.cancelled:
            # A step cancelled while the run was not (its approval declined or expired)
            # did not do its job either: the run did not succeed.
            failed = any(r.state in (StepState.FAILED, StepState.CANCELLED)
                         and not r.concluded_well for r in run.steps.values())  # fmt: skip
            run.state = RunState.FAILED if failed else RunState.SUCCEEDED
        run.outputs = self._outputs()
        await self._finish()
        return run

    async def _schedule(self) -> None:
        scheduler = Scheduler(self.graph)
        running: dict[asyncio.Task[None], str] = {}
        asked = asyncio.ensure_future(self.cancel_asked.wait())
        try:
            self._launch(scheduler.start(), running)
            while running:
                done, _ = await asyncio.wait([*running, asked],
                                             return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
                if asked in done:
                    await self._cancel(running)
                    return
                for task in done:
                    step_id = running.pop(task)  # type: ignore[arg-type]  # not `asked`
                    task.result()  # a bug in the executor itself surfaces here
                    self._launch(scheduler.finish(step_id), running)
        except asyncio.CancelledError:
            await self._cancel(running)
            raise
        finally:
            asked.cancel()

    async def _cancel(self, running: dict[asyncio.Task[None], str]) -> None:
        """The run was cancelled: its running steps are (their commands' own cancellation),
        the others are skipped; each is reported."""
        self.cancelled = True
        self.result.state = RunState.CANCELLED
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        for step_id in running.values():
            if step_id not in self.result.steps:
                await self._conclude(step_id, StepResult(StepState.CANCELLED,
                                                         message="run cancelled"))  # fmt: skip
        for step_id in self.graph.order:
            if step_id not in self.result.steps:
                await self._conclude(step_id, StepResult(StepState.SKIPPED,
                                                         message="run cancelled"))  # fmt: skip

    def _launch(self, step_ids: list[str], running: dict[asyncio.Task[None], str]) -> None:
        for step_id in step_ids:
            running[asyncio.ensure_future(self._step(self.steps[step_id]))] = step_id

    async def _step(self, step: Step) -> None:
        reused = self.options.reuse.get(step.id)
        if reused is not None:
            await self._conclude(step.id, reused)
        elif not self._should_run(step):
            result = StepResult(StepState.SKIPPED, message="its if: is false")
            await self._conclude(step.id, result)
        elif step.for_each is not None:
            await self._conclude(step.id, await self._each(step))
        else:
            async with self.slots:
                result = await self._attempts(step, step.id, self.context)
            await self._conclude(step.id, result, recorded=True)

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

    async def _each(self, step: Step) -> StepResult:
        """One run of the step per item, ``step.max_parallel`` at once; the step's result
        gathers theirs (``data`` is the list of their data, in the items' order)."""
        try:
            items = self._items(step)
        except PipelineExpressionError as exc:
            return StepResult(StepState.FAILED, outcome=str(Outcome.ERROR),
                              message=exc.user_message,
                              continue_on_error=step.continue_on_error)  # fmt: skip
        lane = asyncio.Semaphore(step.max_parallel or len(items) or 1)

        async def one(index: int, item: Any) -> StepResult:
            label = f"{step.id}[{index}]"
            async with lane, self.slots:
                result = await self._attempts(
                    step, label, {**self.context, "item": item, "index": index}, index + 1
                )
            await self._publish_finished(label, result)
            return result

        results = await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
        failed = [r for r in results if r.state is not StepState.SUCCEEDED]
        state = failed[0].state if failed else StepState.SUCCEEDED
        message = f"{len(results) - len(failed)} of {plural(len(results), 'item')} succeeded"
        return StepResult(state, max((r.attempts for r in results), default=0),
                          str(Outcome.ERROR if failed else Outcome.OK), [r.data for r in results],
                          message, step.continue_on_error)  # fmt: skip

    def _items(self, step: Step) -> list[Any]:
        items: Any = step.for_each
        if isinstance(items, str):
            items = render(items, self.context)
        if not isinstance(items, list):
            raise PipelineExpressionError(
                f"for_each of step {step.id!r} gave {type(items).__name__}, not a list; make "
                "it a list, or an expression that gives one",
                expression=str(step.for_each), column=1,
            )  # fmt: skip
        if len(items) > self.options.max_items:
            raise PipelineExpressionError(
                f"for_each of step {step.id!r} gave {len(items):,} items, over the cap of "
                f"{self.options.max_items:,} (`pipelines.max_items`); split the list, or "
                "raise the cap",
                expression=str(step.for_each), column=1,
            )  # fmt: skip
        return items

    async def _attempts(
        self, step: Step, label: str, context: dict[str, Any], item: int = 0
    ) -> StepResult:
        retry = step.retry or self.pipeline.defaults.retry or RetrySpec()
        command = _command_of(step)
        started = time.perf_counter()
        run = self.result
        for attempt in range(1, retry.max_attempts + 1):
            self._record(label, item, command, StepState.RUNNING, attempt)
            await self._publish(StepStarted(run.correlation_id, run.run_id, label, command,
                                            attempt))  # fmt: skip
            outcome = await self._call(step, command, label, context, attempt)
            reason = _retry_reason(outcome)
            if reason is None or reason not in retry.on or attempt == retry.max_attempts:
                result = _result_of(outcome, attempt, step.continue_on_error)
                result.duration_ms = (time.perf_counter() - started) * 1000
                self._record(label, item, command, result.state, attempt, result)
                return result
            delay = _delay(retry, attempt)
            self._record(label, item, command, StepState.RETRYING, attempt)
            await self._publish(StepRetrying(run.correlation_id, run.run_id, label, attempt,
                                             delay, reason))  # fmt: skip
            await self.options.sleep(delay)
        raise AssertionError("unreachable: the last attempt returns")

    async def _call(
        self, step: Step, command: str, label: str, context: dict[str, Any], attempt: int
    ) -> CommandResult:
        try:
            arguments = render(dict(step.with_), context)
        except PipelineExpressionError as exc:
            return _failed(command, exc.user_message)
        assert isinstance(arguments, dict)
        request = CommandRequest(
            command,
            self.actor,
            arguments,
            parent_id=self.result.correlation_id,
            timeout_s=step.timeout or self.pipeline.defaults.timeout,
            wait_for_approval=True,
            via=Source.PIPELINE,
        )
        self.labels[request.correlation_id] = label
        executor = (
            step.executor or self.pipeline.executor or self.engine.settings.pipelines.executor
        )
        try:
            if executor == "distributed":  # a job for `logomesh worker` (logomesh.workers)
                from logomesh.workers import run_on_worker

                return await run_on_worker(self.engine, request, attempt)
            return await self.engine.execute(request)
        finally:
            del self.labels[request.correlation_id]

    async def _progress(self, event: CommandProgress) -> None:
        """A step's command said how far it is: said again as the step's progress."""
        label = self.labels.get(event.correlation_id)
        if label is not None:
            run = self.result
            await self._publish(StepProgress(run.correlation_id, run.run_id, label,
                                             event.message, event.fraction))  # fmt: skip

    async def _conclude(self, step_id: str, result: StepResult, recorded: bool = False) -> None:
        """The step's result stands: in the context for the steps after it, in its row
        (unless its last attempt wrote it already), and on the bus."""
        self.result.steps[step_id] = result
        self.context["steps"][step_id] = result.context()
        if not recorded:
            step = self.steps[step_id]
            self._record(step_id, 0, _command_of(step), result.state, result.attempts, result)
        await self._publish_finished(step_id, result)

    async def _publish_finished(self, label: str, result: StepResult) -> None:
        run = self.result
        await self._publish(StepFinished(run.correlation_id, run.run_id, label,
                                         str(result.state), result.message, result.attempts,
                                         round(result.duration_ms, 3)))  # fmt: skip

    def _record(
        self, label: str, item: int, command: str, state: StepState, attempts: int,
        result: StepResult | None = None,
    ) -> None:  # fmt: skip
        if self.recorder is None:
            return
        step_id = label.split("[", 1)[0]
        update = StepUpdate(step_id, item, command, state, attempts)
        if result is not None:
            error = None if result.state is StepState.SUCCEEDED else result.message
            update = StepUpdate(step_id, item, command, state, attempts, result.outcome,
                                result.data, error, result.audit_id)  # fmt: skip
        self.recorder.step(update)

    def _outputs(self) -> dict[str, Any]:
        outputs: dict[str, Any] = {}
        for name, template in self.pipeline.outputs.items():
            try:
                outputs[name] = render(template, self.context)
            except PipelineExpressionError as exc:  # a step it reads did not run
                outputs[name] = None
                self.result.warnings.append(f"output {name!r}: {exc.user_message}")
        return outputs

    async def _finish(self) -> None:
        run = self.result
        if self.recorder is not None:
            error = "; ".join(run.warnings) or None
            warning = await self.recorder.close(run.state, error)
            if warning is not None:
                run.warnings.append(warning)
        with contextlib.suppress(asyncio.CancelledError):
            await self._publish(
                PipelineRunFinished(
                    run.correlation_id, run.run_id, self.pipeline.name, str(run.state)
                )
            )

    async def _publish(self, event: Event) -> None:
        await self.engine.events.publish(event)


def _actor_name(engine: Engine, actor: Actor) -> str:
    return engine.identities.resolve(actor).name


def _command_of(step: Step) -> str:
    uses = step.uses
    return f"pipeline.{uses.pipeline}" if isinstance(uses, PipelineUse) else uses


def _retry_reason(outcome: CommandResult) -> str | None:
    if outcome.outcome is not Outcome.ERROR or outcome.error is None:
        return None  # succeeded, or refused (denied, cancelled): never retried
    if outcome.error.code in ("pipeline.expression", "pipeline.check_failed"):
        return None  # its arguments do not render, or its verdict stands: the same again
    return "timeout" if outcome.error.code.startswith("command.timeout") else "error"


def _delay(retry: RetrySpec, attempt: int) -> float:
    backoff = retry.backoff
    delay = min(backoff.max, backoff.initial * backoff.factor ** (attempt - 1))
    return delay * random.uniform(0.5, 1.0) if retry.jitter else delay  # noqa: S311


def _failed(command: str, message: str) -> CommandResult:
    """A step that could not even be asked for (its arguments did not render)."""
    return CommandResult(command, Outcome.ERROR, new_id(), message=message,
                         error=ErrorInfo("pipeline.expression", message))  # fmt: skip


def _result_of(outcome: CommandResult, attempts: int, continue_on_error: bool) -> StepResult:
    if outcome.outcome is Outcome.OK:
        state = StepState.SUCCEEDED
    elif outcome.outcome is Outcome.CANCELLED:
        state = StepState.CANCELLED
    else:
        state = StepState.FAILED
    message = outcome.message or (outcome.error.message if outcome.error else "")
    return StepResult(state, attempts, str(outcome.outcome), outcome.data, message,
                      continue_on_error, outcome.audit_id)  # fmt: skip
