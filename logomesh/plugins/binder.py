"""The commands a plugin has in the registry: its manifest's, bound to the tools its
server lists (:mod:`.bindings`), kept in line as the server starts, stops and changes its
tool list.

Before a plugin starts, its commands are lazy: they take any arguments and their
``prepare`` starts it. Once it has listed its tools, each command takes the argument model
of the tool that serves it (its ``inputSchema``), and with ``expose = "all"`` the commands
follow the server's tools. A command another plugin (or LogoMesh) has is never touched.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from logomesh.commands.values import RiskLevel
from logomesh.errors import PluginConflictError
from logomesh.plugins.arguments import PluginArguments, model_for
from logomesh.plugins.bindings import Bindings, Tool, bind
from logomesh.plugins.manifest import MANIFEST_FILE, Expose, Manifest
from logomesh.plugins.plugin import Plugin
from logomesh.plugins.tool_cache import load_tools, save_tools

if TYPE_CHECKING:
    from logomesh.plugins.host import PluginHost

logger = logging.getLogger(__name__)


class CommandBinder:
    def __init__(self, host: PluginHost) -> None:
        self.host = host

    def bind_known(self, plugin: Plugin) -> Bindings:
        """The plugin's commands from its manifest and the tools last known: its live ones,
        or the ones it listed when it last ran (so expose = "all" has commands unstarted)."""
        tools = list(plugin.tools.values()) if plugin.tools else None
        if tools is None:
            tools = load_tools(self.host.engine.settings.workspace, plugin.manifest)
        return self._bind(plugin, plugin.manifest, tools)

    def _bind(self, plugin: Plugin, manifest: Manifest, tools: list[Tool] | None) -> Bindings:
        return bind(manifest, tools, lambda command: self._owner(plugin, command))

    def _owner(self, plugin: Plugin, command: str) -> str | None:
        """Who has ``command``, if not ``plugin``."""
        if command not in self.host.engine.registry or command in plugin.commands:
            return None
        return self.host.engine.registry.get(command).provider or "LogoMesh"

    def sync_commands(self, plugin: Plugin, bindings: Bindings, tools: bool = False) -> None:
        """Make the registry hold exactly ``bindings``' commands for ``plugin``: lazy specs
        (they start the plugin), or with ``tools`` the argument models of its live tools."""
        for command in plugin.commands:
            if command not in bindings.commands and command in self.host.engine.registry:
                self.host.engine.registry.unregister(command)
        for command, binding in bindings.commands.items():
            spec = self.host.calls.spec(plugin, binding, PluginArguments)
            tool = plugin.tools.get(binding.tool) if tools else None
            if tool is not None:
                model = model_for(command, tool.input_schema)
                spec = replace(self.host.calls.spec(plugin, binding, model), prepare=None)
            if command in plugin.commands:
                self.host.engine.registry.replace(spec)
            else:
                self.host.engine.registry.register(spec)
        plugin.bindings = bindings
        plugin.commands = list(bindings.commands)

    def unlisted_server_for(self, command: str) -> tuple[str, str, RiskLevel] | None:
        """The plugin whose server may serve ``command`` though it is not registered: one
        with expose = "all" whose tools are not known yet. Its name, the permission of its
        unlisted commands and their least risk."""
        self.host.discover()
        plugin = self.host.plugins.get(command.split(".", 1)[0])
        if plugin is None or plugin.found.manifest is None or plugin.tools:
            return None
        manifest = plugin.manifest
        if manifest.expose is not Expose.ALL or manifest.default_risk is None:
            return None
        return plugin.name, f"plugin.{plugin.name}", manifest.default_risk

    def clash_of(self, plugin: Plugin, manifest: Manifest) -> PluginConflictError | None:
        """The error if ``manifest`` lists a command someone else (not ``plugin``) has."""
        listed = [manifest.command_name(c) for c in manifest.contributes.commands]
        claimed = [name for name in listed if self._owner(plugin, name) is not None]
        if not claimed:
            return None
        owners = ", ".join(f"{name} (from {self._owner(plugin, name)})" for name in claimed)
        folder = plugin.found.folder if plugin.found.source != "config" else None
        where = folder / MANIFEST_FILE if folder is not None else None
        return PluginConflictError(
            f"Plugin {plugin.name} declares commands that already exist: {owners}. Rename "
            f"them (`name` under contributes.commands) in {where or 'its [[plugins.mcp]] table'}"
            "; the plugin is not loaded."
        )

    def adopt_tools(self, plugin: Plugin, tools: list[Tool]) -> None:
        """Bind the server's tools (at start, and when it says its list changed): each
        command gets the argument model of the tool that serves it; with expose = "all"
        tools that came are added and tools that went are removed. A change is audited."""
        manifest = plugin.manifest
        before = set(plugin.tools) if plugin.tools else _names(load_tools(
            self.host.engine.settings.workspace, manifest))  # fmt: skip
        plugin.tools = {tool.name: tool for tool in tools}
        self.sync_commands(plugin, self._bind(plugin, manifest, tools), tools=True)
        process = plugin.process
        version = process.protocol_version if process is not None else None
        save_tools(self.host.engine.settings.workspace, manifest, tools, version)
        added, removed = sorted(set(plugin.tools) - before), sorted(before - set(plugin.tools))
        if before and (added or removed):
            from logomesh.commands.values import Outcome
            from logomesh.plugins.bridge import audit_plugin

            audit_plugin(self.host, plugin, "plugin.tools_changed", Outcome.OK, details={
                "added": added, "removed": removed, "commands": plugin.commands})  # fmt: skip
        for hidden in plugin.bindings.hidden:
            logger.info("plugin %s: tool %s is %s", plugin.name, hidden.tool, hidden.reason)

    def restore_lazy_specs(self, plugin: Plugin) -> None:
        """Its commands as before a start: they take any arguments and start it."""
        for command, binding in plugin.bindings.commands.items():
            if command in plugin.commands and command in self.host.engine.registry:
                self.host.engine.registry.replace(
                    self.host.calls.spec(plugin, binding, PluginArguments)
                )


def _names(tools: list[Tool] | None) -> set[str]:
    return {tool.name for tool in tools or ()}
