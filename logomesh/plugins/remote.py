"""A remote MCP server mounted by URL: the MCP session (``session.py``) over Streamable
HTTP (``http_transport.py``), driven by the host exactly like a local plugin process.

So a remote server's commands are validated, authorised, confirmed, timed out, cancelled
and audited as any other. What differs is what "running" means: there is no process to
sandbox or kill, so ``running`` is "the session is open", stopping ends the session (HTTP
DELETE), and a session that ends unasked (the server forgot it, or sent another session id,
or stopped answering) is reported to the host like a crash, which starts a new session with
the same backoff and restart limit as a local plugin. Its headers are read from the
environment at each start (``headers.py``) and never shown.
"""

from __future__ import annotations

import time

from logomesh.plugins.bindings import Tool
from logomesh.plugins.headers import resolve_headers
from logomesh.plugins.http_transport import HttpConnection
from logomesh.plugins.manifest import Manifest
from logomesh.plugins.session import Handlers, McpSession


class RemoteServer(McpSession):
    def __init__(
        self,
        name: str,
        manifest: Manifest,
        handlers: Handlers,
        max_message_bytes: int,
        connect_timeout_s: float,
    ) -> None:
        super().__init__(name, handlers, max_message_bytes)
        assert manifest.url is not None  # the host makes one only for a manifest with a url
        self.url = manifest.url
        self._headers = dict(manifest.headers)
        self._connect_timeout_s = connect_timeout_s
        self._http: HttpConnection | None = None
        self._stopping = False

    def spawn(self) -> None:
        """The client of one new session (headers resolved now, so a variable set since the
        last start is used); nothing is sent until :meth:`start`."""
        headers = resolve_headers(self.name, self._headers)
        self._http = HttpConnection(
            self.url,
            headers,
            label=self.name,
            max_message_bytes=self._max,
            on_request=self._handlers.request,
            on_notification=self._notified,
            on_closed=self._closed,
            connect_timeout_s=self._connect_timeout_s,
        )
        self._connection = self._http

    def start(self, timeout_s: float) -> list[Tool]:
        if self._http is None:
            self.spawn()
        assert self._http is not None
        self._http.start()
        return self.handshake(time.monotonic() + timeout_s)

    def _agreed(self, version: str) -> None:
        # Every request after initialize names the version agreed (MCP-Protocol-Version).
        assert self._http is not None
        self._http.protocol_version = version

    def stop(self, grace_s: float) -> None:
        """End the session (DELETE, best effort); calls still pending fail saying so."""
        self._stopping = True
        if self._http is not None and not self._http.closed:
            self._http.close()

    def terminate(self, reason: str) -> None:
        self.kill_reason = reason
        self.stop(0)

    @property
    def running(self) -> bool:
        return self._http is not None and not self._http.closed

    def exit_summary(self, reason: str | None) -> str:
        if self.kill_reason:
            return f"ended by the host: {self.kill_reason}"
        return f"the session with {self.url} ended: {reason or 'closed'}"

    def _crash_message(self, reason: str | None, during: str | None = None) -> str:
        if self.kill_reason:
            return f"Plugin {self.name} was stopped by the host: it {self.kill_reason}."
        when = f" during {during}" if during else ""
        return f"Plugin {self.name} ({self.url}): {reason or 'the session ended'}{when}"

    def _no_answer(self, method: str) -> str:
        return (
            f"Plugin {self.name}: {self.url} did not answer {method} within "
            "plugins.start_timeout_s. Is the server up and is this its MCP endpoint?"
        )

    def _closed(self, reason: str | None) -> None:
        if not self._stopping:
            self._handlers.exited(reason)
