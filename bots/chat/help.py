"""``help``: what this person may run here, from the engine's own listing.

The list comes from ``commands.list`` run as the asker, which keeps only the commands the
policy lets them run (``Engine.permits``), so help never advertises what would be refused,
and asking for it is audited like any request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bots.chat.render import Block, Context, Fields, Reply, Table, Text
from bots.chat.results import context_line, result_reply
from logomesh.commands.models import CommandResult
from logomesh.plural import plural


def help_reply(result: CommandResult, command: str | None, prefix: str) -> Reply:
    """The help for ``command`` (or all), from the ``commands.list`` result of the asker."""
    if not result.ok or not isinstance(result.data, list):
        return _private(result_reply(result))
    allowed = [row for row in result.data if isinstance(row, Mapping) and row.get("allowed")]
    if command is not None:
        return _one(command, allowed, prefix, context_line(result))
    return _all(allowed, prefix, context_line(result))


def _all(rows: Sequence[Mapping[str, Any]], prefix: str, context: str) -> Reply:
    usage = (
        f"`{prefix} run COMMAND key=value ...` · `{prefix} do <in words>` · "
        f"`{prefix} pipeline NAME key=value` · `{prefix} audit last 20` · "
        f'`{prefix} audit search "words"` · `{prefix} approvals` · `{prefix} help COMMAND`. '
        "Mention me or send me a direct message to ask in your own words."
    )
    if not rows:
        text = "You may not run any command here; an admin can grant roles (`security.roles`)."
        return Reply((Text(text), Context(context)), text, private=True)
    table = Table(
        ("command", "risk", "summary"),
        tuple(
            (str(r["name"]), str(r.get("risk") or ""), str(r.get("summary") or "")) for r in rows
        ),
    )
    blocks: list[Block] = [Text(f"*Commands you may run* ({len(rows)})"), table]
    blocks += [Text(usage), Context(context)]
    return Reply(tuple(blocks), f"{plural(len(rows), 'command')} you may run.", private=True)


def _one(command: str, rows: Sequence[Mapping[str, Any]], prefix: str, context: str) -> Reply:
    row = next((r for r in rows if r.get("name") == command), None)
    if row is None:
        text = (
            f"`{command}` is not a command you may run here; `{prefix} help` lists the ones "
            "you may."
        )
        return Reply((Text(f"❌ {text}"), Context(context)), text, private=True)
    pairs = [("Summary", str(row.get("summary") or "")), ("Risk", str(row.get("risk") or ""))]
    pairs.append(("Permission", f"`{row.get('permission')}`"))
    arguments = row.get("arguments") or {}
    if isinstance(arguments, Mapping) and arguments:
        pairs.append(("Arguments", _arguments(arguments)))
    examples = row.get("examples") or []
    if examples:
        pairs.append(("Said in words", "; ".join(f"“{e}”" for e in examples[:4])))
    usage = f"`{prefix} run {command}" + "".join(f" {n}=…" for n in arguments) + "`"
    blocks: tuple[Block, ...] = (
        Text(f"*{command}*"), Fields(tuple(pairs)), Text(usage), Context(context)
    )  # fmt: skip
    return Reply(blocks, f"{command}: {row.get('summary')}", private=True)


def _arguments(arguments: Mapping[str, Any]) -> str:
    described = []
    for name, schema in arguments.items():
        about = schema.get("description") if isinstance(schema, Mapping) else None
        described.append(f"`{name}`" + (f": {about}" if about else ""))
    return "; ".join(described)


def _private(reply: Reply) -> Reply:
    return Reply(reply.blocks, reply.fallback, reply.attachments, private=True)
