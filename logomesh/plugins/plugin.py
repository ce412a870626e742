"""One plugin as the host sees it: its state, its process, its calls in flight, and the
events that report on it. Mutable by design: a plugin's state changes over its life, always
under the host's locks.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from logomesh.commands.values import Actor
from logomesh.events import Event
from logomesh.plugins.bindings import Bindings, Tool
from logomesh.plugins.discovery import Discovered
from logomesh.plugins.manifest import Manifest
from logomesh.plugins.session import McpSession, ToolResult


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


@dataclass(frozen=True, slots=True)
class PluginEventPublished(Event):
    """An event a plugin published (``logomesh/publish``) with the permission to, so the
    adapter's subscribers see it too, not only the plugins that subscribe to it."""

    plugin: str
    event: str
    data: Any = None


@dataclass(eq=False)
class InFlight:
    """One call into a plugin, counted so a reload can let it finish or cancel it."""

    loop: asyncio.AbstractEventLoop
    task: asyncio.Future[ToolResult]
    reason: str | None = None  # why the host cancelled it ("reloaded", "stopped", ...)
    # Who asked, so what the plugin does meanwhile (calls, sampling) acts for them.
    actor: Actor | None = None
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class PluginStatsSampled(Event):
    """A running plugin's figures (CPU, memory, calls, errors, latency), every
    ``plugins.stats_interval_s`` while a long-lived adapter serves plugins."""

    plugin: str
    stats: dict[str, Any]


@dataclass
class Plugin:
    """One plugin as the host sees it (mutable: its state changes over its life)."""

    found: Discovered
    state: PluginState
    error: str | None = None
    process: McpSession | None = None
    tools: dict[str, Tool] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    bindings: Bindings = field(default_factory=lambda: Bindings({}))
    crashes: int = 0
    warnings: tuple[str, ...] = ()
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Calls in flight, and the condition a reload waits on for them to drain.
    in_flight: set[InFlight] = field(default_factory=set)
    calls: threading.Condition = field(default_factory=threading.Condition)
    reloading: bool = False  # new calls wait for the new process
    user_disabled: bool = False  # disabled by someone (or plugins.disabled), not by crashes
    revive: bool = False  # not running, but not by choice: the next reload starts it

    @property
    def name(self) -> str:
        return self.found.name

    def group_leader(self) -> int | None:
        """The process group the watchdog counts (the plugin leads its own)."""
        process = self.process
        return process.pid if process is not None and process.running else None

    def process_limit(self) -> int:
        return self.manifest.limits.processes

    def refused_forks(self) -> int:
        """Forks the kernel refused at the limit (its pids cgroup), for the watchdog."""
        process = self.process
        return process.refused_forks() if process is not None else 0

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
            "in_flight": len(self.in_flight),
            "warnings": list(self.warnings),
            **self._server_facts(),
        }

    def _server_facts(self) -> dict[str, Any]:
        """What an MCP user needs to see: transport, agreed protocol, tools and hints."""
        manifest = self.found.manifest
        process = self.process
        tools = [
            {
                "tool": binding.tool,
                "command": command,
                "risk": str(binding.risk),
                "hints": list(binding.hints),
                **({"risk_note": binding.risk_note} if binding.risk_note else {}),
            }
            for command, binding in self.bindings.commands.items()
        ]
        return {
            "transport": "http" if manifest is not None and manifest.remote else "stdio",
            "url": manifest.url if manifest is not None else None,
            "network": bool(manifest is not None and manifest.permissions.network),
            "protocol_version": process.protocol_version if process is not None else None,
            "tools": tools,
            "hidden_tools": [hidden.to_dict() for hidden in self.bindings.hidden],
        }
