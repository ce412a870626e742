"""``python -m logomesh.cli.warm.server SOCKET``: the warm process.

One thread, one ``selectors`` loop: the listening socket, each caller's connection (for the
signals it passes on, and to notice that it vanished) and each child's pidfd (for its exit
status). Forking from a process with one thread is what keeps a child's locks sane.

It serves only its own user (the socket is in a private directory, and each caller's
``SO_PEERCRED`` is checked), answers ``stale`` and leaves once its code changed on disk
(the caller then runs the command itself), and exits after ``LOGOMESH_WARM_IDLE_S`` seconds
(900) without a command, or on ``logomesh warm stop``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logomesh.cli.warm import child, preload, protocol

DEFAULT_IDLE_S = 900.0
REQUEST_TIMEOUT_S = 2.0
# Only these may be passed on: what a terminal sends its foreground process, and Ctrl-Z.
PASSABLE = frozenset(
    {
        signal.SIGINT,
        signal.SIGTERM,
        signal.SIGHUP,
        signal.SIGQUIT,
        signal.SIGSTOP,
        signal.SIGCONT,
    }
)


@dataclass
class Job:
    pid: int
    pidfd: int
    connection: socket.socket | None


@dataclass
class Server:
    found: protocol.Endpoint
    idle_s: float
    started_at: float = field(default_factory=time.time)
    served: int = 0
    stopping: bool = False
    jobs: dict[int, Job] = field(default_factory=dict)
    selector: selectors.BaseSelector = field(default_factory=selectors.DefaultSelector)
    listener: socket.socket | None = None
    stamp: preload.CodeStamp | None = None
    notes: list[str] = field(default_factory=list)
    lock: int | None = None
    # A signal handler only writes a byte here; the loop wakes and reads the flag it set.
    wake: tuple[socket.socket, socket.socket] = field(default_factory=socket.socketpair)

    def run(self) -> int:
        self.lock = _hold_lock(self.found.lock)
        if self.lock is None:
            return 0  # another one is starting or running for this key
        started = time.perf_counter()
        preload.load(self.notes)
        self.stamp = preload.code_stamp()
        self.listener = _listen(self.found.socket)
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        self._watch_signals()
        _say(f"pid {os.getpid()} ready in {time.perf_counter() - started:.2f} s", *self.notes)
        last_activity = time.monotonic()
        while not (self.stopping and not self.jobs):
            timeout = (
                None if self.jobs else max(0.0, last_activity + self.idle_s - time.monotonic())
            )
            events = self.selector.select(timeout)
            if not events and not self.jobs:
                _say(f"idle for {self.idle_s:g} s: leaving")
                break
            for selected, _mask in events:
                self._handle(selected)
            last_activity = time.monotonic()
        self._stop()
        return 0

    def _watch_signals(self) -> None:
        reader, writer = self.wake
        reader.setblocking(False)
        writer.setblocking(False)
        signal.set_wakeup_fd(writer.fileno())
        self.selector.register(reader, selectors.EVENT_READ, "wake")
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    def _handle(self, selected: selectors.SelectorKey) -> None:
        if selected.data == "wake":
            with contextlib.suppress(OSError):
                self.wake[0].recv(64)
            if self.stopping:
                self._stop()
        elif selected.data == "accept":
            self._accept()
        elif isinstance(selected.data, Job) and selected.fd == selected.data.pidfd:
            self._reap(selected.data)
        elif isinstance(selected.data, Job):
            self._pass_on(selected.data)

    def _accept(self) -> None:
        assert self.listener is not None
        try:
            connection, _ = self.listener.accept()
        except OSError:
            return
        if _peer_uid(connection) != os.getuid():
            connection.close()
            return
        connection.settimeout(REQUEST_TIMEOUT_S)
        try:
            request, fds = protocol.receive(connection, max_fds=3)
        except (OSError, ValueError, protocol.FrameError):
            connection.close()
            return
        try:
            self._answer(connection, request, fds)
        finally:
            for fd in fds:
                os.close(fd)  # the child has its own copies; this process never writes to them

    def _answer(self, connection: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
        control = request.get("control")
        if control is not None:
            self._control(connection, str(control))
            return
        problem = _invalid(request, fds)
        if problem is None and self._code_changed():
            problem = "stale"
            _say("the code changed on disk: leaving once the running commands end")
            self._stop()
        if problem is not None:
            self._reply(connection, {"refused": problem, "stale": problem == "stale"})
            connection.close()
            return
        self._fork(connection, request, fds)

    def _fork(self, connection: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as exc:  # out of processes or memory: the caller runs it itself
            self._reply(connection, {"refused": f"fork failed: {exc}"})
            connection.close()
            return
        if pid == 0:
            child.run(request, fds, self._own_fds(), connection.fileno())
        self.served += 1
        job = Job(pid, os.pidfd_open(pid), connection)
        self.jobs[pid] = job
        self.selector.register(job.pidfd, selectors.EVENT_READ, job)
        connection.settimeout(None)
        self.selector.register(connection, selectors.EVENT_READ, job)
        self._reply(connection, {"started": pid})

    def _pass_on(self, job: Job) -> None:
        assert job.connection is not None
        try:
            message, _ = protocol.receive(job.connection)
            signum = int(message.get("signal", 0))
        except (OSError, ValueError, protocol.FrameError):
            # The caller is gone (killed, or its terminal closed): hang up on the child as a
            # terminal would, and keep reaping it.
            self._forget_connection(job)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job.pid, signal.SIGHUP)
            return
        if signum in PASSABLE:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(job.pid, signum)

    def _reap(self, job: Job) -> None:
        _, status = os.waitpid(job.pid, 0)
        self.selector.unregister(job.pidfd)
        os.close(job.pidfd)
        del self.jobs[job.pid]
        if job.connection is not None:
            self._reply(job.connection, {"exit": os.waitstatus_to_exitcode(status)})
            self._forget_connection(job)

    def _control(self, connection: socket.socket, control: str) -> None:
        if control == "status":
            self._reply(connection, self.status())
        elif control == "stop":
            self._reply(connection, {"stopping": True, "commands_running": len(self.jobs)})
            self._stop()
        else:
            self._reply(connection, {"refused": f"unknown control {control!r}"})
        connection.close()

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "started_at": self.started_at,
            "served": self.served,
            "commands_running": len(self.jobs),
            "idle_s": self.idle_s,
            "socket": str(self.found.socket),
            "log": str(self.found.log),
            "python": sys.executable,
        }

    def _code_changed(self) -> bool:
        return preload.code_stamp() != self.stamp

    def _stop(self) -> None:
        """Take no more commands; the loop ends once the running ones have.

        The socket and the lock go at once, so a new warm process (with the new code) can
        start while this one waits for its last children."""
        self.stopping = True
        if self.listener is not None:
            self.selector.unregister(self.listener)
            self.listener.close()
            self.listener = None
            with contextlib.suppress(OSError):
                self.found.socket.unlink()
        if self.lock is not None:
            os.close(self.lock)
            self.lock = None

    def _forget_connection(self, job: Job) -> None:
        if job.connection is not None:
            self.selector.unregister(job.connection)
            job.connection.close()
            job.connection = None

    def _reply(self, connection: socket.socket, message: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            protocol.send(connection, message)

    def _own_fds(self) -> list[int]:
        """Every descriptor of this process's own, which a child must not keep open."""
        fds = [self.wake[0].fileno(), self.wake[1].fileno()]
        if hasattr(self.selector, "fileno"):
            fds.append(self.selector.fileno())
        if self.listener is not None:
            fds.append(self.listener.fileno())
        if self.lock is not None:
            fds.append(self.lock)
        for job in self.jobs.values():
            fds.append(job.pidfd)
            if job.connection is not None:
                fds.append(job.connection.fileno())
        return fds


