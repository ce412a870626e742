"""Plugins: Python, Node.js and any MCP server, run as sandboxed subprocesses speaking MCP.

A plugin's manifest declares what it contributes (commands, code actions, event
subscriptions) and what it may do (permissions); the host starts it in a sandbox, turns
its MCP tools into commands that go through the engine's one door, and relays events and
cross-plugin calls itself. ``docs/plugin-protocol.md`` describes the wire protocol.

What other features may import from this package is what this module exports; the rest is
its own business (``tests/test_boundaries.py`` holds the line).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from logomesh.lazy import lazy_exports

_EXPORTS = {
    "FEATURE": "logomesh.plugins.feature",
    "PluginHost": "logomesh.plugins.host",
    "PluginSettings": "logomesh.plugins.settings",
}
__all__ = [
    "FEATURE",
    "PluginHost",
    "PluginSettings",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from logomesh.plugins.feature import FEATURE
    from logomesh.plugins.host import PluginHost
    from logomesh.plugins.settings import PluginSettings
