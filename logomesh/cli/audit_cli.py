"""``logomesh audit ...``: read, search, verify, checkpoint, export and prune the audit trail."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from logomesh.cli.session import (
    EXIT_ERROR,
    JsonFlag,
    YesFlag,
    execute,
    exit_code_for,
    run_quietly,
)

app = typer.Typer(help="Query and verify the tamper-evident audit trail.", no_args_is_help=True)
Opt = typer.Option


@app.command()
def tail(
    ctx: typer.Context,
    limit: Annotated[int, Opt("--limit", "-n", help="How many records.")] = 20,
    json_output: JsonFlag = False,
) -> None:
    """Show the newest records."""
    execute(ctx, "audit.query", {"limit": limit}, json_output=json_output)


@app.command()
def query(
    ctx: typer.Context,
    actor: Annotated[str | None, Opt(help="Identity name.")] = None,
    action: Annotated[str | None, Opt(help="Command name; * wildcards allowed.")] = None,
    source: Annotated[str | None, Opt(help="cli, lsp, slack, discord, pipeline, ...")] = None,
    since: Annotated[str | None, Opt(help="ISO time or age (2h, 7d).")] = None,
    until: Annotated[str | None, Opt(help="ISO time or age.")] = None,
    outcome: Annotated[str | None, Opt(help="ok, denied, error, cancelled.")] = None,
    correlation_id: Annotated[str | None, Opt("--correlation-id")] = None,
    limit: Annotated[int, Opt("--limit", "-n")] = 50,
    payloads: Annotated[bool, Opt(help="Include prompt/response/output text.")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Find records by actor, action, source, time and outcome."""
    arguments = _given(
        actor=actor,
        action=action,
        source=source,
        since=since,
        until=until,
        outcome=outcome,
        correlation_id=correlation_id,
        limit=limit,
        payloads=payloads,
    )
    execute(ctx, "audit.query", arguments, json_output=json_output)


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="What to look for, in your own words.")],
    actor: Annotated[str | None, Opt(help="Identity name.")] = None,
    action: Annotated[str | None, Opt(help="Command name; * wildcards allowed.")] = None,
    source: Annotated[str | None, Opt(help="cli, lsp, slack, discord, pipeline, ...")] = None,
    since: Annotated[str | None, Opt(help="ISO time or age (2h, 7d).")] = None,
    until: Annotated[str | None, Opt(help="ISO time or age.")] = None,
    outcome: Annotated[str | None, Opt(help="ok, denied, error, cancelled.")] = None,
    limit: Annotated[int, Opt("--limit", "-n")] = 10,
    json_output: JsonFlag = False,
) -> None:
    """Find records by meaning ("who restarted the database"), best match first."""
    arguments = _given(
        query=query,
        actor=actor,
        action=action,
        source=source,
        since=since,
        until=until,
        outcome=outcome,
        limit=limit,
    )
    execute(ctx, "audit.search", arguments, json_output=json_output)


@app.command()
def verify(
    ctx: typer.Context,
    allow_missing_checkpoints: Annotated[
        bool,
        Opt(
            "--allow-missing-checkpoints",
            help="List, but do not fail on, missing periodic checkpoints (an imported trail).",
        ),
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Check the chain, payloads and signed checkpoints; exit 1 on tampering."""
    arguments = {"allow_missing_checkpoints": True} if allow_missing_checkpoints else {}
    result = run_quietly(ctx, "audit.verify", arguments)
    from logomesh.cli.render import render_result  # rich, only once there is a result

    failed = result.ok and not result.data.get("ok", False)
    if json_output and failed:
        # The command ran, the trail did not pass: a script reads the top-level ok and the
        # exit code, so both say so; data keeps the whole report (data.ok is its answer).
        envelope = result.to_dict() | {
            "ok": False,
            "error": {"code": "audit.verify_failed", "message": result.message},
        }
        print(json.dumps(envelope, ensure_ascii=False, default=str))
    else:
        render_result(result, json_output=json_output)
    if not result.ok or failed:
        raise typer.Exit(exit_code_for(result) if not result.ok else EXIT_ERROR)


@app.command()
def checkpoint(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Sign the chain head now."""
    execute(ctx, "audit.checkpoint", json_output=json_output)


@app.command()
def key(ctx: typer.Context, json_output: JsonFlag = False) -> None:
    """Print this machine's signing public key and the line to trust it elsewhere."""
    execute(ctx, "audit.key", json_output=json_output)


@app.command()
def export(
    ctx: typer.Context,
    fmt: Annotated[str, Opt("--format", "-f", help="jsonl or csv.")] = "jsonl",
    output: Annotated[Path | None, Opt("--output", "-o", help="File (default: stdout).")] = None,
) -> None:
    """Export every record in chain order."""
    if output is not None:
        execute(ctx, "audit.export", {"path": output, "format": fmt})
        return
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / f"audit.{fmt}"
        from logomesh.cli.session import exit_code_for, run_quietly

        result = run_quietly(ctx, "audit.export", {"path": target, "format": fmt})
        if not result.ok:
            typer.echo(f"Error: {result.message}", err=True)
            raise typer.Exit(exit_code_for(result))
        with target.open("rb") as handle:
            shutil.copyfileobj(handle, sys.stdout.buffer)


@app.command()
def prune(
    ctx: typer.Context,
    payloads_older_than: Annotated[str, Opt("--payloads-older-than", help="Age such as 90d.")],
    json_output: JsonFlag = False,
    yes: YesFlag = False,
) -> None:
    """Drop old prompts/responses/outputs; records and the chain stay valid."""
    execute(
        ctx,
        "audit.prune",
        {"payloads_older_than": payloads_older_than},
        json_output=json_output,
        yes=yes,
    )


def _given(**options: Any) -> dict[str, Any]:
    """The options the user set: unset ones are left to the command's defaults."""
    return {key: value for key, value in options.items() if value is not None}