def _invalid(request: dict[str, Any], fds: list[int]) -> str | None:
    if request.get("protocol") != protocol.PROTOCOL:
        return "another protocol version"
    if len(fds) != len(child.STANDARD):
        return "stdin, stdout and stderr were not all passed"
    argv, env = request.get("argv"), request.get("env")
    if not isinstance(argv, list) or not all(isinstance(word, str) for word in argv):
        return "argv must be a list of strings"
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        return "env must map strings to strings"
    if not isinstance(request.get("cwd"), str) or not isinstance(request.get("umask"), int):
        return "cwd and umask are required"
    return None


def _peer_uid(connection: socket.socket) -> int | None:
    try:
        credentials = connection.getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")
        )
    except OSError:
        return None
    _pid, uid, _gid = struct.unpack("3i", credentials)
    return int(uid)


def _hold_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _listen(path: Path) -> socket.socket:
    """Bind with a private mode from the start, so there is no moment others could connect."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # left by a process that was killed; the lock says none is running
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(0o177)
    try:
        listener.bind(str(path))
    finally:
        os.umask(previous)
    listener.listen(64)
    listener.setblocking(False)
    return listener


def _say(*lines: str) -> None:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    for line in lines:
        print(f"{stamp} warm: {line}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m logomesh.cli.warm.server SOCKET", file=sys.stderr)
        return 2
    idle_s = float(os.environ.get("LOGOMESH_WARM_IDLE_S", DEFAULT_IDLE_S))
    return Server(protocol.Endpoint.for_socket(Path(args[0])), idle_s).run()


if __name__ == "__main__":
    raise SystemExit(main())
