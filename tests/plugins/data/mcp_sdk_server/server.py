"""A plain MCP server on the official SDK (``mcp`` 2.x), nothing LogoMesh-specific in it.

tests/plugins/test_mcp_interop.py mounts it as a plugin under ``[[plugins.mcp]]`` to check
that the host, as an MCP client, drives an ordinary MCP server.
"""

from __future__ import annotations

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("sdk-server", version="1.0.0")


@server.tool(name="sdk.add", description="Add two numbers")
def add(a: int, b: int) -> int:
    return a + b


@server.tool(name="sdk.greet", description="Greet someone, in plain text")
def greet(name: str, excited: bool = False) -> str:
    return f"Hello, {name}{'!' if excited else '.'}"


@server.tool(name="sdk.count", description="Count to a number, reporting progress")
async def count(to: int, ctx: Context) -> dict[str, int]:
    for done in range(1, to + 1):
        await ctx.report_progress(done, to, f"counted {done}")
    return {"counted": to}


@server.tool(name="sdk.fail", description="Always fails, on purpose")
def fail(reason: str) -> str:
    raise ToolError(f"refusing: {reason}")


if __name__ == "__main__":
    server.run()
