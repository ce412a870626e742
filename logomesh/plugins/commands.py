"""Commands to see and steer plugins: list, start, stop."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, ConfigDict, Field

from logomesh.commands.models import CommandContext, CommandOutput
from logomesh.commands.registry import command
from logomesh.config import RiskLevel


class ListArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: bool = Field(default=True, description="Start enabled plugins first, to show them live.")


@command(
    "plugin.list",
    summary="List plugins with their runtime, version, state and error",
    permission="plugin.read",
    risk=RiskLevel.READ,
    examples=("which plugins are loaded", "list the plugins", "show plugin status"),
)
async def plugin_list(ctx: CommandContext, args: ListArgs) -> CommandOutput:
    host = ctx.engine.plugins
    if args.start:
        await asyncio.to_thread(host.start_all)
    rows = host.describe()
    active = sum(1 for row in rows if row["state"] == "active")
    failed = [row["name"] for row in rows if row["state"] in ("failed", "disabled")]
    message = f"{len(rows)} plugins, {active} active." + (
        f" Not running: {', '.join(failed)}." if failed else ""
    )
    return CommandOutput(data=rows, message=message)


class NameArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)


@command(
    "plugin.start",
    summary="Start (or restart) a plugin",
    permission="plugin.manage",
    risk=RiskLevel.WRITE,
    examples=("start the plugin", "restart a plugin"),
)
async def plugin_start(ctx: CommandContext, args: NameArgs) -> CommandOutput:
    host = ctx.engine.plugins
    await asyncio.to_thread(host.stop, args.name)
    plugin = await asyncio.to_thread(host.ensure_started, args.name)
    return CommandOutput(data=plugin.describe(), message=f"Plugin {args.name} is {plugin.state}.")


@command(
    "plugin.stop",
    summary="Stop a running plugin",
    permission="plugin.manage",
    risk=RiskLevel.WRITE,
    examples=("stop the plugin", "shut down a plugin"),
)
async def plugin_stop(ctx: CommandContext, args: NameArgs) -> CommandOutput:
    host = ctx.engine.plugins
    await asyncio.to_thread(host.stop, args.name)
    return CommandOutput(message=f"Plugin {args.name} is stopped.")


PLUGIN_COMMANDS = (plugin_list, plugin_start, plugin_stop)
