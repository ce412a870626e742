"""Turning a CommandResult into something for a person (rich) or a script (--json).

Known result shapes (audit records, command lists, settings) get tables; anything else the
generic view of its data's shape (:mod:`logomesh.cli.data_view`). ``--json`` prints exactly
one JSON document on stdout, whatever happened. Every rich Console of the CLI and the
shell is made by :func:`console`, so piped output is never wrapped.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.console import Console, RenderableType
from rich.markup import escape
from rich.table import Table

from logomesh.cli.data_view import cell, data_view

if TYPE_CHECKING:
    from logomesh.commands.models import CommandResult

_STYLE = {"ok": "green", "denied": "red", "error": "red", "cancelled": "yellow"}


# Piped output is for grep, cut and files: a line as long as its content, never wrapped.
_UNWRAPPED_WIDTH = 100_000


def console(stderr: bool = False) -> Console:
    """A Console for stdout (or stderr): the terminal's width on a terminal; unwrapped
    when piped, unless the user set COLUMNS (rich reads it, and it wins)."""
    stream = sys.stderr if stderr else sys.stdout
    piped = not (hasattr(stream, "isatty") and stream.isatty())
    width = _UNWRAPPED_WIDTH if piped and not os.environ.get("COLUMNS") else None
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)


def print_block(out: Console, renderable: RenderableType) -> None:
    """Print a table or text; piped, without the spaces rich pads each row with."""
    if out.is_terminal:
        out.print(renderable)
        return
    with out.capture() as captured:
        out.print(renderable)
    text = "\n".join(line.rstrip() for line in captured.get().split("\n"))
    out.file.write(text)
    out.file.flush()


# What to do next after an engine error, in the words of the CLI (the shell has its own):
# the engine's message names no adapter's commands.
CLI_HINTS: Mapping[str, str] = {"command.unknown": "Run `logomesh commands` to list them."}


def render_result(
    result: CommandResult, *, json_output: bool = False, hints: Mapping[str, str] = CLI_HINTS
) -> None:
    if json_output:
        print(json.dumps(result.to_dict(), ensure_ascii=False, default=str))
        return
    out, err = console(), console(stderr=True)
    for warning in result.warnings:
        err.print(f"[yellow]Warning:[/] {escape(warning)}")
    if not result.ok:
        hint = hints.get(result.error.code if result.error else "")
        message = f"{result.message} {hint}" if hint else result.message
        err.print(f"[red]Error:[/] {escape(message)}")
        return
    # A terminal's width, or the user's COLUMNS, is a limit for tables; piped, none is.
    width = None if out.width >= _UNWRAPPED_WIDTH else out.width
    table = table_for(result.command, result.data, width=width)
    if table is not None:
        print_block(out, table)
    if result.message:
        out.print(result.message, markup=False)


def _command_row(row: dict[str, Any]) -> dict[str, Any]:
    """A command, with what its MCP server says of the tool (never what it is trusted with)."""
    extra = [*row.get("hints", ())]
    if row.get("risk_note"):
        extra.append(row["risk_note"])
    summary = str(row.get("summary") or "")
    return {**row, "summary": f"{summary} [{', '.join(extra)}]" if extra else summary}


def _plugin_row(row: dict[str, Any]) -> dict[str, Any]:
    protocol = row.get("protocol_version") or ""
    if row.get("transport") == "http":
        protocol = f"{protocol} http" if protocol else "http"
    commands = ", ".join(row["commands"])
    hidden = row.get("hidden_tools") or []
    if hidden:
        commands += f" (+{len(hidden)} tools not exposed: {', '.join(h['tool'] for h in hidden)})"
    return {**row, "protocol": protocol, "commands": commands}


def table_for(command: str, data: Any, *, width: int | None = None) -> RenderableType | None:
    if command.startswith("pipeline."):
        return _pipeline_table(command, data)
    if command in ("audit.query", "audit.search") and isinstance(data, list):
        return _audit_table(data)
    if command == "commands.list" and isinstance(data, list):
        return _rows_table(
            [_command_row(row) for row in data], ("name", "risk", "permission", "summary")
        )
    if command == "llm.list" and isinstance(data, list):
        rows = [
            {**row, "default for": ", ".join(row["default_for"]), "context": row["context_window"]}
            for row in data
        ]
        return _rows_table(rows, ("name", "provider", "state", "default for", "context"))
    if command == "plugin.list" and isinstance(data, list):
        columns = ("name", "runtime", "version", "state", "protocol", "commands", "error")
        return _rows_table([_plugin_row(row) for row in data], columns)
    if command == "plugin.stats" and isinstance(data, list):
        return _rows_table([_stats_row(row) for row in data], _STATS_COLUMNS)
    if command == "plugin.doctor" and isinstance(data, list):
        return _rows_table(data, ("protection", "status", "detail"))
    if command == "plugin.check" and isinstance(data, dict) and "commands" in data:
        rows = [
            {**row, "served": "yes" if row["served"] else "no", "ms": row["latency_ms"]}
            for row in data["commands"]
        ]
        return _rows_table(rows, ("command", "served", "result", "ms", "message"))
    if command in ("llm.ask", "llm.test"):
        return None  # the message says it; --json has every figure
    if command == "llm.usage" and isinstance(data, list):
        columns = ("day", "model", "actor", "calls", "errors", "tokens_in", "tokens_out")
        return _rows_table(data, (*columns, "cost_usd"))
    if command == "approvals.list" and isinstance(data, list):
        shown = ("id", "command", "state", "requester", "risk", "expires_at")
        return _rows_table(data, shown)
    if command == "config.show" and isinstance(data, list):
        return _rows_table(data, ("key", "value", "source"))
    return data_view(command, data, width=width)


def _pipeline_table(command: str, data: Any) -> RenderableType | None:
    from logomesh.cli import pipeline_tables

    if command == "pipeline.list" and isinstance(data, list):
        return pipeline_tables.render_pipelines(data)
    if command == "pipeline.validate" and isinstance(data, list):
        return pipeline_tables.render_pipelines(data)
    if command == "pipeline.runs" and isinstance(data, list):
        return pipeline_tables.render_runs(data)
    if command in ("pipeline.show", "pipeline.cancel") and isinstance(data, dict):
        return pipeline_tables.render_run(data)
    return None  # a run: its live view and its message say it; --json has the rest


_STATS_COLUMNS = (
    "name", "state", "pid", "cpu s", "rss MB", "calls", "errors", "p50/p95/p99 ms", "restarts",
    "uptime s",
)  # fmt: skip


def _stats_row(row: dict[str, Any]) -> dict[str, Any]:
    latencies = [row.get(f"p{q}_ms") for q in (50, 95, 99)]
    return {
        **row,
        "cpu s": row.get("cpu_s"),
        "rss MB": row.get("rss_mb"),
        "p50/p95/p99 ms": "/".join(f"{v:g}" for v in latencies) if None not in latencies else "",
        "uptime s": row.get("uptime_s"),
    }


def _audit_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False)
    scored = bool(rows) and "score" in rows[0]  # audit.search ranks by similarity
    columns = ("#", "time (UTC)", "actor", "source", "action", "outcome", "ms")
    for column in ("score", *columns) if scored else columns:
        table.add_column(column, no_wrap=column != "action")
    for row in rows:
        outcome = str(row.get("outcome", ""))
        table.add_row(
            *([f"{row['score']:.2f}"] if scored else []),
            str(row.get("seq", "")),
            str(row.get("timestamp", ""))[:19].replace("T", " "),
            escape(str(row.get("actor", ""))),
            str(row.get("source", "")),
            escape(str(row.get("action", ""))),
            f"[{_STYLE.get(outcome, 'white')}]{outcome}[/]",
            f"{row.get('duration_us', 0) / 1000:.1f}",
        )
    return table


def _rows_table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(escape(cell(row.get(column))) for column in columns))
    return table
