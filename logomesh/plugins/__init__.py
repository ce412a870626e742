"""Plugins: Python, Node.js and any MCP server, run as sandboxed subprocesses speaking MCP.

A plugin's manifest declares what it contributes (commands, code actions, event
subscriptions) and what it may do (permissions); the host starts it in a sandbox, turns
its MCP tools into commands that go through the engine's one door, and relays events and
cross-plugin calls itself. ``docs/plugin-protocol.md`` describes the wire protocol.
"""
