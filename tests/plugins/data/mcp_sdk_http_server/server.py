"""An official-SDK MCP server (``mcp`` 2.x) served over Streamable HTTP on loopback.

tests/plugins/test_http_transport.py drives it with :class:`HttpConnection` directly. It
binds 127.0.0.1 on a free port and prints ``PORT <n>`` once listening. With an in-memory
event store it is resumable: ``poll`` closes its own SSE stream halfway (the SDK's
``close_sse_stream``) so the client must come back with ``Last-Event-ID`` after ``retry``.
With ``--json-stateless`` it answers each POST with one JSON body and keeps no session.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.streamable_http import EventCallback, EventMessage, EventStore
from mcp_types import SamplingMessage, TextContent

RETRY_MS = 300


class MemoryEventStore(EventStore):
    """Every event of every stream, in order, so a stream can be replayed after an id."""

    def __init__(self) -> None:
        self._events: list[tuple[str, str, Any]] = []  # (event id, stream id, message)

    async def store_event(self, stream_id: str, message: Any) -> str:
        event_id = str(len(self._events) + 1)
        self._events.append((event_id, stream_id, message))
        return event_id

    async def replay_events_after(
        self, last_event_id: str, send_callback: EventCallback
    ) -> str | None:
        stream = next((s for e, s, _ in self._events if e == last_event_id), None)
        if stream is None:
            return None
        after = False
        for event_id, stream_id, message in list(self._events):
            if after and stream_id == stream and message is not None:
                await send_callback(EventMessage(message, event_id))
            after = after or event_id == last_event_id
        return stream


server = MCPServer("sdk-http-server", version="1.0.0")


@server.tool(name="add", description="Add two numbers")
def add(a: int, b: int) -> int:
    return a + b


@server.tool(name="count", description="Count to a number, reporting progress")
async def count(to: int, ctx: Context) -> dict[str, int]:
    for done in range(1, to + 1):
        await ctx.report_progress(done, to, f"counted {done}")
    return {"counted": to}


@server.tool(name="ask", description="Ask the client's model (a server-to-client request)")
async def ask(question: str, ctx: Context) -> str:
    answer = await ctx.session.create_message(
        [SamplingMessage(role="user", content=TextContent(type="text", text=question))],
        max_tokens=20,
        related_request_id=ctx.request_id,
    )
    content = answer.content
    return f"the model said: {getattr(content, 'text', content)}"


@server.tool(name="poll", description="Report progress, drop the stream, then finish")
async def poll(ctx: Context) -> str:
    await ctx.report_progress(1, 2, "before the drop")
    await ctx.close_sse_stream()
    await ctx.report_progress(2, 2, "after the drop")
    return "finished after a reconnect"


if __name__ == "__main__":
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    if "--json-stateless" in sys.argv:  # one JSON body per answer, no session: no streams
        app = server.streamable_http_app(json_response=True, stateless_http=True)
    else:
        app = server.streamable_http_app(event_store=MemoryEventStore(), retry_interval=RETRY_MS)
    config = uvicorn.Config(app, log_level="warning")
    print("PORT", sock.getsockname()[1], flush=True)
    uvicorn.Server(config).run(sockets=[sock])
    sys.exit(0)
