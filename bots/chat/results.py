"""What the engine answered, as a reply: one place that maps results and errors to blocks.

A chat reply is read by people scrolling a channel, so the first block says what happened
in one line (✅ ran, ⛔ refused, ❌ failed), the body shows the data in the shape it has
(records as a table, a command's output as code, a record as fields), and a context line
ends it with the correlation id, which finds every audit record of the request
(``/logomesh audit correlation_id=...``). Errors are the engine's own ``user_message`` and
``code`` (errbot's ``CommandError``: the reason is the reply); anything unexpected is the
dispatcher's generic reply (:func:`unexpected_reply`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bots.chat.render import Block, Code, Context, Fields, Reply, Table, Text
from logomesh.commands.models import CommandResult
from logomesh.commands.values import Outcome
from logomesh.nl.flow import Decision, TextOutcome

_MARKS = {
    Outcome.OK: "✅",
    Outcome.DENIED: "⛔",
    Outcome.ERROR: "❌",
    Outcome.CANCELLED: "⏹",
    Outcome.STARTED: "⏳",
}
# Keys whose text is a command's output, shown as preformatted code.
_OUTPUT_KEYS = ("diff", "stdout", "output", "patch", "text", "content")
# Columns for records whose shape is known; any other list of records gets its own keys.
_AUDIT_COLUMNS = ("time", "actor", "source", "action", "target", "outcome")
_KNOWN_COLUMNS: dict[str, tuple[str, ...]] = {
    "approvals.list": ("id", "command", "risk", "state", "requester", "expires_at"),
    "commands.list": ("name", "risk", "summary"),
    "pipeline.list": ("name", "risk", "description"),
    "pipeline.runs": ("run_id", "pipeline", "state", "started_at", "actor"),
}
_MAX_COLUMNS = 6


def result_reply(result: CommandResult, *, lead: str | None = None) -> Reply:
    """One command's result; ``lead`` says first how it came to run (an interpretation)."""
    blocks: list[Block] = [Text(lead)] if lead else []
    mark = _MARKS.get(result.outcome, "")
    if result.ok:
        headline = result.message or f"{result.command} finished."
        blocks.append(Text(f"{mark} *{result.command}*: {headline}"))
        blocks += body_blocks(result.command, result.data)
    else:
        code = result.error.code if result.error else str(result.outcome)
        verb = {Outcome.DENIED: "was refused", Outcome.CANCELLED: "did not run"}.get(
            result.outcome, "failed"
        )
        blocks.append(Text(f"{mark} *{result.command}* {verb}: {result.message}"))
        blocks.append(Context(f"error code `{code}`"))
    blocks += [Text(f"⚠️ {warning}") for warning in result.warnings]
    blocks.append(Context(context_line(result)))
    fallback = f"{result.command}: {result.message}" if result.message else result.command
    return Reply(tuple(blocks), fallback)


def outcome_reply(outcome: TextOutcome) -> Reply:
    """A natural-language request: what it was read as, and the result if it ran."""
    interpretation = outcome.interpretation
    if not interpretation.ok:
        return result_reply(interpretation)
    if outcome.result is not None:
        return result_reply(outcome.result, lead=f"🔎 {interpretation.message}")
    proposal = outcome.proposal
    blocks: list[Block] = [Text(f"🤔 {interpretation.message}")]
    if outcome.decision is Decision.ASK:
        alternatives = [
            str(item.get("command")) for item in proposal.get("alternatives", [])
            if isinstance(item, Mapping) and item.get("command")
        ]  # fmt: skip
        hint = "Say it with more detail, or name the command: `run COMMAND key=value`."
        if alternatives:
            hint = "Perhaps: " + ", ".join(f"`{a}`" for a in alternatives[:3]) + ". " + hint
        blocks.append(Text(hint))
    blocks.append(Context(context_line(interpretation)))
    return Reply(tuple(blocks), interpretation.message or "Not run.")


def error_reply(what: str, message: str, code: str, correlation_id: str | None = None) -> Reply:
    """A refusal that never reached a command (a parse error, a rate limit)."""
    blocks: list[Block] = [Text(f"❌ {what}: {message}")]
    context = f"error code `{code}`"
    if correlation_id:
        context += f" · correlation id `{correlation_id}`"
    blocks.append(Context(context))
    return Reply(tuple(blocks), f"{what}: {message}", private=True)


def unexpected_reply(correlation_id: str) -> Reply:
    """Something went wrong that nobody foresaw: logged in full, said briefly (errbot)."""
    text = (
        "❌ Something went wrong on LogoMesh's side while handling this; it is logged. Quote "
        f"correlation id `{correlation_id}` to whoever runs the bot."
    )
    return Reply((Text(text),), "Something went wrong (it is logged).")


def context_line(result: CommandResult) -> str:
    parts = [f"`{result.command}`", f"{result.duration_ms:.0f} ms"]
    parts.append(f"correlation id `{result.correlation_id}`")
    if result.audit_id:
        parts.append(f"audit record `{result.audit_id}`")
    return " · ".join(parts)


def body_blocks(command: str, data: Any) -> list[Block]:
    """The data of a successful result, in the shape it has."""
    if data is None or data == [] or data == {}:
        return []
    if isinstance(data, str):
        return [Code(data)]
    if _is_records(data):
        return [records_table(command, data)]
    if isinstance(data, Mapping):
        return _mapping_blocks(command, data)
    return [Code(json.dumps(data, ensure_ascii=False, indent=2, default=str), "json")]


def records_table(command: str, rows: Sequence[Mapping[str, Any]]) -> Table:
    if command in ("audit.query", "audit.search"):
        return _audit_table(rows)
    columns = _KNOWN_COLUMNS.get(command) or _columns_of(rows)
    return Table(columns, tuple(tuple(cell(row.get(c)) for c in columns) for row in rows))


def _audit_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    scored = bool(rows) and "score" in rows[0]
    columns = (("score",) if scored else ()) + _AUDIT_COLUMNS
    table_rows = []
    for row in rows:
        when = str(row.get("timestamp", ""))[:19].replace("T", " ")
        values = [when, *(cell(row.get(key)) for key in _AUDIT_COLUMNS[1:])]
        if scored:
            values.insert(0, f"{float(row.get('score', 0.0)):.2f}")
        table_rows.append(tuple(values))
    return Table(columns, tuple(table_rows))


def _mapping_blocks(command: str, data: Mapping[str, Any]) -> list[Block]:
    blocks: list[Block] = []
    rest: dict[str, Any] = {}
    for key, value in data.items():
        if key in _OUTPUT_KEYS and isinstance(value, str):
            if value.strip():
                blocks.append(Code(value, "diff" if key in ("diff", "patch") else None))
        elif _is_records(value) and value:
            blocks.append(records_table(f"{command}:{key}", value))
        else:
            rest[key] = value
    shown = [(key, cell(value)) for key, value in rest.items() if value not in (None, "", [], {})]
    if shown:
        blocks.insert(0, Fields(tuple(shown)))
    return blocks


def _is_records(data: Any) -> bool:
    return isinstance(data, list) and all(isinstance(item, Mapping) for item in data)


def _columns_of(rows: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """The first few keys whose values are plain (nested values make unreadable cells)."""
    columns: list[str] = []
    for row in rows:
        for key, value in row.items():
            if key not in columns and not isinstance(value, Mapping | list):
                columns.append(key)
    return tuple(columns[:_MAX_COLUMNS]) or ("value",)


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)
