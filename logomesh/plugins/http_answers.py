"""Reading one HTTP answer of a remote MCP server into JSON-RPC messages.

Under MCP's Streamable HTTP transport the answer to a POSTed request is one JSON-RPC message
(``application/json``) or an SSE stream of them (``text/event-stream``). httpx-sse parses
the stream; each event's ``id`` and ``retry`` are kept in a :class:`StreamCursor`, which is
what resuming a dropped stream needs. Every message is held to ``max_message_bytes`` while
it is read, so a 20 MB answer is cut off at the limit rather than buffered first.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import EventSource

from logomesh.errors import PluginProtocolError
from logomesh.plugins.http_failures import Remote


@dataclass
class StreamCursor:
    """Where an SSE stream stands: the last event id (to resume from) and the server's
    ``retry`` (how long to wait first); ``messages`` counts what it brought, so a resumed
    stream that brought nothing new (a priming event is not news) is a failed attempt."""

    last_event_id: str | None = None
    retry_ms: int | None = None
    messages: int = 0


class _TooLargeError(Exception):
    """Internal: a message passed the limit while it was read."""


def too_large(remote: Remote, method: str, limit: int) -> PluginProtocolError:
    return PluginProtocolError(
        f"{remote.who} sent a message over the {limit:,}-byte limit in its answer to "
        f"{method}; reading was stopped there. Ask for less (a smaller result), or raise "
        "plugins.max_message_bytes if such answers are expected."
    )


def parse_message(raw: str | bytes, remote: Remote, method: str) -> dict[str, Any]:
    """One JSON-RPC 2.0 message, or a protocol error that quotes (redacted) what came."""
    try:
        message = json.loads(raw)
    except ValueError:
        raise PluginProtocolError(
            f"{remote.who} answered {method} with something that is not JSON: "
            f"{_quote(raw, remote)}. Is the url an MCP endpoint?"
        ) from None
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        raise PluginProtocolError(
            f"{remote.who} answered {method} with JSON that is not a JSON-RPC 2.0 message: "
            f"{_quote(raw, remote)}."
        )
    return message


def read_json(response: httpx.Response, limit: int, remote: Remote, method: str) -> Any:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(remote, method, limit)
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > limit:
            raise too_large(remote, method, limit)
    return parse_message(bytes(body), remote, method)


def read_events(
    response: httpx.Response, limit: int, cursor: StreamCursor, remote: Remote, method: str
) -> Iterator[dict[str, Any]]:
    """The JSON-RPC messages of an SSE stream, in order; events without data (the priming
    event the spec recommends, keep-alives) and of other event types only move the cursor."""
    used = 0

    def counted(chunks: Iterator[bytes]) -> Iterator[bytes]:
        nonlocal used
        for chunk in chunks:
            used += len(chunk)
            if used > limit:
                raise _TooLargeError
            yield chunk

    # A view of the body whose bytes are counted as httpx-sse reads them; the count starts
    # again at each event, so the limit holds per message (to within one network read).
    view = httpx.Response(
        response.status_code,
        headers={"content-type": response.headers.get("content-type", "")},
        content=counted(response.iter_bytes()),
    )
    try:
        for event in EventSource(view).iter_sse():
            used = 0
            if event.id:
                cursor.last_event_id = event.id
            if event.retry is not None:
                cursor.retry_ms = event.retry
            if event.data and event.event == "message":
                cursor.messages += 1
                yield parse_message(event.data, remote, method)
    except _TooLargeError:
        raise too_large(remote, method, limit) from None


def _quote(raw: str | bytes, remote: Remote) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return repr(remote.redact(text[:120]))
