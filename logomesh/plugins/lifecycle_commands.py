"""Commands that change one plugin's state by name: start, stop, enable, disable, reload,
unload. They differ only in what they ask of the host and what they say, so each is a row
of a table rather than a hand-written handler.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from logomesh.commands.models import CommandContext, CommandOutput, CommandSpec
from logomesh.commands.registry import command
from logomesh.commands.values import RiskLevel

if TYPE_CHECKING:
    from logomesh.plugins.host import PluginHost
    from logomesh.plugins.plugin import Plugin


class NameArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)


Act = Callable[["PluginHost", str, str], "Plugin | None"]


@dataclass(frozen=True)
class _Change:
    command: str
    summary: str
    examples: tuple[str, ...]
    act: Act  # (host, plugin name, who asks) -> the plugin, if it is still there
    done: str  # the message; {name} and {state} are filled in


def _restart(host: PluginHost, name: str, _who: str) -> Plugin:
    host.stop(name)
    return host.ensure_started(name)


_CHANGES = (
    _Change("plugin.start", "Start (or restart) a plugin", ("start the plugin", "restart a plugin"),
            _restart, "Plugin {name} is {state}."),
    _Change("plugin.stop", "Stop a running plugin", ("stop the plugin", "shut down a plugin"),
            lambda host, name, _: host.stop(name), "Plugin {name} is stopped."),
    _Change("plugin.enable", "Enable a disabled plugin and start it",
            ("enable the plugin", "turn the plugin back on"),
            lambda host, name, _: host.enable(name), "Plugin {name} is {state}."),
    _Change("plugin.disable", "Stop a plugin and keep it off until it is enabled again",
            ("disable the plugin", "turn off a plugin"),
            lambda host, name, who: host.disable(name, who),
            "Plugin {name} is disabled; `logomesh plugin enable {name}` undoes it."),
    _Change("plugin.reload", "Re-read a plugin's manifest and restart it with its current code",
            ("reload the plugin", "pick up my plugin changes"),
            lambda host, name, _: host.reload(name), "Plugin {name} is {state}."),
    _Change("plugin.unload", "Stop a plugin and remove its commands until the next start",
            ("unload the plugin",),
            lambda host, name, _: host.unload(name),
            "Plugin {name} is unloaded; its commands are gone."),
)  # fmt: skip


def _declare(change: _Change) -> CommandSpec:
    async def handle(ctx: CommandContext, args: NameArgs) -> CommandOutput:
        host, who = ctx.engine.plugins, ctx.identity.name
        plugin = await asyncio.to_thread(change.act, host, args.name, who)
        state = plugin.state if plugin is not None else ""
        return CommandOutput(
            data=plugin.describe() if plugin is not None else None,
            message=change.done.format(name=args.name, state=state),
        )

    return command(
        change.command,
        summary=change.summary,
        permission="plugin.manage",
        risk=RiskLevel.WRITE,
        examples=change.examples,
    )(handle)


LIFECYCLE_COMMANDS: tuple[CommandSpec, ...] = tuple(_declare(change) for change in _CHANGES)
