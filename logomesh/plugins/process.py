"""One running plugin: its process, and the MCP session (``session.py``) over its stdio.

Start spawns the process from its :class:`LaunchSpec`, performs the MCP handshake within
``plugins.start_timeout_s`` and lists its tools. Stop closes stdin, waits a grace period,
then kills the whole process group, so a plugin that ignores shutdown or left children
behind is gone; where the machine has pids cgroups (``cgroups.py``) the process runs in one
of its own, which holds ``limits.processes`` and, when the process ends, takes with it any
descendant that left the group. What it wrote to stderr is kept head and tail
(``stderr.py``) for the messages that report its end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time

from logomesh.errors import PluginStartError
from logomesh.plugins.bindings import Tool
from logomesh.plugins.cgroups import PidsCgroup, pids_hierarchy
from logomesh.plugins.connection import Connection
from logomesh.plugins.sandbox import LaunchSpec
from logomesh.plugins.session import (
    ACCEPTED_VERSIONS,
    PROTOCOL_VERSION,
    CallStats,
    Handlers,
    McpSession,
    ToolResult,
    parse_tool_result,
)
from logomesh.plugins.stderr import StderrCapture


class PluginProcess(McpSession):
    def __init__(self, name: str, spec: LaunchSpec, handlers: Handlers, max_message_bytes: int):
        super().__init__(name, handlers, max_message_bytes)
        self.spec = spec
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr = StderrCapture()
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
        connection = Connection(
            self._process.stdout,
            self._process.stdin,
            label=self.name,
            max_message_bytes=self._max,
            on_request=self._handlers.request,
            on_notification=self._notified,
            on_closed=self._closed,
        )
        self._connection = connection
        connection.start()
        return self.handshake(time.monotonic() + timeout_s)

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

    # -- internals -------------------------------------------------------------------------

    def _no_answer(self, method: str) -> str:
        return (
            f"Plugin {self.name} did not answer {method} in time; is it an MCP server on "
            f"stdio? Its last output: {self.stderr_tail(400) or '(none)'}"
        )

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


__all__ = [
    "ACCEPTED_VERSIONS",
    "PROTOCOL_VERSION",
    "CallStats",
    "Handlers",
    "PluginProcess",
    "Tool",
    "ToolResult",
    "parse_tool_result",
]
