"""Reloading a plugin: read its manifest again, bring its commands in line, restart it.

Used by ``logomesh plugin reload`` and by the file watcher (:mod:`logomesh.plugins.reload`).
The plugin's lock is held throughout and new calls wait (``plugin.reloading``), so a reload
never races a start, a stop or another reload.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from logomesh.errors import LogoMeshError, PluginError, PluginManifestError
from logomesh.plugins.discovery import Discovered, read_folder
from logomesh.plugins.manifest import MANIFEST_FILE
from logomesh.plugins.plugin import Plugin, PluginState

if TYPE_CHECKING:
    from logomesh.plugins.host import PluginHost


def reload(host: PluginHost, name: str, *, start: bool = True) -> Plugin:
    """Read the plugin's manifest again and restart its process, so new code answers.

    Commands the manifest no longer declares are unregistered, new ones registered,
    changed ones refreshed. Calls in flight get ``plugins.stop_grace_s`` to finish; the
    rest fail saying the plugin was reloaded. With ``start=False`` a plugin that is not
    running is only re-read (it runs the new version when next started), unless a
    failed reload or a crash stopped it. A plugin disabled by someone stays disabled.
    On failure (invalid manifest, clash, a crash at start) the plugin is left failed
    with the reason, which is raised; the next successful reload recovers it.
    """
    plugin = host.get(name)
    with plugin.lock:
        with plugin.calls:
            plugin.reloading = True
        try:
            _reload(host, plugin, start)
        finally:
            with plugin.calls:
                plugin.reloading = False
    return plugin


def _reload(host: PluginHost, plugin: Plugin, start: bool) -> None:
    running = plugin.process is not None and plugin.process.running
    if plugin.state is PluginState.DISABLED:
        if plugin.user_disabled:
            _reread(host, plugin)  # takes effect when it is enabled
            return
        plugin.crashes = 0  # disabled after crashes: a new version gets a new chance
        plugin.revive = True
        host.set_state(plugin, PluginState.FAILED, plugin.error)
    wanted = running or start or plugin.revive
    error = _reread(host, plugin)
    if running:
        host.halt(plugin, "reloaded")
    if error is not None:
        plugin.revive = wanted
        host.mark_failed(plugin, error.user_message)
        raise type(error)(error.user_message)
    if not wanted:
        if plugin.state in (PluginState.FAILED, PluginState.DISCOVERED):
            host.set_state(plugin, PluginState.VALIDATED)
        return
    try:
        host.start_process(plugin, restart_on_crash=False)
    except LogoMeshError:
        plugin.revive = True
        raise


def _reread(host: PluginHost, plugin: Plugin) -> PluginError | None:
    """Adopt the manifest as it is now on disk and bring the registry in line with it;
    on error keep the previous manifest and commands and return the error."""
    found = _read_again(plugin)
    error: PluginError | None = found.error
    if error is None and found.name != plugin.name:
        error = PluginManifestError(
            f"{found.folder}/{MANIFEST_FILE}: `name` changed from {plugin.name!r} to "
            f"{found.name!r}. Unload {plugin.name} and load the folder again."
        )
    if error is None and found.manifest is not None:
        error = host.binder.clash_of(plugin, found.manifest)
    if error is not None or found.manifest is None:
        plugin.found = replace(plugin.found, error=error)
        return error
    plugin.found = found
    host.binder.sync_commands(plugin, host.binder.bind_known(plugin))
    return None


def _read_again(plugin: Plugin) -> Discovered:
    found = plugin.found
    if found.folder is None or found.source == "config":
        return replace(found, error=None) if found.manifest is not None else found
    return read_folder(found.folder, found.source)
