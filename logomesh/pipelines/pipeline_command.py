"""Each valid pipeline is the command ``pipeline.NAME``, so every adapter (the CLI's ``run``,
natural language, the editor, the chat bots) runs it through the one door with nothing of
its own: its arguments are the pipeline's ``inputs``, its risk the highest of its steps'
(through the pipelines it uses), so confirmation at the start already says what the run
may do, and each step is still authorised and confirmed on its own as it comes.

The command's correlation id is the run's: its audit record is the root of the run's tree,
and a pipeline used as a step nests its run under the step.
"""

from __future__ import annotations

from collections import Counter
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, create_model

from logomesh.commands.models import CommandContext, CommandOutput, CommandSpec
from logomesh.errors import PipelineError, PipelineRunCancelledError, PipelineRunFailedError
from logomesh.pipelines.events import StepFinished
from logomesh.pipelines.states import RunState, StepState

if TYPE_CHECKING:
    from logomesh.engine import Engine
    from logomesh.pipelines.catalogue import Entry
    from logomesh.pipelines.executor import RunResult
    from logomesh.pipelines.model import InputSpec, Pipeline

RUN_PERMISSION = "pipeline.run"
# Validation refuses pipelines that use each other in a circle; this bounds what it cannot
# see (a file changed on disk between validation and a long run's nested step).
MAX_NESTING = 16
_depth: ContextVar[int] = ContextVar("pipeline_depth", default=0)
_TYPES: dict[str, Any] = {
    "string": str,
    "number": float,
    "integer": int,
    "boolean": bool,
    "array": list[JsonValue],
    "object": dict[str, JsonValue],
}


class _Inputs(BaseModel):
    # Lax: the CLI's -i key=value gives strings, which the declared types convert.
    model_config = ConfigDict(extra="forbid")


def inputs_model(pipeline: Pipeline) -> type[BaseModel]:
    """The argument model of ``pipeline.NAME``: one field per declared input."""
    fields: dict[str, Any] = {name: _field(spec) for name, spec in pipeline.inputs.items()}
    model_name = "Inputs_" + pipeline.name.replace("-", "_")
    return create_model(model_name, __base__=_Inputs, **fields)


def _field(spec: InputSpec) -> tuple[Any, Any]:
    kind = _TYPES[spec.type]
    if spec.required and spec.default is None:
        return kind, Field(description=spec.description)
    return kind | None, Field(default=spec.default, description=spec.description)


def pipeline_spec(engine: Engine, entry: Entry) -> CommandSpec:
    pipeline = entry.pipeline
    assert pipeline is not None
    summary = pipeline.description.splitlines()[0] if pipeline.description else ""
    examples: tuple[str, ...] = (
        f"run the {pipeline.name} pipeline",
        f"start the {pipeline.name} pipeline",
    )
    if pipeline.description:
        examples += (pipeline.description.strip(),)
    return CommandSpec(
        name=f"pipeline.{pipeline.name}",
        summary=summary or f"Run the pipeline {pipeline.name} ({entry.path.name})",
        args_model=inputs_model(pipeline),
        permission=RUN_PERMISSION,
        risk=engine.pipelines.risk_of(pipeline),
        handler=_handler(pipeline.name),
        examples=examples,
        timeout_s=engine.settings.pipelines.run_timeout_s,
        audit_details={"pipeline": pipeline.name, "file": str(entry.path), "digest": entry.digest},
        runs_project_code=engine.pipelines.project_code_of(pipeline),
    )


def _handler(name: str) -> Any:
    async def run(ctx: CommandContext, args: BaseModel) -> CommandOutput:
        return await run_named(ctx, name, args.model_dump(mode="json"))

    return run


async def run_named(ctx: CommandContext, name: str, inputs: dict[str, Any]) -> CommandOutput:
    """Run pipeline ``name`` as the person who asked, as this request's run."""
    depth = _depth.get()
    if depth >= MAX_NESTING:
        raise PipelineError(
            f"Pipeline {name} is nested {depth} pipelines deep, the most allowed; a pipeline "
            "that uses itself through others never ends. `logomesh pipeline validate` finds it."
        )
    _depth.set(depth + 1)  # this task's context: the steps' tasks copy it
    from logomesh.pipelines.executor import RunOptions, run_pipeline  # loads with a run

    engine = ctx.engine
    entry = engine.pipelines.get(name)
    assert entry.pipeline is not None
    settings = engine.settings.pipelines
    request = ctx.request
    options = RunOptions(
        correlation_id=request.correlation_id,
        digest=entry.digest,
        store=engine.pipeline_runs,
        max_parallel=settings.max_parallel,
        max_items=settings.max_items,
        poll_s=settings.cancel_poll_s,
        reuse=engine.pipelines.take_over(request.correlation_id),
    )
    total = len(entry.pipeline.steps)
    done: list[str] = []

    async def said(event: StepFinished) -> None:
        # The run's own steps (not a for_each item's, nor a nested run's) as the command's
        # progress, which an adapter shows and an enclosing pipeline re-says as its step's.
        if event.correlation_id == request.correlation_id and "[" not in event.step:
            done.append(event.step)
            await ctx.progress(f"{event.step}: {event.state}", len(done) / total)

    unsubscribe = engine.events.subscribe(StepFinished, said)
    try:
        result = await run_pipeline(engine, entry.pipeline, inputs, request.actor, options)
    finally:
        unsubscribe()
    return _output(name, result)


def _output(name: str, result: RunResult) -> CommandOutput:
    steps = {step_id: {"state": str(step.state), "outcome": step.outcome, "data": step.data,
                       "attempts": step.attempts, "message": step.message}
             for step_id, step in result.steps.items()}  # fmt: skip
    data = {"run_id": result.run_id, "pipeline": name, "state": str(result.state),
            "steps": steps, "outputs": result.outputs, "warnings": result.warnings}  # fmt: skip
    if result.state is not RunState.SUCCEEDED:
        unfinished = [f"{step_id} ({step.state})" for step_id, step in result.steps.items()
                      if step.state in (StepState.FAILED, StepState.CANCELLED)
                      and not step.concluded_well]  # fmt: skip
        error = (PipelineRunCancelledError if result.state is RunState.CANCELLED
                 else PipelineRunFailedError)  # fmt: skip
        raise error(
            f"Pipeline {name} {result.state} (run {result.run_id}): "
            f"{', '.join(unfinished) or 'no step finished'}. See `logomesh pipeline show "
            f"{result.run_id}`; `logomesh pipeline rerun {result.run_id} --failed` runs the "
            "failed steps again."
        )
    counts = Counter(str(step.state) for step in result.steps.values())
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    message = f"Pipeline {name} succeeded (run {result.run_id}): {summary}."
    if result.warnings:
        message += " " + " ".join(result.warnings)
    return CommandOutput(data=data, message=message, target=f"pipeline:{name}",
                         audit_details={"run_id": result.run_id})  # fmt: skip
