"""A forked child of the warm process becomes the caller, runs its command, and exits.

It takes the caller's stdin, stdout and stderr (so a terminal is still a terminal: prompts,
colours and widths work as they would), its working directory, environment and umask, and
Python's default signal handling, then runs the CLI exactly as the console script would.
At the end it does what an interpreter does at exit (waits for non-daemon threads, runs the
exit handlers, flushes) and leaves with ``os._exit``, so nothing of the parent's unwinds.

It starts a session of its own, so the warm process can signal it and whatever it started
together (a hang-up when the caller vanishes), and the caller's Ctrl-C reaches it through
the caller rather than through a terminal it does not control.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import logging
import os
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Iterable
from typing import Any, NoReturn

from logomesh.cli.warm import protocol

STANDARD = (0, 1, 2)


def run(
    request: dict[str, Any], streams: list[int], inherited: Iterable[int], caller: int
) -> NoReturn:
    """Run the request; ``caller`` is the connection, told the exit status straight away."""
    code = 1
    try:
        _become_caller(request, streams, inherited)
        code = _run_cli(request["argv"])
    except BaseException:  # the caller must hear of any failure, then this child ends
        traceback.print_exc()
    finally:
        _finish()
    _tell_caller(caller, code)
    os._exit(code)


def _tell_caller(caller: int, code: int) -> None:
    """Say the status now, not after the kernel has unmapped this process's memory (tens of
    milliseconds for a warm process's size); the parent says it if this never happens."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the caller hangs up once it has heard
    with contextlib.suppress(OSError):
        protocol.send(socket.socket(fileno=caller), {"exit": code})


def _become_caller(request: dict[str, Any], streams: list[int], inherited: Iterable[int]) -> None:
    os.setsid()
    signal.set_wakeup_fd(-1)  # the parent's, about to be closed here
    _forget_parents_exit_handlers()
    for fd in inherited:
        os.close(fd)
    for target, fd in zip(STANDARD, streams, strict=True):
        os.dup2(fd, target)
    for fd in streams:
        if fd not in STANDARD:
            os.close(fd)
    os.chdir(request["cwd"])
    os.umask(request["umask"])
    os.environ.clear()
    os.environ.update(request["env"])
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGTSTP, signal.SIGCONT):
        signal.signal(signum, signal.SIG_DFL)
    _reopen_standard_streams(request["env"])


def _forget_parents_exit_handlers() -> None:
    """The parent's exit handlers are for the parent's objects (torch alone spends 0.2 s
    unregistering its operator libraries); the child's own are registered as it runs.

    Logging's is put back, so the handlers a command configures are flushed at its end."""
    atexit._clear()
    atexit.register(logging.shutdown)


def _reopen_standard_streams(env: dict[str, str]) -> None:
    """New text streams on the caller's descriptors, buffered as Python would buffer them."""
    encoding, errors = _io_encoding(env)
    unbuffered = bool(env.get("PYTHONUNBUFFERED"))
    sys.stdin = io.TextIOWrapper(
        io.BufferedReader(io.FileIO(0, "r", closefd=False)), encoding=encoding, errors=errors
    )
    sys.stdout = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(1, "w", closefd=False)),
        encoding=encoding,
        errors=errors,
        line_buffering=os.isatty(1),
        write_through=unbuffered,
    )
    sys.stderr = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(2, "w", closefd=False)),
        encoding=encoding,
        errors="backslashreplace",
        line_buffering=True,
        write_through=unbuffered,
    )


def _io_encoding(env: dict[str, str]) -> tuple[str, str]:
    # PYTHONIOENCODING, PYTHONUTF8 and the locale decided the parent's streams; the first two
    # are part of the warm process's key, so its own choice is the caller's.
    parent = sys.__stdout__
    encoding = getattr(parent, "encoding", None) or "utf-8"
    errors = getattr(parent, "errors", None) or "strict"
    override = env.get("PYTHONIOENCODING", "")
    if override:
        name, _, handler = override.partition(":")
        encoding, errors = name or encoding, handler or errors
    return encoding, errors


def _run_cli(argv: list[str]) -> int:
    sys.argv = ["logomesh", *argv]
    from logomesh.cli.app import click_command

    try:
        click_command().main(args=argv, prog_name="logomesh")
    except SystemExit as exc:
        return _exit_code(exc.code)
    return 0


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _finish() -> None:
    """What the interpreter does at exit: join non-daemon threads, run exit handlers, flush."""
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
