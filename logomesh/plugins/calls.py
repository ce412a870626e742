"""A plugin's commands: the spec registered for each, and the handler that calls its tool.

The spec's ``prepare`` starts the plugin on first use and returns the spec with the tool's
argument model (the engine authorises from the manifest's permission and risk first, so a
refused caller never starts it); the handler counts the call in flight (so a reload can let
it finish or cancel it), relays progress, and turns the tool's result into a command result.
If the plugin is being reloaded, a new call waits for the new process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from logomesh.commands.models import CommandContext, CommandOutput, CommandRequest, CommandSpec
from logomesh.errors import PluginCrashedError, PluginError
from logomesh.events import CommandProgress
from logomesh.plugins.bindings import Binding
from logomesh.plugins.plugin import InFlight, Plugin, PluginState
from logomesh.plugins.session import McpSession, ToolResult

if TYPE_CHECKING:
    from logomesh.plugins.host import PluginHost

logger = logging.getLogger(__name__)


class PluginCommands:
    def __init__(self, host: PluginHost) -> None:
        self.host = host

    @staticmethod
    def drain(plugin: Plugin, why: str, grace_s: float) -> None:
        """Give the calls in flight ``grace_s`` to finish, then cancel the rest: they fail
        saying the plugin was ``why`` (reloaded, stopped)."""
        with plugin.calls:
            if plugin.calls.wait_for(lambda: not plugin.in_flight, grace_s):
                return
            logger.info(
                "plugin %s %s with %d calls unfinished; cancelling them",
                plugin.name,
                why,
                len(plugin.in_flight),
            )
            for entry in plugin.in_flight:
                entry.reason = why
                with contextlib.suppress(RuntimeError):  # its loop has already closed
                    entry.loop.call_soon_threadsafe(entry.task.cancel)
            # Let the cancellations reach the plugin before its stdin closes.
            plugin.calls.wait_for(lambda: not plugin.in_flight, min(0.5, grace_s))

    def spec(self, plugin: Plugin, binding: Binding, model: type[BaseModel]) -> CommandSpec:
        manifest = plugin.manifest
        return CommandSpec(
            name=binding.command,
            summary=binding.summary,
            args_model=model,
            permission=binding.permission,
            risk=binding.risk,
            handler=self._handler(plugin.name, binding.command, binding.tool),
            examples=binding.examples,
            timeout_s=binding.timeout_s,
            prepare=self._preparer(plugin.name, binding.command),
            provider=f"plugin {plugin.name}",
            audit_details={
                "plugin": plugin.name,
                "plugin_version": manifest.version,
                **({"tool": binding.tool} if binding.tool != binding.command else {}),
            },
        )

    def _preparer(self, plugin_name: str, command: str) -> Callable[[], Awaitable[CommandSpec]]:
        async def prepare() -> CommandSpec:
            await asyncio.to_thread(self.host.ensure_started, plugin_name)
            return self.host.engine.registry.get(command)  # now with the tool's argument model

        return prepare

    def _handler(
        self, plugin_name: str, command: str, tool: str
    ) -> Callable[..., Awaitable[CommandOutput]]:
        async def handle(ctx: CommandContext, args: BaseModel) -> CommandOutput:
            def progress(done: float, total: float | None, message: str | None) -> None:
                # From the reader thread, queued at once: in order with the plugin's events.
                text = message or f"{plugin_name}: {done:g}"
                fraction = done / total if total else None
                ctx.engine.events.publish_threadsafe(
                    CommandProgress(ctx.request.correlation_id, ctx.request.command, text, fraction)
                )

            arguments = args.model_dump(mode="json", exclude_unset=True)

            def call(plugin: Plugin, process: McpSession) -> Awaitable[ToolResult]:
                if plugin.tools and tool not in plugin.tools:
                    raise _not_served(plugin, command, tool)
                return process.call_tool(
                    tool,
                    arguments,
                    timeout_s=ctx.request.timeout_s or plugin.manifest.limits.call_timeout_s,
                    on_progress=progress,
                )

            plugin, entry = await self._begin_call(plugin_name, call, ctx.request)
            try:
                result = await entry.task
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if entry.reason is None or (task is not None and task.cancelling()):
                    raise  # cancelled by the caller (a timeout, ^C), not by the host
                raise _cancelled_by_host(plugin_name, command, entry.reason) from None
            except PluginCrashedError as exc:
                if entry.reason is None:
                    raise
                raise _cancelled_by_host(plugin_name, command, entry.reason) from exc
            finally:
                with plugin.calls:
                    plugin.in_flight.discard(entry)
                    plugin.calls.notify_all()
            if entry.reason is not None:  # an answer that raced the host's cancellation
                raise _cancelled_by_host(plugin_name, command, entry.reason)
            if result.is_error:
                raise PluginError(
                    result.text or f"{command} failed in plugin {plugin_name}.",
                    code="plugin.command_failed",
                )
            return CommandOutput(
                data=result.data,
                message=result.text if result.data is None else _summary(command, result.data),
            )

        return handle

    async def _begin_call(
        self,
        name: str,
        call: Callable[[Plugin, McpSession], Awaitable[ToolResult]],
        request: CommandRequest,
    ) -> tuple[Plugin, InFlight]:
        """Start ``call`` on the plugin's live process, counted in flight; if the plugin is
        being reloaded (or stopped meanwhile), wait for it to be started again first."""
        for attempt in range(3):
            plugin = self.host.plugins.get(name)
            if plugin is None:
                raise PluginError(
                    f"Plugin {name} was unloaded. Load it again with `logomesh plugin load`."
                )
            with plugin.calls:
                process = plugin.process
                live = process is not None and process.running
                if live and plugin.state is PluginState.ACTIVE and not plugin.reloading:
                    assert process is not None
                    task = asyncio.ensure_future(call(plugin, process))
                    entry = InFlight(
                        asyncio.get_running_loop(), task, None, request.actor,
                        request.correlation_id,
                    )  # fmt: skip
                    plugin.in_flight.add(entry)
                    return plugin, entry
            if plugin.state is PluginState.DISABLED or attempt == 2:
                raise refusal(plugin)
            # Waits for a reload in progress (it holds the plugin's lock), or starts it again.
            await asyncio.to_thread(self.host.ensure_started, name)
        raise AssertionError("unreachable")


def refusal(plugin: Plugin) -> PluginError:
    """Why the plugin's commands cannot run now."""
    if plugin.state is PluginState.DISABLED:
        return PluginError(
            f"Plugin {plugin.name} is {plugin.error or 'disabled'}. Run "
            f"`logomesh plugin enable {plugin.name}` to turn it back on.",
            code="plugin.disabled",
        )
    error = plugin.error or (plugin.found.error.user_message if plugin.found.error else None)
    return PluginError(f"Plugin {plugin.name} is {plugin.state}: {error or ''}")


def _not_served(plugin: Plugin, command: str, tool: str) -> PluginError:
    offered = ", ".join(sorted(plugin.tools)) or "none"
    return PluginError(
        f"{command} calls tool {tool!r}, which plugin {plugin.name} does not offer now (it "
        f"offers: {offered}). Fix `tool` under contributes.commands, or update the server.",
        code="plugin.tool_missing",
    )


def _cancelled_by_host(plugin: str, command: str, why: str) -> PluginError:
    return PluginError(
        f"{command} did not finish: the plugin was {why} while it ran (plugin {plugin}, after "
        "plugins.stop_grace_s). Run it again.",
        code="plugin.cancelled",
    )


def _summary(command: str, data: Any) -> str:
    if isinstance(data, list):
        return f"{command}: {len(data)} results."
    if isinstance(data, dict) and isinstance(data.get("summary"), str):
        return str(data["summary"])
    return f"{command} done."
