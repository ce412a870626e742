"""The client side of one MCP session, whatever carries it: the handshake, the tool list,
tool calls with progress, cancellation and timeouts.

:class:`~logomesh.plugins.process.PluginProcess` runs it over a child process's stdio
(``connection.py``) and :class:`~logomesh.plugins.remote.RemoteServer` over Streamable HTTP
(``http_transport.py``); both transports offer the same small :class:`Transport` surface,
so a remote server's commands are called, timed out, cancelled and audited exactly like a
local one's.

Protocol versions: LogoMesh offers the newest it speaks at ``initialize`` and accepts any
it speaks back (the spec lets a server answer with an older one); the agreed version is kept
in ``protocol_version`` for ``plugin list`` and ``plugin doctor``.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any, Protocol

from logomesh.errors import (
    PluginCrashedError,
    PluginError,
    PluginProtocolError,
    PluginStartError,
)
from logomesh.plugins.bindings import Tool
from logomesh.plugins.connection import RpcError

PROTOCOL_VERSION = "2025-11-25"
ACCEPTED_VERSIONS = frozenset({"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"})


class Transport(Protocol):
    """What a session needs of its transport (``Connection``, ``HttpConnection``)."""

    @property
    def closed(self) -> bool: ...

    close_reason: str | None

    def request(
        self, method: str, params: dict[str, Any] | None = None
    ) -> tuple[int, Future[Any]]: ...

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None: ...

    def forget(self, request_id: int) -> None: ...


@dataclass(frozen=True, slots=True)
class ToolResult:
    text: str
    data: Any
    is_error: bool


@dataclass
class Handlers:
    """What the host does when the plugin asks or tells it something."""

    request: Callable[[str, dict[str, Any]], Any]
    notification: Callable[[str, dict[str, Any]], None]
    exited: Callable[[str | None], None]


@dataclass
class CallStats:
    calls: int = 0
    errors: int = 0
    latencies_ms: collections.deque[float] = field(
        default_factory=lambda: collections.deque(maxlen=1000)
    )


class McpSession(ABC):
    """One MCP session as a client; subclasses own the transport and say how it ended."""

    def __init__(self, name: str, handlers: Handlers, max_message_bytes: int) -> None:
        self.name = name
        self._handlers = handlers
        self._max = max_message_bytes
        self._connection: Transport | None = None
        self._progress: dict[str, Callable[[float, float | None, str | None], None]] = {}
        self._tokens = itertools.count(1)
        self.server_info: dict[str, Any] = {}
        self.protocol_version: str | None = None  # the one the server agreed to
        self.stats = CallStats()
        self.started_at: float | None = None

    def handshake(self, deadline: float) -> list[Tool]:
        """``initialize``, ``notifications/initialized``, then the server's tools."""
        result = self._wait("initialize", self._initialize_params(), deadline)
        self._check_handshake(result)
        assert self.protocol_version is not None
        self._agreed(self.protocol_version)
        connection = self._live_connection()
        connection.notify("notifications/initialized")
        tools = self.list_tools(deadline)
        self.started_at = time.monotonic()
        return tools

    # -- the lifecycle a subclass gives it (the host drives every server through these) -----

    kill_reason: str | None = None  # why the host ended it, if it did
    peak_processes: int | None = None  # most processes at once (local servers only)

    @abstractmethod
    def spawn(self) -> None:
        """Create what carries the session (a process, a client), not yet speaking."""

    @abstractmethod
    def start(self, timeout_s: float) -> list[Tool]:
        """Spawn unless done, then the handshake within ``timeout_s``: the server's tools."""

    @abstractmethod
    def stop(self, grace_s: float) -> None:
        """End it, giving calls in flight ``grace_s``."""

    @abstractmethod
    def terminate(self, reason: str) -> None:
        """End it now, remembering why for the errors that follow."""

    @property
    @abstractmethod
    def running(self) -> bool:
        """Whether the session can still be used (its process alive, its HTTP session open)."""

    @property
    def pid(self) -> int | None:
        return None

    def refused_forks(self) -> int:
        return 0

    def exit_summary(self, reason: str | None) -> str:
        return reason or "stopped"

    def _agreed(self, version: str) -> None:  # noqa: B027 (a hook: stdio needs nothing)
        """The server agreed to ``version`` (a transport may need to say so from now on)."""

    # -- what a subclass says about its end ------------------------------------------------

    def stderr_tail(self, max_chars: int | None = None) -> str:
        return ""

    def _crash_message(self, reason: str | None, during: str | None = None) -> str:
        when = f" during {during}" if during else ""
        return f"Plugin {self.name}: {reason or 'the session ended'}{when}."

    def _no_answer(self, method: str) -> str:
        return f"Plugin {self.name} did not answer {method} in time."

    # -- the protocol ----------------------------------------------------------------------

    def list_tools(self, deadline: float | None = None) -> list[Tool]:
        deadline = deadline or time.monotonic() + 10
        listing = self._wait("tools/list", {}, deadline)
        tools = listing.get("tools") if isinstance(listing, dict) else None
        if not isinstance(tools, list):
            raise PluginProtocolError(f"Plugin {self.name} answered tools/list without `tools`.")
        return [Tool.from_listing(t) for t in tools if isinstance(t, dict) and "name" in t]

    async def call_tool(
        self,
        name: str,
        arguments: dict[str, Any],
        *,
        timeout_s: float,
        on_progress: Callable[[float, float | None, str | None], None] | None = None,
    ) -> ToolResult:
        connection = self._live_connection()
        token = f"{self.name}-{next(self._tokens)}"
        if on_progress is not None:
            self._progress[token] = on_progress
        params = {"name": name, "arguments": arguments, "_meta": {"progressToken": token}}
        started = time.perf_counter()
        request_id, future = connection.request("tools/call", params)
        self.stats.calls += 1
        try:
            result = await asyncio.wait_for(asyncio.wrap_future(future), timeout_s)
        except (TimeoutError, asyncio.CancelledError):
            self._cancel(connection, request_id, "timed out" if not future.cancelled() else "")
            self.stats.errors += 1
            raise
        except ConnectionError as exc:
            self.stats.errors += 1
            raise PluginCrashedError(self._crash_message(str(exc))) from exc
        except PluginError:  # a remote call that failed on its own (HTTP 500, 401, ...)
            self.stats.errors += 1
            raise
        except RpcError as exc:
            self.stats.errors += 1
            raise PluginProtocolError(f"Plugin {self.name} refused {name}: {exc.message}") from exc
        finally:
            self._progress.pop(token, None)
            self.stats.latencies_ms.append((time.perf_counter() - started) * 1000)
        parsed = parse_tool_result(result, self.name, name)
        if parsed.is_error:
            self.stats.errors += 1
        return parsed

    def _cancel(self, connection: Transport, request_id: int, reason: str) -> None:
        connection.forget(request_id)
        connection.notify(
            "notifications/cancelled",
            {"requestId": request_id, "reason": reason or "cancelled by the caller"},
        )

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self._live_connection().notify(method, params)

    def _live_connection(self) -> Transport:
        connection = self._connection
        if connection is None or connection.closed:
            reason = connection.close_reason if connection else "it is not running"
            raise PluginCrashedError(self._crash_message(reason))
        return connection

    def _initialize_params(self) -> dict[str, Any]:
        from logomesh import __version__

        return {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {"sampling": {}, "experimental": {"logomesh": {"version": 1}}},
            "clientInfo": {"name": "logomesh", "version": __version__},
        }

    def _check_handshake(self, result: Any) -> None:
        if not isinstance(result, dict) or result.get("protocolVersion") not in ACCEPTED_VERSIONS:
            version = result.get("protocolVersion") if isinstance(result, dict) else result
            raise PluginProtocolError(
                f"Plugin {self.name} answered initialize with protocol version {version!r}; "
                f"LogoMesh speaks {', '.join(sorted(ACCEPTED_VERSIONS))}."
            )
        info = result.get("serverInfo")
        self.server_info = info if isinstance(info, dict) else {}
        self.protocol_version = str(result["protocolVersion"])

    def _wait(self, method: str, params: dict[str, Any], deadline: float) -> Any:
        connection = self._live_connection()
        request_id, future = connection.request(method, params)
        try:
            return future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            connection.forget(request_id)
            raise PluginStartError(self._no_answer(method)) from None
        except ConnectionError as exc:
            raise PluginStartError(self._crash_message(str(exc), during=method)) from exc
        except RpcError as exc:
            raise PluginStartError(f"Plugin {self.name} refused {method}: {exc.message}") from exc

    def _notified(self, method: str, params: dict[str, Any]) -> None:
        if method == "notifications/progress":
            callback = self._progress.get(str(params.get("progressToken")))
            if callback is not None:
                total = params.get("total")
                callback(
                    float(params.get("progress", 0)),
                    float(total) if isinstance(total, int | float) else None,
                    str(params["message"]) if params.get("message") else None,
                )
            return
        self._handlers.notification(method, params)


def parse_tool_result(result: Any, plugin: str, tool: str) -> ToolResult:
    if not isinstance(result, dict) or not isinstance(result.get("content", []), list):
        raise PluginProtocolError(f"Plugin {plugin} answered {tool} with a malformed result.")
    texts = [
        str(item.get("text", ""))
        for item in result.get("content", [])
        if isinstance(item, dict) and item.get("type") == "text"
    ]
    text = "\n".join(texts)
    data = result.get("structuredContent")
    if data is None and len(texts) == 1:
        try:
            data = json.loads(texts[0])
        except ValueError:
            data = None
    return ToolResult(text, data, bool(result.get("isError")))
