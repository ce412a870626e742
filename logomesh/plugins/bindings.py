"""Which command serves which tool, at which risk: a plugin's manifest joined with the tools
its server lists.

A tool is not a command name. A command the manifest lists (``contributes.commands``) names
the tool it calls (``tool``, else its ``name``); with ``expose = "all"`` every other tool
the server lists becomes the command ``<plugin>.<tool>`` at the manifest's
``default_risk``. The manifest is the source of trust: a server's own tool annotations
(``readOnlyHint``, ``destructiveHint``) are shown beside the command and may make a
``default_risk`` stricter (a tool that says it is destructive asks for confirmation), but
they never lower a risk, and a risk the manifest gives a listed command is final.

A tool that would take a command someone else has, or that two tools would share, is not
exposed; :class:`Hidden` says why, for ``plugin list`` and ``commands``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from logomesh.commands.values import RiskLevel
from logomesh.plugins.manifest import CommandContribution, Expose, Manifest, command_for_tool


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool as the server listed it (``tools/list``)."""

    name: str
    description: str
    input_schema: dict[str, Any]
    annotations: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
            "annotations": self.annotations,
        }

    @classmethod
    def from_listing(cls, item: dict[str, Any]) -> Tool:
        annotations = item.get("annotations")
        return cls(
            str(item["name"]),
            str(item.get("description") or ""),
            item.get("inputSchema") or {},
            dict(annotations) if isinstance(annotations, dict) else {},
        )


@dataclass(frozen=True, slots=True)
class Binding:
    """One command of a plugin and the tool that serves it."""

    command: str
    tool: str
    summary: str
    risk: RiskLevel
    permission: str
    examples: tuple[str, ...]
    timeout_s: float
    listed: bool  # named under contributes.commands (else exposed by expose = "all")
    hints: tuple[str, ...] = ()  # the server's annotations, as shown to the user
    risk_note: str | None = None  # why the risk is stricter than default_risk


@dataclass(frozen=True, slots=True)
class Hidden:
    """A tool the server lists that is not a command, and why."""

    tool: str
    command: str
    reason: str
    hints: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "command": self.command,
            "reason": self.reason,
            "hints": list(self.hints),
        }


@dataclass(frozen=True, slots=True)
class Bindings:
    commands: dict[str, Binding]
    hidden: tuple[Hidden, ...] = ()

    def for_tool(self, tool: str) -> Binding | None:
        return next((b for b in self.commands.values() if b.tool == tool), None)


def bind(
    manifest: Manifest,
    tools: Iterable[Tool] | None,
    taken: Callable[[str], str | None],
) -> Bindings:
    """The commands ``manifest`` registers given the server's ``tools`` (None: not known
    yet). ``taken(command)`` names the owner of a command that is not this plugin's."""
    known = {tool.name: tool for tool in tools} if tools is not None else None
    commands: dict[str, Binding] = {}
    for contribution in manifest.contributes.commands:
        tool = known.get(contribution.tool_name) if known is not None else None
        commands[manifest.command_name(contribution)] = _listed(manifest, contribution, tool)
    hidden: list[Hidden] = []
    if known is None:
        return Bindings(commands)
    served = {binding.tool for binding in commands.values()}
    unlisted = [tool for name, tool in sorted(known.items()) if name not in served]
    if manifest.expose is not Expose.ALL:
        hint = (
            'not exposed: list it under contributes.commands, or set expose = "all" with a '
            "default_risk"
        )
        hidden += [Hidden(t.name, command_for_tool(manifest.name, t.name), hint, hints_of(t))
                   for t in unlisted]  # fmt: skip
        return Bindings(commands, tuple(hidden))
    wanted: dict[str, list[Tool]] = {}
    for tool in unlisted:
        wanted.setdefault(command_for_tool(manifest.name, tool.name), []).append(tool)
    for command, candidates in sorted(wanted.items()):
        reason = _why_not(command, candidates, commands, taken)
        if reason is not None:
            hidden += [Hidden(t.name, command, reason, hints_of(t)) for t in candidates]
            continue
        commands[command] = _unlisted(manifest, command, candidates[0])
    return Bindings(commands, tuple(hidden))


