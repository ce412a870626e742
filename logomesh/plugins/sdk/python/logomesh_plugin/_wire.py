"""The wire: protocol constants, JSON encoding, the process's stdio, worker threads, and
requests waiting for the host's answer."""

from __future__ import annotations

import itertools
import json
import os
import sys
import threading
from queue import Empty, SimpleQueue

TYPE_CHECKING = False  # typing costs more to import than the rest of this package
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import IO, Any

PROTOCOL_VERSIONS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")
LATEST_PROTOCOL_VERSION = "2025-11-25"
LOG_LEVELS = frozenset(
    {"debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"}
)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
REQUEST_CANCELLED = -32800

#: How long run() lets in-flight tools and event handlers finish after stdin closes
#: (the host waits ``plugins.stop_grace_s``, 2 s by default, before SIGTERM).
SHUTDOWN_GRACE_S = 1.0
#: An idle worker thread exits after this long without work.
WORKER_IDLE_TIMEOUT_S = 60.0

# json.dumps(..., ensure_ascii=False, separators=(",", ":")) without building an encoder per
# call; allow_nan=False: NaN is not JSON, and a strict host parser would drop the plugin.
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_loads = json.JSONDecoder().decode
_EMPTY_TEXT = '{"content":[{"type":"text","text":""}]}'


class _Pending:
    """An outgoing request waiting for the host's response."""

    __slots__ = ("error", "event", "local", "result")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.result: object = None
        self.error: dict[str, Any] | None = None
        self.local = False

    def resolve(self, result: object, error: object) -> None:
        if self.event.is_set():
            return
        if error is not None:
            self.error = error if isinstance(error, dict) else {"message": str(error)}
        else:
            self.result = result
        self.event.set()

    def fail(self, code: int, message: str, *, local: bool = False) -> None:
        if not self.event.is_set():
            self.local = local
            self.resolve(None, {"code": code, "message": message})


class _Workers:
    """Threads for tool calls: an idle worker is reused; a new one starts only if none is.

    A task returns the message to write (or ``None``). The worker counts itself idle
    *before* writing it, so a host that sends the next call as soon as it reads a response
    finds this worker free instead of starting another thread.
    """

    def __init__(self, name: str, write: Callable[[str], None]) -> None:
        self._name = name
        self._write = write
        self._tasks: SimpleQueue[tuple[Callable[..., str | None], tuple[Any, ...]]]
        self._tasks = SimpleQueue()
        self._lock = threading.Lock()
        # Invariant: idle == workers that are (or are about to be) waiting for a task minus
        # tasks queued, so idle > 0 means a queued task is picked up at once.
        self._idle = 0
        self._count = itertools.count(1)

    def submit(self, func: Callable[..., str | None], args: tuple[Any, ...]) -> None:
        with self._lock:
            spawn = self._idle == 0
            if not spawn:
                self._idle -= 1
        self._tasks.put((func, args))
        if spawn:
            name = f"{self._name}-worker-{next(self._count)}"
            threading.Thread(target=self._work, name=name, daemon=True).start()

    def _work(self) -> None:
        tasks, lock, write = self._tasks, self._lock, self._write
        while True:
            try:
                func, args = tasks.get(timeout=WORKER_IDLE_TIMEOUT_S)
            except Empty:
                with lock:
                    if self._idle > 0:  # nobody has reserved this worker: retire it
                        self._idle -= 1
                        return
                continue
            try:
                message = func(*args)
            except Exception:
                _print_exception("worker task failed")
                message = None
            with lock:
                self._idle += 1
            if message is not None:
                write(message)


def _result_json(value: object) -> str:
    """The ``tools/call`` result for what a tool returned, as JSON text."""
    if isinstance(value, str):
        return '{"content":[{"type":"text","text":' + _dumps(value) + "}]}"
    if value is None:
        return _EMPTY_TEXT
    text = _dumps(value)
    item = '{"content":[{"type":"text","text":' + _dumps(text) + "}]"
    if isinstance(value, dict):
        return item + ',"structuredContent":' + text + "}"
    return item + "}"


def _error_json(message: str) -> str:
    return '{"content":[{"type":"text","text":' + _dumps(message) + '}],"isError":true}'


def _print_exception(what: str) -> None:
    import traceback  # only when something went wrong: it is slow to import

    print(f"logomesh_plugin: {what}", file=sys.stderr)
    traceback.print_exc(file=sys.stderr)
    sys.stderr.flush()


_claimed: dict[str, IO[bytes]] = {}  # the process's stdio is claimed once, for all plugins


def _claim_stdout() -> IO[bytes]:
    """The protocol's own stdout; fd 1 and ``sys.stdout`` go to stderr from now on."""
    if "stdout" in _claimed:
        return _claimed["stdout"]
    sys.stdout.flush()
    try:
        stdout_fd, stderr_fd = sys.stdout.fileno(), sys.stderr.fileno()
        out: IO[bytes] = os.fdopen(os.dup(stdout_fd), "wb")
        os.dup2(stderr_fd, stdout_fd)
    except (AttributeError, OSError, ValueError):  # no real file descriptors (embedded, tests)
        out = sys.stdout.buffer
    sys.stdout = sys.stderr
    _claimed["stdout"] = out
    return out


def _claim_stdin() -> IO[bytes]:
    """The protocol's own stdin; fd 0 (inherited by subprocesses) reads /dev/null."""
    if "stdin" in _claimed:
        return _claimed["stdin"]
    try:
        stdin_fd = sys.stdin.fileno()
        reader: IO[bytes] = os.fdopen(os.dup(stdin_fd), "rb")
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, stdin_fd)
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        reader = sys.stdin.buffer
    _claimed["stdin"] = reader
    return reader
