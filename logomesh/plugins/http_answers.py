"""Reading one HTTP answer of a remote MCP server, and saying what went wrong with it.

Under MCP's Streamable HTTP transport the answer to a POSTed request is one JSON-RPC message
(``application/json``) or an SSE stream of them (``text/event-stream``). httpx-sse parses
the stream; each event's ``id`` and ``retry`` are kept in a :class:`StreamCursor`, which is
what resuming a dropped stream needs. Every message is held to ``max_message_bytes`` while
it is read, so a 20 MB answer is cut off at the limit rather than buffered first.

The messages name the server by its label and by its URL shown without credentials or query
(:class:`Remote`), and every text that came from the server, or from an exception, passes
through :meth:`Remote.redact`, which masks the configured header values: those are often
secrets from the environment and must not reach a log, an error or the audit trail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from httpx_sse import EventSource

from logomesh.errors import (
    PluginError,
    PluginProtocolError,
    RemoteAuthError,
    RemoteServerError,
    RemoteSessionExpiredError,
)

EXCERPT_BYTES = 2000
EXCERPT_CHARS = 300


@dataclass(frozen=True, slots=True)
class Remote:
    """Whom a message is about, and what it must never show."""

    label: str
    url: str  # scheme://host[:port]/path: no user:password@, no ?query
    header_names: tuple[str, ...]
    secrets: tuple[str, ...]

    @classmethod
    def of(cls, label: str, url: str, headers: Mapping[str, str]) -> Remote:
        parts = urlsplit(url)
        host = parts.hostname or ""
        shown = f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"
        secrets = {value for value in headers.values() if value}
        secrets |= {word for value in headers.values() for word in value.split() if len(word) > 3}
        secrets |= {s for s in (parts.password, parts.query) if s}
        return cls(label, shown, tuple(sorted(headers)), tuple(sorted(secrets, key=len)[::-1]))

    @property
    def who(self) -> str:
        return f"Remote MCP server {self.label} at {self.url}"

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text


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


def body_excerpt(response: httpx.Response, remote: Remote) -> str:
    """The start of an error body, redacted: a JSON-RPC error's message where it is one."""
    raw = bytearray()
    try:
        for chunk in response.iter_bytes():
            raw += chunk
            if len(raw) >= EXCERPT_BYTES:
                break
    except httpx.HTTPError:
        pass
    text = raw[:EXCERPT_BYTES].decode("utf-8", "replace").strip()
    try:
        error = json.loads(text).get("error")
        text = str(error.get("message", text)) if isinstance(error, dict) else text
    except (ValueError, AttributeError):
        pass
    text = " ".join(remote.redact(text).split())
    return text[:EXCERPT_CHARS] + ("..." if len(text) > EXCERPT_CHARS else "")


def status_error(
    response: httpx.Response, remote: Remote, method: str, *, had_session: bool
) -> PluginError:
    """The error for an HTTP status that is not an answer, with the fix for each kind."""
    status = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    excerpt = body_excerpt(response, remote)
    said = f" It said: {excerpt}" if excerpt else ""
    code = response.status_code
    if code in (401, 403):
        sent = ", ".join(remote.header_names) or "none"
        return RemoteAuthError(
            f"{remote.who} refused the credentials for {method} ({status}; sent headers: "
            f'{sent}). Set headers = {{ Authorization = "Bearer ${{env:NAME}}" }} under '
            "[[plugins.mcp]] with ${env:NAME} naming the environment variable that holds "
            f"the token, and check that the token is valid.{said}"
        )
    if code == 404 and had_session:
        return RemoteSessionExpiredError(
            f"{remote.who} ended the session ({status} for {method}, which carried its "
            "Mcp-Session-Id): it restarted or expired the session; a new session must be "
            "started (initialize again)."
        )
    if code == 404:
        return RemoteServerError(
            f"{remote.who} has no MCP endpoint there ({status} for {method}): the url is "
            "wrong. Fix url under [[plugins.mcp]] (the endpoint is often at a path such as "
            f"/mcp).{said}"
        )
    if code >= 500:
        return RemoteServerError(
            f"{remote.who} failed {method} with {status}; the fault is on the server, see "
            f"its logs.{said}"
        )
    where = response.headers.get("location")
    moved = f" It moved to {remote.redact(where)}: put that in url." if where else ""
    return RemoteServerError(f"{remote.who} refused {method} with {status}.{moved}{said}")


def _quote(raw: str | bytes, remote: Remote) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    return repr(remote.redact(text[:120]))
