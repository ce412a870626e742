"""One MCP session over HTTP: the endpoint, and what every exchange with it carries.

:class:`HttpSession` is the HTTP layer under :class:`~logomesh.plugins.http_transport.
HttpConnection`, the way httpx keeps httpcore behind one transport: it owns the httpx
client (blocking, shared by the connection's threads), adds to every request the user's
headers, ``Mcp-Session-Id`` once initialize gave one and ``MCP-Protocol-Version`` once it
is agreed, refuses a session id that changes, and turns httpx's exceptions into errors that
name the URL and the fix (``http_failures``). It also keeps the answers being read, so
another thread can abort one: closing an httpx response does not wake a blocked read, but
shutting its socket down does. While it is open, what httpx logs (each request's URL, at
INFO) passes through the session's redactor, for a key given in the URL's query.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx

from logomesh.plugins.http_failures import Remote, session_changed, transport_error

JSON, SSE = "application/json", "text/event-stream"


class HttpSession:
    def __init__(self, url: str, headers: dict[str, str], remote: Remote) -> None:
        self.url = url
        self.remote = remote
        self.session_id: str | None = None
        self.protocol_version: str | None = None
        self._client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(None, connect=remote.connect_timeout_s)
        )
        self._reading: dict[int | str, httpx.Response] = {}
        self._lock = threading.Lock()
        self._log_filter = _Redacting(remote)
        logging.getLogger("httpx").addFilter(self._log_filter)

    @contextlib.contextmanager
    def open(
        self,
        verb: str,
        method: str,
        message: dict[str, Any] | None = None,
        *,
        last_event_id: str | None = None,
        timeout: float | None = None,
    ) -> Iterator[httpx.Response]:
        """One exchange (``method`` names it in errors); the caller reads the answer inside.
        Raises a PluginError for no answer at all or for a changed session id."""
        headers = {"Accept": f"{JSON}, {SSE}" if verb == "POST" else SSE}
        if message is not None:
            headers["Content-Type"] = JSON
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
        if self.protocol_version:
            headers["MCP-Protocol-Version"] = self.protocol_version
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        content = None if message is None else _encode(message)
        limit = httpx.Timeout(timeout, connect=self.remote.connect_timeout_s)  # None: no limit
        try:
            with self._client.stream(
                verb, self.url, headers=headers, content=content, timeout=limit
            ) as response:
                self._check_session(response, method)
                yield response
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.remote, method) from exc

    def _check_session(self, response: httpx.Response, method: str) -> None:
        sent = response.headers.get("mcp-session-id")
        if sent is None or sent == self.session_id:
            return  # a server need not repeat it
        if method == "initialize" and self.session_id is None:
            self.session_id = sent
            return
        raise session_changed(self.remote, method)

    # -- reading, and stopping a read from another thread ----------------------------------

    def reading(self, key: int | str, response: httpx.Response) -> None:
        with self._lock:
            self._reading[key] = response

    def done_reading(self, key: int | str, response: httpx.Response) -> None:
        with self._lock:
            if self._reading.get(key) is response:
                del self._reading[key]

    def abort(self, key: int | str) -> None:
        with self._lock:
            response = self._reading.pop(key, None)
        if response is not None:
            abort(response)

    def close(self, *, delete: bool) -> None:
        """Abort every read; with ``delete``, end the session on the server (best effort)."""
        with self._lock:
            reading, self._reading = self._reading, {}
        for response in reading.values():
            abort(response)
        if delete and self.session_id is not None:
            with contextlib.suppress(Exception), self.open("DELETE", "DELETE", timeout=5.0):
                pass
        self._client.close()
        logging.getLogger("httpx").removeFilter(self._log_filter)


class _Redacting(logging.Filter):
    """Masks the session's secrets in what httpx logs (it logs each URL, query and all)."""

    def __init__(self, remote: Remote) -> None:
        super().__init__()
        self._remote = remote

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = self._remote.redact(text)
        if masked != text:
            record.msg, record.args = masked, None
        return True


def abort(response: httpx.Response) -> None:
    """Wake a read blocked on another thread (closing the response would not)."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()
