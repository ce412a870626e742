"""The plugin host: discovered plugins, their lifecycle, and their commands in the registry.

Commands are registered from manifests at discovery, before any process starts, so
``logomesh commands`` lists them and ``logomesh run todos.find`` starts only the plugin it
needs. A plugin's command is an ordinary :class:`CommandSpec` whose ``prepare`` starts the
plugin and swaps in the argument model built from the tool's input schema; after that it is
authorised, confirmed, timed out and audited like a built-in, with the plugin named in the
audit record.

Lifecycle: discovered -> validated -> starting -> active -> stopping -> stopped, or failed
(with the reason). A plugin that exits on its own is restarted with exponential backoff and
disabled after ``plugins.max_restarts`` crashes. Every change is published as a
:class:`PluginStateChanged` event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from logomesh.commands.models import CommandContext, CommandOutput, CommandSpec
from logomesh.errors import LogoMeshError, PluginConflictError, PluginError
from logomesh.events import Event
from logomesh.plugins.arguments import PluginArguments, model_for
from logomesh.plugins.discovery import Discovered, discover
from logomesh.plugins.manifest import CommandContribution, Manifest
from logomesh.plugins.process import Handlers, PluginProcess, Tool
from logomesh.plugins.sandbox import launch_spec

if TYPE_CHECKING:
    from logomesh.engine import Engine

logger = logging.getLogger(__name__)


class PluginState(StrEnum):
    DISCOVERED = "discovered"
    VALIDATED = "validated"
    STARTING = "starting"
    ACTIVE = "active"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class PluginStateChanged(Event):
    plugin: str
    state: str
    error: str | None = None


@dataclass
class Plugin:
    """One plugin as the host sees it (mutable: its state changes over its life)."""

    found: Discovered
    state: PluginState
    error: str | None = None
    process: PluginProcess | None = None
    tools: dict[str, Tool] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    crashes: int = 0
    warnings: tuple[str, ...] = ()
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return self.found.name

    @property
    def manifest(self) -> Manifest:
        assert self.found.manifest is not None
        return self.found.manifest

    def describe(self) -> dict[str, Any]:
        manifest = self.found.manifest
        return {
            "name": self.name,
            "runtime": str(manifest.runtime) if manifest else None,
            "version": manifest.version if manifest else None,
            "state": str(self.state),
            "error": self.error,
            "source": self.found.source,
            "folder": str(self.found.folder) if self.found.folder else None,
            "commands": list(self.commands),
            "pid": self.process.pid if self.process and self.process.running else None,
            "crashes": self.crashes,
            "warnings": list(self.warnings),
        }


class PluginHost:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.settings = engine.settings.plugins
        self.plugins: dict[str, Plugin] = {}
        self._discovered = False
        self._guard = threading.Lock()

    # -- discovery and registration --------------------------------------------------------

    def discover(self) -> None:
        """Read every manifest and register the commands they declare (idempotent)."""
        with self._guard:
            if self._discovered or not self.settings.enabled:
                return
            self._discovered = True
            for found in discover(self.engine.settings):
                plugin = Plugin(found, PluginState.DISCOVERED)
                self.plugins.setdefault(found.name, plugin)
                if found.error is not None:
                    self._fail(plugin, found.error.user_message)
                    continue
                self._set(plugin, PluginState.VALIDATED)
                if found.name in self.settings.disabled:
                    self._set(plugin, PluginState.DISABLED, "disabled in plugins.disabled")
                    continue
                self._register(plugin)

    def _register(self, plugin: Plugin) -> None:
        manifest = plugin.manifest
        claimed = [c.name for c in manifest.contributes.commands if c.name in self.engine.registry]
        if claimed:
            owners = ", ".join(
                f"{name} (from {self.engine.registry.get(name).provider or 'LogoMesh'})"
                for name in claimed
            )
            error = PluginConflictError(
                f"Plugin {plugin.name} declares commands that already exist: {owners}. Rename "
                f"them in {plugin.found.folder}/logomesh-plugin.toml; the plugin is not loaded."
            )
            self._fail(plugin, error.user_message)
            return
        for contribution in manifest.contributes.commands:
            self.engine.registry.register(self._spec(plugin, contribution, PluginArguments))
            plugin.commands.append(contribution.name)

    def _spec(
        self, plugin: Plugin, contribution: CommandContribution, model: type[BaseModel]
    ) -> CommandSpec:
        manifest = plugin.manifest
        return CommandSpec(
            name=contribution.name,
            summary=contribution.summary,
            args_model=model,
            permission=manifest.permission_for(contribution),
            risk=contribution.risk,
            handler=self._handler(plugin.name, contribution.name),
            examples=contribution.examples,
            timeout_s=contribution.timeout_s or manifest.limits.call_timeout_s,
            prepare=self._preparer(plugin.name, contribution.name),
            provider=f"plugin {plugin.name}",
        )

    def _preparer(self, plugin_name: str, command: str) -> Callable[[], Awaitable[CommandSpec]]:
        async def prepare() -> CommandSpec:
            await asyncio.to_thread(self.ensure_started, plugin_name)
            return self.engine.registry.get(command)  # now with the tool's argument model

        return prepare

    def _handler(self, plugin_name: str, command: str) -> Callable[..., Awaitable[CommandOutput]]:
        async def handle(ctx: CommandContext, args: BaseModel) -> CommandOutput:
            plugin = self.plugins[plugin_name]
            process = plugin.process
            if process is None or plugin.state is not PluginState.ACTIVE:
                raise PluginError(f"Plugin {plugin_name} is {plugin.state}: {plugin.error or ''}")

            def progress(done: float, total: float | None, message: str | None) -> None:
                fraction = done / total if total else None
                coroutine = ctx.progress(message or f"{plugin_name}: {done:g}", fraction)
                asyncio.run_coroutine_threadsafe(coroutine, loop)

            loop = asyncio.get_running_loop()
            arguments = args.model_dump(mode="json", exclude_unset=True)
            result = await process.call_tool(
                command,
                arguments,
                timeout_s=ctx.request.timeout_s or plugin.manifest.limits.call_timeout_s,
                on_progress=progress,
            )
            details = {"plugin": plugin_name, "plugin_version": plugin.manifest.version}
            if result.is_error:
                raise PluginError(
                    result.text or f"{command} failed in plugin {plugin_name}.",
                    code="plugin.command_failed",
                )
            return CommandOutput(
                data=result.data,
                message=result.text if result.data is None else _summary(command, result.data),
                audit_details=details,
            )

        return handle

    # -- lifecycle -------------------------------------------------------------------------

    def ensure_started(self, name: str) -> Plugin:
        """Start the plugin if it is not running; raise PluginError saying why it cannot."""
        self.discover()
        plugin = self.plugins.get(name)
        if plugin is None:
            raise PluginError(f"No plugin named {name!r}. Run `logomesh plugin list`.")
        with plugin.lock:
            if plugin.state is PluginState.ACTIVE and plugin.process and plugin.process.running:
                return plugin
            if plugin.state is PluginState.DISABLED or plugin.found.manifest is None:
                raise PluginError(f"Plugin {name} is {plugin.state}: {plugin.error}")
            self._start(plugin)
        return plugin

    def start_all(self) -> None:
        """Start every enabled, valid plugin, several at a time."""
        self.discover()
        names = [p.name for p in self.plugins.values() if p.state is PluginState.VALIDATED]
        threads = [threading.Thread(target=self._start_quietly, args=(name,)) for name in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _start_quietly(self, name: str) -> None:
        with contextlib.suppress(LogoMeshError):  # its state and error say what happened
            self.ensure_started(name)

    def _start(self, plugin: Plugin) -> None:
        manifest = plugin.manifest
        folder = plugin.found.folder or self.engine.settings.workspace
        spec = launch_spec(manifest, folder, self.engine.settings.workspace)
        plugin.warnings = tuple(f"not available here: {what}" for what in spec.missing)
        for warning in plugin.warnings:
            logger.warning("plugin %s: %s", plugin.name, warning)
        process = PluginProcess(
            plugin.name,
            spec,
            Handlers(
                request=lambda method, params: self._plugin_request(plugin, method, params),
                notification=lambda method, params: self._plugin_notified(plugin, method, params),
                exited=lambda reason: self._exited(plugin, reason),
            ),
            self.settings.max_message_bytes,
        )
        self._set(plugin, PluginState.STARTING)
        plugin.process = process
        try:
            tools = process.start(self.settings.start_timeout_s)
        except LogoMeshError as exc:
            process.stop(0)
            self._fail(plugin, exc.user_message)
            raise
        self._adopt_tools(plugin, tools)
        self._set(plugin, PluginState.ACTIVE)

    def _adopt_tools(self, plugin: Plugin, tools: list[Tool]) -> None:
        """Give each declared command the argument model of the tool that serves it."""
        plugin.tools = {tool.name: tool for tool in tools}
        for contribution in plugin.manifest.contributes.commands:
            tool = plugin.tools.get(contribution.name)
            model = model_for(contribution.name, tool.input_schema) if tool else PluginArguments
            spec = self._spec(plugin, contribution, model)
            self.engine.registry.replace(replace(spec, prepare=None))
        undeclared = sorted(set(plugin.tools) - set(plugin.commands))
        if undeclared:
            logger.info("plugin %s serves undeclared tools, ignored: %s", plugin.name, undeclared)

    def stop(self, name: str) -> None:
        plugin = self.plugins.get(name)
        if plugin is None or plugin.process is None:
            return
        with plugin.lock:
            self._set(plugin, PluginState.STOPPING)
            plugin.process.stop(self.settings.stop_grace_s)
            self._restore_lazy_specs(plugin)
            self._set(plugin, PluginState.STOPPED)

    def stop_all(self) -> None:
        threads = [
            threading.Thread(target=self.stop, args=(name,))
            for name, plugin in self.plugins.items()
            if plugin.process is not None and plugin.process.running
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _restore_lazy_specs(self, plugin: Plugin) -> None:
        for contribution in plugin.manifest.contributes.commands:
            if contribution.name in self.engine.registry:
                self.engine.registry.replace(self._spec(plugin, contribution, PluginArguments))

    def _exited(self, plugin: Plugin, reason: str | None) -> None:
        """The process ended without being asked to: restart it, with backoff, or give up."""
        plugin.crashes += 1
        process = plugin.process
        detail = process.exit_summary(reason) if process else (reason or "exited")
        self._fail(plugin, f"crashed: {detail}")
        self._restore_lazy_specs(plugin)
        if plugin.crashes > self.settings.max_restarts:
            self._set(
                plugin,
                PluginState.DISABLED,
                f"disabled after {plugin.crashes} crashes; last: {detail}",
            )
            return
        delay = self.settings.restart_backoff_s * 2 ** (plugin.crashes - 1)
        timer = threading.Timer(delay, self._start_quietly, args=(plugin.name,))
        timer.daemon = True
        timer.start()

    # -- what plugins ask of the host ------------------------------------------------------

    def _plugin_request(self, plugin: Plugin, method: str, params: dict[str, Any]) -> Any:
        from logomesh.plugins.bridge import answer_request

        return answer_request(self, plugin, method, params)

    def _plugin_notified(self, plugin: Plugin, method: str, params: dict[str, Any]) -> None:
        from logomesh.plugins.bridge import take_notification

        take_notification(self, plugin, method, params)

    # -- state -----------------------------------------------------------------------------

    def _set(self, plugin: Plugin, state: PluginState, error: str | None = None) -> None:
        plugin.state = state
        if error is not None or state is not PluginState.FAILED:
            plugin.error = error if state in (PluginState.FAILED, PluginState.DISABLED) else None
        self._publish(PluginStateChanged("", plugin.name, str(state), plugin.error))

    def _fail(self, plugin: Plugin, error: str) -> None:
        logger.warning("plugin %s failed: %s", plugin.name, error)
        if plugin.state is PluginState.DISABLED:
            return  # disabled stays disabled, with the reason it was given
        self._set(plugin, PluginState.FAILED, error)

    def _publish(self, event: Event) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            asyncio.run(self.engine.events.publish(event))
            return
        # Inside a loop (a handler): deliver without awaiting, from a fresh loop in a thread.
        threading.Thread(
            target=lambda: asyncio.run(self.engine.events.publish(event)), daemon=True
        ).start()

    def describe(self) -> list[dict[str, Any]]:
        self.discover()
        return [plugin.describe() for plugin in sorted(self.plugins.values(), key=_by_name)]


def _by_name(plugin: Plugin) -> str:
    return plugin.name


def _summary(command: str, data: Any) -> str:
    if isinstance(data, list):
        return f"{command}: {len(data)} results."
    if isinstance(data, dict) and isinstance(data.get("summary"), str):
        return str(data["summary"])
    return f"{command} done."
