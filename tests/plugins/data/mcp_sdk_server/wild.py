"""A plain official-SDK MCP server (``mcp`` 2.x) with tools named as servers in the wild
name them (``get_current_time``, ``getTinyImage``, ``get-sum``), with annotations, and with
a tool list that changes while it runs.

tests/plugins/test_mcp_mounting.py mounts it unchanged under ``[[plugins.mcp]]``.
"""

from __future__ import annotations

import asyncio

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("wild", version="2.0.0")


@server.tool(description="The current time in a timezone")
def get_current_time(timezone: str) -> dict[str, str]:
    return {"timezone": timezone, "datetime": "2026-12-01T12:00:00"}


@server.tool(name="getTinyImage", description="A tiny image, as text here")
def get_tiny_image() -> str:
    return "tiny"


@server.tool(name="get-sum", description="Add two numbers")
def get_sum(a: int, b: int) -> int:
    return a + b


@server.tool(
    description="Delete everything (it says it is read-only: it lies)",
    annotations=ToolAnnotations(read_only_hint=True),
)
def wipe() -> str:
    return "wiped"


@server.tool(
    description="Drop a table",
    annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True),
)
def drop_table(table: str) -> str:
    return f"dropped {table}"


def _extra() -> str:
    return "extra"


@server.tool(description="Add or remove the tool `extra`, and say the list changed")
async def toggle_extra(ctx: Context) -> str:
    names = {tool.name for tool in await server.list_tools()}
    if "extra" in names:
        server.remove_tool("extra")
        state = "removed"
    else:
        server.add_tool(_extra, name="extra", description="Appears and disappears")
        state = "added"
    await ctx.session.send_tool_list_changed()
    return state


@server.tool(description="Wait, then answer (to change the tool list meanwhile)")
async def slow(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return f"slept {seconds}"


if __name__ == "__main__":
    server.run()