def _why_not(
    command: str,
    candidates: list[Tool],
    commands: dict[str, Binding],
    taken: Callable[[str], str | None],
) -> str | None:
    if len(candidates) > 1:
        names = " and ".join(repr(tool.name) for tool in candidates)
        return (
            f"tools {names} would both be the command {command}: list one under "
            "contributes.commands with a `name` of its own"
        )
    if command in commands:
        return (
            f"{command} is the command of tool {commands[command].tool!r} here: list this "
            "tool under contributes.commands with a `name` of its own"
        )
    owner = taken(command)
    if owner is not None:
        return (
            f"{command} already exists (from {owner}): list this tool under "
            "contributes.commands with a `name` of its own"
        )
    return None


def _listed(manifest: Manifest, contribution: CommandContribution, tool: Tool | None) -> Binding:
    hints = hints_of(tool) if tool is not None else ()
    risk, note = contribution.risk, None
    if not contribution.risk_given and manifest.default_risk is not None:
        risk, note = stricter(manifest.default_risk, tool)
    return Binding(
        command=manifest.command_name(contribution),
        tool=contribution.tool_name,
        summary=contribution.summary or _summary_of(manifest, contribution.tool_name, tool),
        risk=risk,
        permission=manifest.permission_for(contribution),
        examples=contribution.examples,
        timeout_s=contribution.timeout_s or manifest.limits.call_timeout_s,
        listed=True,
        hints=hints,
        risk_note=note,
    )


def _unlisted(manifest: Manifest, command: str, tool: Tool) -> Binding:
    assert manifest.default_risk is not None  # the manifest requires it with expose = "all"
    risk, note = stricter(manifest.default_risk, tool)
    return Binding(
        command=command,
        tool=tool.name,
        summary=_summary_of(manifest, tool.name, tool),
        risk=risk,
        permission=f"plugin.{manifest.name}",
        examples=(),
        timeout_s=manifest.limits.call_timeout_s,
        listed=False,
        hints=hints_of(tool),
        risk_note=note,
    )


def stricter(risk: RiskLevel, tool: Tool | None) -> tuple[RiskLevel, str | None]:
    """``risk``, raised (never lowered) where the server says the tool is destructive or
    writes; a ``readOnlyHint`` lowers nothing."""
    annotations = tool.annotations if tool is not None else {}
    if annotations.get("readOnlyHint") is True:
        return risk, None
    if annotations.get("destructiveHint") is True and risk is not RiskLevel.DANGER:
        return RiskLevel.DANGER, "danger: the server marks this tool destructive"
    if annotations.get("readOnlyHint") is False and risk is RiskLevel.READ:
        return RiskLevel.WRITE, "write: the server says this tool is not read-only"
    return risk, None


def hints_of(tool: Tool) -> tuple[str, ...]:
    """The server's annotations as words: ``read-only``, ``destructive``, ``idempotent``,
    ``open-world`` (and their negations where the server says so)."""
    words = {
        "readOnlyHint": ("read-only", "not read-only"),
        "destructiveHint": ("destructive", "not destructive"),
        "idempotentHint": ("idempotent", "not idempotent"),
        "openWorldHint": ("open-world", "closed-world"),
    }
    hints = []
    for key, (yes, no) in words.items():
        value = tool.annotations.get(key)
        if isinstance(value, bool):
            hints.append(yes if value else no)
    return tuple(hints)


def _summary_of(manifest: Manifest, tool_name: str, tool: Tool | None) -> str:
    description = (tool.description if tool is not None else "").strip()
    if description:
        first = description.splitlines()[0].strip()
        return first if len(first) <= 200 else first[:197] + "..."
    return f"Tool {tool_name} of MCP server {manifest.name}"
