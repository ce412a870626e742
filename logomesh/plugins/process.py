"""One running plugin: its process, its MCP session, and calls into it.

Start spawns the process from its :class:`LaunchSpec`, performs the MCP handshake within
``plugins.start_timeout_s`` and lists its tools. A call is ``tools/call`` with a progress
token; on timeout or cancellation the plugin is told (``notifications/cancelled``) and the
caller gets its answer at once. Stop closes stdin, waits a grace period, then kills the
whole process group, so a plugin that ignores shutdown or left children behind is gone;
where the machine has pids cgroups (``cgroups.py``) the process runs in one of its own,
which holds ``limits.processes`` and, when the process ends, takes with it any descendant
that left the group. What it wrote to stderr is kept head and tail (``stderr.py``) for the
messages that report its end.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from logomesh.errors import PluginCrashedError, PluginProtocolError, PluginStartError
from logomesh.plugins.bindings import Tool
from logomesh.plugins.cgroups import PidsCgroup, pids_hierarchy
from logomesh.plugins.connection import Connection, RpcError
from logomesh.plugins.sandbox import LaunchSpec
from logomesh.plugins.stderr import StderrCapture

PROTOCOL_VERSION = "2025-11-25"
ACCEPTED_VERSIONS = frozenset({"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"})


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


class PluginProcess:
    def __init__(self, name: str, spec: LaunchSpec, handlers: Handlers, max_message_bytes: int):
        self.name = name
        self.spec = spec
        self._handlers = handlers
        self._max = max_message_bytes
        self._process: subprocess.Popen[bytes] | None = None
        self._connection: Connection | None = None
        self._stderr = StderrCapture()
        self._progress: dict[str, Callable[[float, float | None, str | None], None]] = {}
        self._tokens = itertools.count(1)
        self.server_info: dict[str, Any] = {}
        self.protocol_version: str | None = None  # the one the server agreed to
        self.stats = CallStats()
        self.started_at: float | None = None
        self._stopping = False
        self.kill_reason: str | None = None
        self.cgroup: PidsCgroup | None = None
        # The most processes (tasks) it ran at once, as its cgroup or the watchdog saw it.
        self.peak_processes: int | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def spawn(self) -> None:
        """Create the OS process (the host does it under its closing lock, ``children``),
        in a pids cgroup of its own where the machine has them (fail closed if it cannot)."""
        hierarchy = pids_hierarchy()
        try:
            if hierarchy is not None:
                self.cgroup = PidsCgroup.create(hierarchy, self.name, self.spec.limits.processes)
        except OSError as exc:
            raise PluginStartError(
                f"Plugin {self.name} was not started: its pids cgroup could not be created "
                f"in {hierarchy.folder if hierarchy else '?'} ({exc})."
            ) from exc
        try:
            self._process = self.spec.popen(self.cgroup)
        except (OSError, subprocess.SubprocessError) as exc:
            self._release_cgroup()
            raise PluginStartError(
                f"Plugin {self.name} could not be started ({self.spec.argv[0]}: {exc})."
            ) from exc

    def start(self, timeout_s: float) -> list[Tool]:
        """Spawn (unless done already), then the MCP handshake and the list of tools."""
        if self._process is None:
            self.spawn()
        assert self._process is not None
        assert self._process.stdin and self._process.stdout and self._process.stderr
        self._stderr_reader = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_reader.start()
        self._connection = Connection(
            self._process.stdout,
            self._process.stdin,
            label=self.name,
            max_message_bytes=self._max,
            on_request=self._handlers.request,
            on_notification=self._notified,
            on_closed=self._closed,
        )
        self._connection.start()
        deadline = time.monotonic() + timeout_s
        result = self._wait("initialize", self._initialize_params(), deadline)
        self._check_handshake(result)
        self._connection.notify("notifications/initialized")
        tools = self.list_tools(deadline)
        self.started_at = time.monotonic()
        return tools

    def list_tools(self, deadline: float | None = None) -> list[Tool]:
        deadline = deadline or time.monotonic() + 10
        listing = self._wait("tools/list", {}, deadline)
        tools = listing.get("tools") if isinstance(listing, dict) else None
        if not isinstance(tools, list):
            raise PluginProtocolError(f"Plugin {self.name} answered tools/list without `tools`.")
        return [Tool.from_listing(t) for t in tools if isinstance(t, dict) and "name" in t]

    def stop(self, grace_s: float) -> None:
        """Close stdin, wait ``grace_s``, then kill the process group (TERM, then KILL)."""
        self._stopping = True
        process = self._process
        if process is None:
            return
        if process.poll() is not None:
            self._kill_group_leftovers(process.pid)  # it ended; what it started has not
            self._release_cgroup()
            return
        try:
            if process.stdin:
                process.stdin.close()
            process.wait(timeout=grace_s)
        except (OSError, subprocess.TimeoutExpired):
            pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if process.poll() is not None:
                break
            try:
                os.killpg(process.pid, sig)
                process.wait(timeout=1)
            except (ProcessLookupError, PermissionError, subprocess.TimeoutExpired):
                continue
        self._kill_group_leftovers(process.pid)
        self._release_cgroup()

    def terminate(self, reason: str) -> None:
        """Kill the whole process group now (no grace), remembering why for the error."""
        self.kill_reason = reason
        process = self._process
        if process is None:
            return
        for _ in range(5):  # a forking group may gain members while it is being killed
            self._kill_group_leftovers(process.pid)
            try:
                process.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                continue
        self._kill_group_leftovers(process.pid)
        self._release_cgroup()

    def _release_cgroup(self) -> None:
        """Kill what is left in its cgroup (a child that left the process group too) and
        remove it, keeping its peak."""
        cgroup = self.cgroup
        if cgroup is not None:
            cgroup.remove()
            if cgroup.peak is not None:
                self.peak_processes = cgroup.peak

    def refused_forks(self) -> int:
        """How many of its forks the kernel refused at the limit (0 without a cgroup)."""
        cgroup = self.cgroup
        return cgroup.refused_forks() if cgroup is not None and self.running else 0

    @staticmethod
    def _kill_group_leftovers(pgid: int) -> None:
        """Children that outlived the leader keep its process group: kill them too."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stderr_tail(self, max_chars: int | None = None) -> str:
        """Its stderr: first lines, first error line and last lines (``stderr.py``)."""
        reader = getattr(self, "_stderr_reader", None)
        if reader is not None and not self.running:
            reader.join(timeout=0.5)  # an exited plugin's last words may still be in the pipe
        return self._stderr.excerpt(max_chars)

    # -- calls -----------------------------------------------------------------------------

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

    def _cancel(self, connection: Connection, request_id: int, reason: str) -> None:
        connection.forget(request_id)
        connection.notify(
            "notifications/cancelled",
            {"requestId": request_id, "reason": reason or "cancelled by the caller"},
        )

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self._live_connection().notify(method, params)

    # -- internals -------------------------------------------------------------------------

    def _live_connection(self) -> Connection:
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
            raise PluginStartError(
                f"Plugin {self.name} did not answer {method} in time; is it an MCP server on "
                f"stdio? Its last output: {self.stderr_tail(400) or '(none)'}"
            ) from None
        except ConnectionError as exc:
            raise PluginStartError(self._crash_message(str(exc), during=method)) from exc
        except RpcError as exc:
            raise PluginStartError(f"Plugin {self.name} refused {method}: {exc.message}") from exc

    def _exit_code(self) -> int | None:
        """The exit status; the pipe closes a moment before the process is reaped."""
        process = self._process
        if process is None:
            return None
        try:
            return process.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            return None

    def exit_summary(self, reason: str | None) -> str:
        if self.kill_reason:
            return f"stopped by the host: {self.kill_reason}"
        code = self._exit_code()
        what = f"exited with status {code}" if code is not None else (reason or "stopped")
        tail = self.stderr_tail(300)
        return what + (f"; last output: {tail}" if tail else "")

    def _crash_message(self, reason: str | None, during: str | None = None) -> str:
        if self.kill_reason:
            return f"Plugin {self.name} was stopped by the host: it {self.kill_reason}."
        code = self._exit_code()
        what = f"exited with status {code}" if code is not None else (reason or "stopped")
        if reason and code is not None:
            what += f" ({reason})"
        when = f" during {during}" if during else ""
        tail = self.stderr_tail(400)
        return f"Plugin {self.name} {what}{when}." + (f" Its last output: {tail}" if tail else "")

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

    def _closed(self, reason: str | None) -> None:
        if reason and self._process is not None and self._process.poll() is None:
            self._kill_group_leftovers(self._process.pid)  # it broke the protocol: stop it
        if not self._stopping:
            self._handlers.exited(reason)
        if self._exit_code() is not None:
            self._release_cgroup()  # it ended: so does whatever it left in its cgroup

    def _drain_stderr(self) -> None:
        stream = self._process.stderr if self._process else None
        if stream is None:
            return
        for raw in iter(lambda: stream.readline(64 * 1024), b""):
            self._stderr.add(raw.decode("utf-8", "replace").rstrip())


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
