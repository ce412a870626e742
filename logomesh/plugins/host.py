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

At run time a plugin can be disabled and enabled, unloaded (its commands go) and loaded from
a folder, and reloaded: its manifest is read again (commands added, removed or changed) and
its process restarted, after the calls in flight had ``plugins.stop_grace_s`` to finish (the
rest fail saying the plugin was reloaded). :meth:`PluginHost.watch` reloads a plugin whenever
a file in its folder changes (:mod:`logomesh.plugins.reload`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from logomesh.errors import (
    LogoMeshError,
    PluginConflictError,
    PluginError,
    PluginManifestError,
)
from logomesh.events import Event
from logomesh.plugins.binder import CommandBinder
from logomesh.plugins.calls import PluginCommands, refusal
from logomesh.plugins.children import Children
from logomesh.plugins.discovery import discover, read_folder
from logomesh.plugins.manifest import MANIFEST_FILE
from logomesh.plugins.plugin import (
    Plugin,
    PluginState,
    PluginStateChanged,
    PluginStatsSampled,
)
from logomesh.plugins.process import PluginProcess
from logomesh.plugins.sandbox import launch_spec
from logomesh.plugins.session import Handlers, McpSession
from logomesh.plugins.watchdog import ProcessWatchdog

if TYPE_CHECKING:
    from logomesh.engine import Engine
    from logomesh.plugins.reload import PluginWatcher

logger = logging.getLogger(__name__)


class PluginHost:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.settings = engine.settings.plugins
        self.plugins: dict[str, Plugin] = {}
        self.calls = PluginCommands(self)
        self.binder = CommandBinder(self)
        self._discovered = False
        self._guard = threading.Lock()
        self._watcher: PluginWatcher | None = None
        self._watchdog = ProcessWatchdog(lambda: list(self.plugins.values()), self._forked_too_much)
        self._closing = threading.Event()
        self._children = Children()  # every process started, so closing stops them all
        # Processes a reload is starting: a crash at start is the reload's failure, not
        # restarted (the pipe closes before the exit is reported, so this is per process).
        self._no_restart: weakref.WeakSet[McpSession] = weakref.WeakSet()

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
                self._admit(plugin)

    def _admit(self, plugin: Plugin) -> None:
        """Validate and register a plugin just found (at discovery or by ``load``)."""
        found = plugin.found
        if found.error is not None:
            self.mark_failed(plugin, found.error.user_message)
            return
        self.set_state(plugin, PluginState.VALIDATED)
        if found.name in self.settings.disabled:
            plugin.user_disabled = True
            self.set_state(plugin, PluginState.DISABLED, "disabled in plugins.disabled")
            return
        self._register(plugin)

    def _register(self, plugin: Plugin) -> None:
        manifest = plugin.manifest
        claimed = self.binder.clash_of(plugin, manifest)
        if claimed is not None:
            plugin.found = replace(plugin.found, error=claimed)  # never started while it clashes
            self.mark_failed(plugin, claimed.user_message)
            return
        plugin.found = replace(plugin.found, error=None)
        # The tools it listed when it last ran: with expose = "all", commands before it starts.
        self.binder.sync_commands(plugin, self.binder.bind_known(plugin))

    # -- lifecycle -------------------------------------------------------------------------

    def ensure_started(self, name: str) -> Plugin:
        """Start the plugin if it is not running; raise PluginError saying why it cannot."""
        self.discover()
        plugin = self.get(name)
        with plugin.lock:
            if self.plugins.get(name) is not plugin:
                raise PluginError(f"Plugin {name} was unloaded.")
            if plugin.state is PluginState.ACTIVE and plugin.process and plugin.process.running:
                return plugin
            if plugin.state is PluginState.DISABLED or plugin.found.manifest is None:
                raise refusal(plugin)
            if plugin.found.error is not None:
                if plugin.state is not PluginState.FAILED:
                    self.mark_failed(plugin, plugin.found.error.user_message)
                raise refusal(plugin)
            self.start_process(plugin)
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

    def start_process(self, plugin: Plugin, *, restart_on_crash: bool = True) -> None:
        if self._children.closed:  # checked again, under a lock, at the spawn itself
            raise PluginError(f"Plugin {plugin.name} was not started: LogoMesh is shutting down.")
        process = self._server_for(plugin)
        if not restart_on_crash:
            self._no_restart.add(process)
        self.set_state(plugin, PluginState.STARTING)
        plugin.process = process
        try:
            self._children.spawn(process)
            tools = process.start(self.settings.start_timeout_s)
        except LogoMeshError as exc:
            process.stop(0)
            self.mark_failed(plugin, exc.user_message)
            raise
        self._no_restart.discard(process)
        self.binder.adopt_tools(plugin, tools)
        plugin.revive = False
        self.set_state(plugin, PluginState.ACTIVE)

    def _server_for(self, plugin: Plugin) -> McpSession:
        """A local process, sandboxed, or (for a ``url``) a session with a remote server."""
        manifest = plugin.manifest
        handlers = Handlers(
            request=lambda method, params: self._plugin_request(plugin, method, params),
            notification=lambda method, params: self._plugin_notified(plugin, method, params),
            exited=lambda reason: self._exited(plugin, server, reason),
        )
        server: McpSession
        if manifest.remote:
            from logomesh.plugins.remote import RemoteServer  # httpx only when one is mounted

            plugin.warnings = ()
            server = RemoteServer(
                plugin.name,
                manifest,
                handlers,
                self.settings.max_message_bytes,
                connect_timeout_s=self.settings.start_timeout_s,
            )
            return server
        folder = plugin.found.folder or self.engine.settings.workspace
        workspace = self.engine.settings.workspace
        mounted = plugin.found.source == "config"  # [[plugins.mcp]]: paths mean the workspace's
        spec = launch_spec(manifest, folder, workspace, cwd=workspace if mounted else None)
        plugin.warnings = tuple(f"not available here: {what}" for what in spec.missing)
        for warning in plugin.warnings:
            logger.warning("plugin %s: %s", plugin.name, warning)
        self._watchdog.start()
        server = PluginProcess(plugin.name, spec, handlers, self.settings.max_message_bytes)
        return server

    def stop(self, name: str) -> None:
        plugin = self.plugins.get(name)
        if plugin is None or plugin.process is None:
            return
        with plugin.lock:
            plugin.revive = False
            self.halt(plugin, "stopped")

    def stop_all(self) -> None:
        """Stop every plugin and every process this host started, for good: from here on
        no restart runs and no spawn happens (one under way is registered, and stopped)."""
        self.unwatch()
        self._closing.set()
        self._children.close()
        # A start in its handshake holds its plugin's lock: end it so the stops below run.
        self._children.stop_starting(0)
        threads = [
            threading.Thread(target=self.stop, args=(name,))
            for name, plugin in list(self.plugins.items())
            if plugin.process is not None and plugin.process.running
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self._children.stop_all(self.settings.stop_grace_s)  # old or orphaned processes
        self._watchdog.stop()

    def _forked_too_much(self, watched: object, count: int, refused: bool) -> None:
        """The watchdog saw the kernel refuse a fork at the limit, or counted past it."""
        plugin = self.plugins.get(getattr(watched, "name", ""))
        if plugin is None or plugin.process is None:
            return
        limit = plugin.manifest.limits.processes
        if refused:
            reason = (
                f"tried to run more than its limit of {limit} processes (limits.processes); "
                "the kernel refused the fork (pids cgroup)"
            )
        else:
            plugin.process.peak_processes = count
            reason = (
                f"started {count} processes, more than its limit of {limit} processes "
                "(limits.processes)"
            )
        logger.warning("plugin %s %s; stopping it", plugin.name, reason)
        plugin.process.terminate(reason)

    def close(self) -> None:
        """Stop watching and stop every plugin (what ``Engine.close`` needs)."""
        self.stop_all()

    def halt(self, plugin: Plugin, why: str) -> None:
        """Stop the process (caller holds ``plugin.lock``): the calls in flight get
        ``plugins.stop_grace_s`` to finish, the rest are cancelled, failing with ``why``."""
        process = plugin.process
        if process is None:
            return
        self.set_state(plugin, PluginState.STOPPING)
        self.calls.drain(plugin, why, self.settings.stop_grace_s)
        process.stop(self.settings.stop_grace_s)
        self.binder.restore_lazy_specs(plugin)
        self.set_state(plugin, PluginState.STOPPED)

    def _exited(self, plugin: Plugin, process: McpSession, reason: str | None) -> None:
        """The process ended without being asked to: restart it, with backoff, or give up."""
        if process is not plugin.process or process in self._no_restart:
            return  # an old one, or a reload's new version failing at start (reload says so)
        detail = process.exit_summary(reason)
        plugin.crashes += 1
        plugin.revive = True
        self.mark_failed(plugin, f"crashed: {detail}")
        self.binder.restore_lazy_specs(plugin)
        if plugin.crashes > self.settings.max_restarts:
            self.set_state(
                plugin,
                PluginState.DISABLED,
                f"disabled after {plugin.crashes} crashes; last: {detail}",
            )
            return
        delay = self.settings.restart_backoff_s * 2 ** (plugin.crashes - 1)
        self._children.later(delay, self._start_quietly, plugin.name)  # not once closed

    # -- at run time: disable, enable, unload, load, reload ---------------------------------

    def disable(self, name: str, reason: str = "the user") -> None:
        """Stop the plugin and keep it stopped; its commands refuse, naming ``enable``."""
        plugin = self.get(name)
        with plugin.lock:
            self.halt(plugin, "disabled")
            plugin.user_disabled = True
            plugin.revive = False
            self.set_state(plugin, PluginState.DISABLED, f"disabled by {reason}")

    def enable(self, name: str) -> Plugin:
        """Undo ``disable`` (or a disabling after crashes, or ``plugins.disabled``); start it."""
        plugin = self.get(name)
        with plugin.lock:
            if plugin.state is PluginState.DISABLED:
                plugin.user_disabled = False
                plugin.crashes = 0
                self.set_state(plugin, PluginState.VALIDATED)
            if not plugin.commands and plugin.found.manifest is not None:
                self._register(plugin)  # never registered: disabled in config, or it clashed
        return self.ensure_started(name)

    def unload(self, name: str) -> None:
        """Stop the plugin and remove it and its commands (``load`` brings it back)."""
        plugin = self.get(name)
        with plugin.lock:
            self.halt(plugin, "unloaded")
            plugin.revive = False
            for command in plugin.commands:
                self.engine.registry.unregister(command)
            plugin.commands = []
            with self._guard:
                if self.plugins.get(name) is plugin:
                    del self.plugins[name]
        self._publish(PluginStateChanged("", name, "unloaded"))
        self._folders_changed()

    def load(self, folder: Path) -> Plugin:
        """Add the plugin in ``folder`` at run time and register its commands (nothing
        starts). An invalid manifest or a command clash is recorded like discovery does (the
        plugin is listed, failed, with the reason) and raised."""
        self.discover()
        if not self.settings.enabled:
            raise PluginError("Plugins are turned off here (`plugins.enabled = false`).")
        folder = folder.expanduser().resolve()
        if not (folder / MANIFEST_FILE).is_file():
            raise PluginManifestError(
                f"{folder} holds no {MANIFEST_FILE}; a plugin's folder holds its manifest "
                "(docs/plugins.md)."
            )
        found = read_folder(folder, "loaded")
        with self._guard:
            existing = self.plugins.get(found.name)
            if existing is not None:
                where = existing.found.folder or existing.found.source
                raise PluginConflictError(
                    f"A plugin named {found.name!r} is already loaded (from {where}). Reload it, "
                    f"or unload it first (`logomesh plugin unload {found.name}`)."
                )
            plugin = Plugin(found, PluginState.DISCOVERED)
            self.plugins[found.name] = plugin
        with plugin.lock:
            self._admit(plugin)
        self._folders_changed()
        if plugin.found.error is not None:
            raise type(plugin.found.error)(plugin.found.error.user_message)
        return plugin

    def reload(self, name: str, *, start: bool = True) -> Plugin:
        """Read the plugin's manifest again and restart it (see :mod:`~.reloading`)."""
        from logomesh.plugins.reloading import reload

        return reload(self, name, start=start)

    # -- hot reload ------------------------------------------------------------------------

    def watch(self) -> PluginWatcher:
        """Reload plugins when their files change (see :mod:`logomesh.plugins.reload`)."""
        from logomesh.plugins.reload import PluginWatcher

        self.discover()
        with self._guard:
            if self._watcher is None:
                self._watcher = PluginWatcher(self)
            watcher = self._watcher
        watcher.start()
        return watcher

    def serve_in_background(self) -> None:
        """For long-lived adapters (the shell, the editor, bots): start every enabled plugin
        without holding up the adapter, and reload plugins as their files change."""
        if not self.settings.enabled:
            return
        threading.Thread(target=self.start_all, name="plugins-start", daemon=True).start()
        if self.settings.watch:
            self.watch()
        if self.settings.stats_interval_s > 0:
            threading.Thread(target=self._sample_stats, name="plugins-stats", daemon=True).start()

    def _sample_stats(self) -> None:
        """Publish each running plugin's figures as a PluginStatsSampled event, periodically."""
        from logomesh.plugins.stats import plugin_stats

        while not self._closing.wait(self.settings.stats_interval_s):
            for plugin in list(self.plugins.values()):
                if plugin.group_leader() is not None:
                    self._publish(PluginStatsSampled("", plugin.name, plugin_stats(plugin)))

    def unwatch(self) -> None:
        with self._guard:
            watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()

    def _folders_changed(self) -> None:
        watcher = self._watcher
        if watcher is not None:
            watcher.refresh()

    # -- what plugins ask of the host ------------------------------------------------------

    def _plugin_request(self, plugin: Plugin, method: str, params: dict[str, Any]) -> Any:
        from logomesh.plugins.bridge import answer_request

        return answer_request(self, plugin, method, params)

    def _plugin_notified(self, plugin: Plugin, method: str, params: dict[str, Any]) -> None:
        from logomesh.plugins.bridge import take_notification

        take_notification(self, plugin, method, params)

    # -- state -----------------------------------------------------------------------------

    def get(self, name: str) -> Plugin:
        self.discover()
        plugin = self.plugins.get(name)
        if plugin is None:
            raise PluginError(f"No plugin named {name!r}. Run `logomesh plugin list`.")
        return plugin

    def set_state(self, plugin: Plugin, state: PluginState, error: str | None = None) -> None:
        # A failure is noticed twice (the exit, seen by the reader thread, and the start or
        # call it broke): the second notice may say it better, but it is the same failure.
        again = state is plugin.state
        plugin.state = state
        if error is not None or state is not PluginState.FAILED:
            plugin.error = error if state in (PluginState.FAILED, PluginState.DISABLED) else None
        self._publish(PluginStateChanged("", plugin.name, str(state), plugin.error))
        failed = state in (PluginState.FAILED, PluginState.DISABLED)
        if failed and not again and plugin.process is not None:
            # A plugin that ran and then failed (at start, in a crash, by a reload) is an
            # event of the system worth keeping; a manifest error is shown by `plugin list`.
            from logomesh.commands.values import Outcome
            from logomesh.plugins.bridge import audit_plugin

            audit_plugin(self, plugin, f"plugin.{state}", Outcome.ERROR, error=plugin.error)

    def mark_failed(self, plugin: Plugin, error: str) -> None:
        logger.warning("plugin %s failed: %s", plugin.name, error)
        if plugin.state is PluginState.DISABLED:
            return  # disabled stays disabled, with the reason it was given
        self.set_state(plugin, PluginState.FAILED, error)

    def _publish(self, event: Event) -> None:
        """Hand ``event`` to the bus from whichever thread changed the state: it reaches
        subscribers on the adapter's loop, in the order the changes happened."""
        self.engine.events.publish_threadsafe(event)

    def describe(self) -> list[dict[str, Any]]:
        self.discover()
        return [plugin.describe() for plugin in sorted(self.plugins.values(), key=_by_name)]


def _by_name(plugin: Plugin) -> str:
    return plugin.name
