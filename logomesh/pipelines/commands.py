"""The commands that manage pipelines: list, validate, schema, runs, show, cancel, rerun.

Running one is its own command, ``pipeline.NAME`` (:mod:`.pipeline_command`). The runs'
rows are read and written off the event loop (SQLAlchemy blocks).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from logomesh.commands.models import CommandContext, CommandOutput, CommandRequest, NoArguments
from logomesh.commands.registry import command
from logomesh.commands.values import RiskLevel, new_id
from logomesh.errors import (
    PipelineCheckFailedError,
    PipelineError,
    PipelineRunFailedError,
    PipelineValidationError,
)
from logomesh.pipelines.states import StepState
from logomesh.plural import plural
from logomesh.security.redaction import REDACTED

if TYPE_CHECKING:
    # Imported where used: the file format, the executor and the stored runs load only
    # when a pipeline command runs, not whenever an engine is built.
    from logomesh.pipelines.catalogue import Entry, PipelineCatalogue
    from logomesh.pipelines.executor import StepResult
    from logomesh.pipelines.store import RunRecord


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _row(catalogue: PipelineCatalogue, entry: Entry) -> dict[str, Any]:
    pipeline = entry.pipeline
    return {
        "name": entry.name,
        "file": _shown(catalogue, entry.path),
        "description": entry.description,
        "risk": str(catalogue.risk_of(pipeline)) if pipeline is not None else None,
        "inputs": list(pipeline.inputs) if pipeline is not None else [],
        "valid": entry.valid,
        "problems": [str(problem) for problem in entry.problems],
    }


def _shown(catalogue: PipelineCatalogue, path: Path) -> str:
    """A file as the person knows it: relative to the workspace when it is inside it."""
    try:
        return str(path.relative_to(catalogue.engine.settings.workspace))
    except ValueError:
        return str(path)


@command(
    "pipeline.list",
    summary="List the workspace's pipelines, with their risk, inputs and any problems",
    permission="pipeline.read",
    risk=RiskLevel.READ,
    examples=("which pipelines are there", "list the pipelines", "show the workflows"),
)
async def pipeline_list(ctx: CommandContext, _: NoArguments) -> CommandOutput:
    catalogue = ctx.engine.pipelines
    rows = [_row(catalogue, entry) for entry in catalogue.entries]
    broken = [row["file"] for row in rows if not row["valid"]]
    message = f"{len(rows)} pipelines, {len(rows) - len(broken)} valid." + (
        f" Not valid: {', '.join(broken)} (`logomesh pipeline validate`)." if broken else ""
    )
    return CommandOutput(data=rows, message=message)


class ValidateArgs(_Args):
    file: str | None = Field(
        default=None, min_length=1, description="One file; default every pipeline file."
    )


@command(
    "pipeline.validate",
    summary="Check pipeline files and report every problem with its line and column",
    permission="pipeline.read",
    risk=RiskLevel.READ,
    examples=("validate the pipelines", "check my pipeline file for errors"),
)
async def pipeline_validate(ctx: CommandContext, args: ValidateArgs) -> CommandOutput:
    catalogue = ctx.engine.pipelines
    if args.file is not None:
        entries = [await asyncio.to_thread(catalogue.check_file, Path(args.file))]
    else:
        entries = catalogue.entries
    problems = tuple(problem for entry in entries for problem in entry.problems)
    if problems:
        raise PipelineValidationError(problems)
    rows = [_row(catalogue, entry) for entry in entries]
    return CommandOutput(data=rows, message=f"{len(rows)} pipeline files are valid.")


@command(
    "pipeline.schema",
    summary="The JSON Schema of pipeline files, for editors and checkers",
    permission="pipeline.read",
    risk=RiskLevel.READ,
    examples=("show the pipeline file schema",),
)
async def pipeline_schema(ctx: CommandContext, _: NoArguments) -> CommandOutput:
    from logomesh.pipelines.model import schema

    return CommandOutput(data=schema(), message="The JSON Schema of a pipeline file.")


class CheckArgs(_Args):
    # Strict: only a real true passes, never a truthy string or number an expression gave.
    ok: StrictBool = Field(description="The condition, usually a ${{ }} expression.")
    message: str = Field(
        default="the check failed", min_length=1, max_length=4096,
        description="Why the step fails when ok is false.",
    )  # fmt: skip


@command(
    "pipeline.check",
    summary="A pipeline step that fails unless ok is true (a verdict that is data, made a failure)",
    permission="pipeline.read",
    risk=RiskLevel.READ,
    examples=("fail the pipeline step unless the check holds",),
)
async def pipeline_check(ctx: CommandContext, args: CheckArgs) -> CommandOutput:
    """Commands such as ``tests.run`` and ``lint.check`` succeed when they could check, and
    give their verdict as data (``passed``, ``count``); a step of this command turns that
    verdict into the step's (so the run's) failure, which ``if: failure()`` steps see."""
    if not args.ok:
        raise PipelineCheckFailedError(args.message)
    return CommandOutput(data={"ok": True, "message": args.message}, message="Check passed.")


class RunsArgs(_Args):
    pipeline: str | None = Field(default=None, min_length=1, description="One pipeline's runs.")
    limit: int = Field(default=20, ge=1, le=1000)


@command(
    "pipeline.runs",
    summary="Recent pipeline runs, newest first, with their state",
    permission="pipeline.read",
    risk=RiskLevel.READ,
    examples=("show recent pipeline runs", "did the ci pipeline pass", "list pipeline runs"),
)
async def pipeline_runs(ctx: CommandContext, args: RunsArgs) -> CommandOutput:
    runs = await asyncio.to_thread(ctx.engine.pipeline_runs.runs, args.pipeline, args.limit)
    rows = [run.to_dict() for run in runs]
    return CommandOutput(data=rows, message=f"{plural(len(rows), 'run')}.")


class RunArgs(_Args):
    run: str = Field(min_length=1, description="The run's id (`logomesh pipeline runs`).")


@command(
    "pipeline.show",
    summary="One pipeline run with each step's state, attempts, outcome and audit record",
    permission="pipeline.read",
    risk=RiskLevel.READ,
    examples=("show the pipeline run", "why did the run fail"),
)
async def pipeline_show(ctx: CommandContext, args: RunArgs) -> CommandOutput:
    run = await asyncio.to_thread(ctx.engine.pipeline_runs.get, args.run)
    failed = [s.step_id for s in run.steps if s.state is StepState.FAILED]
    message = f"Run {run.id} of {run.pipeline}: {run.state}" + (
        f"; failed: {', '.join(failed)}." if failed else "."
    )
    return CommandOutput(data=run.to_dict(), message=message)


@command(
    "pipeline.cancel",
    summary="Cancel a running pipeline run, from any process",
    permission="pipeline.run",
    risk=RiskLevel.WRITE,
    examples=("cancel the pipeline run", "stop the running pipeline"),
)
async def pipeline_cancel(ctx: CommandContext, args: RunArgs) -> CommandOutput:
    run = await asyncio.to_thread(ctx.engine.pipeline_runs.request_cancel, args.run)
    if not run.cancel_requested:
        message = f"Run {run.id} is not running ({run.state}); nothing to cancel."
    elif ctx.engine.change_feed.pushes:
        message = f"Cancel of run {run.id} requested; its process was told, and stops its steps."
    else:
        message = (f"Cancel of run {run.id} requested; its process stops its steps within "
                   f"{ctx.engine.settings.pipelines.cancel_poll_s:g} s.")  # fmt: skip
    return CommandOutput(data=run.to_dict(), message=message, target=f"pipeline-run:{run.id}")


class RerunArgs(RunArgs):
    failed: bool = Field(
        default=False, description="Keep the steps that succeeded; run the rest again."
    )


@command(
    "pipeline.rerun",
    summary="Run a pipeline again with a past run's inputs, or only its failed steps",
    permission="pipeline.run",
    risk=RiskLevel.WRITE,
    examples=("rerun the failed pipeline", "run the failed steps again"),
)
async def pipeline_rerun(ctx: CommandContext, args: RerunArgs) -> CommandOutput:
    """The new run is ``pipeline.NAME``'s own command, under this one: its risk is
    confirmed (or waits for approval) as when it is run directly."""
    engine = ctx.engine
    run = await asyncio.to_thread(engine.pipeline_runs.get, args.run)
    entry = engine.pipelines.get(run.pipeline)
    _refuse_redacted(run)
    request = CommandRequest(f"pipeline.{run.pipeline}", ctx.request.actor, run.inputs,
                             correlation_id=new_id(), parent_id=ctx.request.correlation_id,
                             wait_for_approval=True)  # fmt: skip
    if args.failed:
        engine.pipelines.hand_over(request.correlation_id, _kept(run))
    result = await engine.execute(request)
    changed = " (the file changed since)" if entry.digest != run.digest else ""
    if not result.ok:
        raise PipelineRunFailedError(f"Rerun of {run.id}{changed}: {result.message}")
    return CommandOutput(data=result.data, message=f"Rerun of {run.id}{changed}: "
                         f"{result.message}", target=f"pipeline:{run.pipeline}")  # fmt: skip


def _refuse_redacted(run: RunRecord) -> None:
    hidden = [key for key, value in run.inputs.items() if _holds_redacted(value)]
    if hidden:
        raise PipelineError(
            f"Run {run.id}'s inputs {', '.join(hidden)} were redacted when it was stored, so "
            f"they cannot be reused; run `logomesh pipeline run {run.pipeline}` with "
            + " ".join(f"-i {key}=..." for key in hidden)
        )


def _holds_redacted(value: Any) -> bool:
    if isinstance(value, str):
        return REDACTED in value
    if isinstance(value, dict):
        return any(_holds_redacted(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_redacted(v) for v in value)
    return False


def _kept(run: RunRecord) -> dict[str, StepResult]:
    """The steps of ``run`` that succeeded, as results that stand in the new run."""
    from logomesh.pipelines.executor import StepResult

    return {
        step.step_id: StepResult(StepState.SUCCEEDED, step.attempts, step.outcome, step.output,
                                 f"kept from run {run.id}", audit_id=step.audit_id)
        for step in run.steps
        if step.item == 0 and step.state is StepState.SUCCEEDED
    }  # fmt: skip
