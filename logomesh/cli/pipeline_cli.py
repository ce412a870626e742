"""``logomesh pipeline ...``: list, validate, schema, run, runs, show, cancel, rerun.

``run`` is the command ``pipeline.NAME`` (``logomesh run pipeline.NAME`` is the same run,
without the live view), followed on the event bus by :mod:`logomesh.cli.pipeline_view`:
a live table on a terminal, plain lines in a pipe, one JSON event per line with ``--json``
(the last line is the command's result, ``"event": "result"``). Ctrl-C cancels the run:
its running steps are stopped and the rest skipped, and the run is recorded as cancelled.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from logomesh.cli.session import (
    EXIT_CANCELLED,
    JsonFlag,
    YesFlag,
    execute,
    exit_code_for,
    run_quietly,
    state_of,
    terminal_confirmer,
)
from logomesh.commands.assignments import parse_assignments

if TYPE_CHECKING:
    from logomesh.commands.models import CommandRequest, CommandResult
    from logomesh.engine import Engine

app = typer.Typer(help="Pipelines: workflows over commands (docs/pipelines.md).",
                  no_args_is_help=True)  # fmt: skip

RunFlag = Annotated[str, typer.Argument(help="The run's id (`logomesh pipeline runs`).")]
JsonLinesFlag = Annotated[
    bool, typer.Option("--json", help="One JSON event per line, then the result.")
]


@app.command("list")
def list_pipelines(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Every pipeline file of the workspace: name, risk, inputs, and what is wrong with it."""
    execute(ctx, "pipeline.list", json_output=json_output)


@app.command()
def validate(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="One file; default all.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Check pipeline files; every problem with its file, line and column. Exits 1 on any."""
    arguments = {"file": str(file)} if file is not None else {}
    execute(ctx, "pipeline.validate", arguments, json_output=json_output)


@app.command()
def schema(ctx: typer.Context) -> None:
    """Print the JSON Schema of pipeline files (for an editor's YAML/JSON validation)."""
    result = run_quietly(ctx, "pipeline.schema")
    print(json.dumps(result.data, indent=2, ensure_ascii=False))


@app.command()
def run(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The pipeline (`logomesh pipeline list`).")],
    inputs: Annotated[
        list[str] | None,
        typer.Option("--input", "-i", help="An input as key=value; repeat for more."),
    ] = None,
    yes: YesFlag = False,
    json_output: JsonLinesFlag = False,
) -> None:
    """Run a pipeline, showing each step's state, attempt, duration and last line."""
    arguments = parse_assignments(inputs or [])
    _follow(ctx, f"pipeline.{name}", arguments, yes=yes, json_output=json_output)


@app.command()
def runs(
    ctx: typer.Context,
    pipeline: Annotated[str | None, typer.Option(help="Only this pipeline's runs.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    json_output: JsonFlag = False,
) -> None:
    """Recent runs, newest first (a run whose process died shows as interrupted)."""
    arguments: dict[str, Any] = {"limit": limit} | ({"pipeline": pipeline} if pipeline else {})
    execute(ctx, "pipeline.runs", arguments, json_output=json_output)


@app.command()
def show(ctx: typer.Context, run_id: RunFlag, json_output: JsonFlag = False) -> None:
    """One run and its steps: state, attempts, times, outcome, error, audit record."""
    execute(ctx, "pipeline.show", {"run": run_id}, json_output=json_output)


@app.command()
def cancel(ctx: typer.Context, run_id: RunFlag, json_output: JsonFlag = False) -> None:
    """Cancel a run, from any process sharing its database."""
    execute(ctx, "pipeline.cancel", {"run": run_id}, json_output=json_output, yes=True)


@app.command()
def rerun(
    ctx: typer.Context,
    run_id: RunFlag,
    failed: Annotated[
        bool, typer.Option("--failed", help="Keep the steps that succeeded; run the rest.")
    ] = False,
    yes: YesFlag = False,
    json_output: JsonLinesFlag = False,
) -> None:
    """Run a pipeline again with a past run's inputs (or only what failed)."""
    arguments = {"run": run_id, "failed": failed}
    _follow(ctx, "pipeline.rerun", arguments, yes=yes, json_output=json_output, nested=True)


def _follow(
    ctx: typer.Context,
    command: str,
    arguments: dict[str, Any],
    *,
    yes: bool,
    json_output: bool,
    nested: bool = False,
) -> None:
    """Run ``command`` with the run's live view; exit with the command's exit code."""
    from logomesh.commands.models import CommandRequest
    from logomesh.commands.values import Actor, Source

    state = state_of(ctx)
    engine = state.engine()
    request = CommandRequest(command, Actor(Source.CLI, getpass.getuser()), arguments,
                             confirmed=yes, wait_for_approval=True)  # fmt: skip
    try:
        result = asyncio.run(_run_followed(engine, request, json_output, nested))
    except KeyboardInterrupt:
        typer.echo("Cancelled: the run's steps were stopped (`logomesh pipeline runs`).",
                   err=True)  # fmt: skip
        raise typer.Exit(EXIT_CANCELLED) from None
    _say_result(result, json_output)
    code = exit_code_for(result)
    if code:
        raise typer.Exit(code)


async def _run_followed(
    engine: Engine, request: CommandRequest, json_lines: bool, nested: bool
) -> CommandResult:
    from logomesh.cli.pipeline_view import follow_run
    from logomesh.cli.render import console

    # A rerun's run is a command of its own under the rerun: follow the first run that starts.
    correlation_id = None if nested else request.correlation_id
    with follow_run(engine, correlation_id, json_lines=json_lines, console=console()):
        return await engine.execute(request, terminal_confirmer())


def _say_result(result: CommandResult, json_output: bool) -> None:
    if json_output:
        print(json.dumps({"event": "result", **result.to_dict()}, ensure_ascii=False,
                         default=str), flush=True)  # fmt: skip
        return
    from logomesh.cli.render import console

    err = console(stderr=True)
    for warning in result.warnings:
        err.print(f"Warning: {warning}", markup=False)
    if result.ok:
        console().print(result.message, markup=False)
    else:
        err.print(f"Error: {result.message}", markup=False)
