"""A small helper for writing LogoMesh plugins in Python, standard library only.

A LogoMesh plugin is an MCP server on stdio (see ``docs/plugin-protocol.md``). The official
MCP SDK can serve that, but importing its server costs close to a second and brings the
process to about 65 MB (pydantic, anyio, httpx, starlette...). A workspace may run twenty
plugins, each a process of its own: that would be some twenty seconds of CPU at start-up
and over a gigabyte of memory before any plugin does anything. This small package speaks the
part of MCP a plugin needs (handshake, ``tools/list``, ``tools/call``, progress,
cancellation, logging, sampling) plus the ``logomesh/`` extension (events and calls to
other commands) with the standard library only: it imports in 5-15 ms (mostly ``json``),
and an idle plugin stays under 13 MB, of which the interpreter itself is about 10.

Its folder is meant to be copied or put on ``PYTHONPATH`` as is; it never imports ``logomesh``.
Modules: ``_wire`` (constants, JSON, stdio, worker threads, pending requests), ``_context``
(what a running tool can do) and ``_plugin`` (registration and the protocol loop).

Example (a complete plugin)::

    from pathlib import Path
    from logomesh_plugin import Plugin, ToolContext, ToolError

    plugin = Plugin("todo-finder", version="1.0.0")

    @plugin.tool("todos.find", description="Find TODO notes in a file",
                 schema={"type": "object", "properties": {"path": {"type": "string"}}})
    def find(args: dict, ctx: ToolContext) -> object:
        path = Path(args.get("path", "README.md"))
        if not path.is_file():
            raise ToolError(f"no such file: {path}")
        lines = path.read_text(encoding="utf-8").splitlines()
        return {"path": str(path), "lines": [n for n, t in enumerate(lines, 1) if "TODO" in t]}

    plugin.run()

What a tool returns becomes the MCP result: a ``str`` is one text item; a ``dict`` is
``structuredContent`` plus the same JSON as a text item; a ``list`` (MCP only allows an
object as ``structuredContent``) is a single JSON text item, which the host parses into the
command's data; ``None`` is an empty text item; ``raise ToolError("...")`` is a failed
command (``isError: true``) showing that message. Any other exception is reported as
``internal error in <tool>: <Type>: <message>`` with the traceback on stderr.

Threading model: ``run()`` reads stdin on the calling thread and answers handshake, pings
and listings there. Each ``tools/call`` runs on a pooled worker thread (idle workers are
reused), so cancellations, pings and the host's answers to ``ctx.call``/``ctx.sample`` are
processed while tools run. ``@plugin.on`` handlers run one at a time, in arrival order, on
one event thread. After ``notifications/cancelled`` the tool sees ``ctx.cancelled`` become
true (a pending ``ctx.call``/``ctx.sample`` raises ``ToolError`` at once) and, as MCP
asks, no response is sent for that request. When stdin closes, ``run()`` sets
``ctx.cancelled`` on every running call too, gives them ``SHUTDOWN_GRACE_S`` to finish (their
results are still written) and returns.

stdout carries the protocol only: ``run()`` moves it to a private file descriptor, points
file descriptor 1 (inherited by subprocesses) and ``sys.stdout`` (used by ``print``) at
stderr, and gives subprocesses ``/dev/null`` as stdin so they cannot swallow messages.
"""

from __future__ import annotations

from ._context import ToolContext, ToolError
from ._plugin import Plugin
from ._wire import LATEST_PROTOCOL_VERSION, PROTOCOL_VERSIONS

__all__ = ["LATEST_PROTOCOL_VERSION", "PROTOCOL_VERSIONS", "Plugin", "ToolContext", "ToolError"]
