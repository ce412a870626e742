"""A loopback stand-in for a remote MCP server, scripted per test, for the failures a real
server produces only by accident (an expired session, a dropped stream, a 500).

``StandIn(handle)`` serves HTTP on 127.0.0.1 in a thread (stdlib ``http.server``, one thread
per request); ``handle(seen)`` gets each request and returns the :class:`Reply` to send.
Every request is kept in ``seen`` with its headers and the moment it arrived, so a test can
check what the client sent and when. Replies are HTTP/1.0-style (the body ends when the
connection closes), which is how a server that drops an SSE stream looks to the client.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SSE = "text/event-stream"
JSON = "application/json"


@dataclass
class Seen:
    """One request the stand-in received."""

    method: str
    path: str
    headers: dict[str, str]  # keys lower-case
    body: Any  # parsed JSON, or None
    at: float  # time.monotonic()

    @property
    def rpc_method(self) -> str | None:
        return self.body.get("method") if isinstance(self.body, dict) else None


@dataclass
class Reply:
    """What to answer: a status, headers, and a body (bytes, or pieces where a float is a
    pause in seconds). ``aborted`` is set when the client hung up before the body was sent."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes | float] = b""
    aborted: bool = False


def sse(*events: dict[str, Any]) -> bytes:
    """SSE text for events given as {"id":..., "retry":..., "data": dict | str}."""
    out = []
    for event in events:
        lines = []
        if "id" in event:
            lines.append(f"id: {event['id']}")
        if "retry" in event:
            lines.append(f"retry: {event['retry']}")
        data = event.get("data", "")
        lines.append(f"data: {data if isinstance(data, str) else json.dumps(data)}")
        out.append("\n".join(lines) + "\n\n")
    return "".join(out).encode()


def result(request_id: Any, value: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": value}


def json_reply(message: Any, status: int = 200, **headers: str) -> Reply:
    return Reply(status, {"Content-Type": JSON, **headers}, json.dumps(message).encode())


def sse_reply(*events: dict[str, Any], **headers: str) -> Reply:
    return Reply(200, {"Content-Type": SSE, **headers}, sse(*events))


INITIALIZED = {"protocolVersion": "2025-11-25", "capabilities": {}, "serverInfo": {"name": "s"}}


class StandIn:
    def __init__(self, handle: Callable[[Seen], Reply]) -> None:
        self.handle = handle
        self.seen: list[Seen] = []
        self.replies: list[Reply] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                seen = Seen(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    time.monotonic(),
                )
                standin.seen.append(seen)
                reply = standin.handle(seen)
                standin.replies.append(reply)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    pieces = [reply.body] if isinstance(reply.body, bytes) else reply.body
                    for piece in pieces:
                        if isinstance(piece, float):
                            time.sleep(piece)
                        else:
                            self.wfile.write(piece)
                            self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    reply.aborted = True

            do_GET = do_POST = do_DELETE = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/mcp"

    def __enter__(self) -> StandIn:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def of(self, rpc_method: str) -> list[Seen]:
        return [s for s in self.seen if s.rpc_method == rpc_method]
