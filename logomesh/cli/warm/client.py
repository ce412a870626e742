"""The console script's first step: hand the command to a warm process, if one is there.

:func:`run_warm` returns the command's exit status when a warm process ran it, and None when
the caller must run it itself: warm processes are off (``LOGOMESH_WARM=0``), the command is
a long-lived one (the shell, the language server, a bot, a worker), none is running, or the
one running has older code and is on its way out. With a person at a terminal and none
running, one is started in the background for the commands after this one; scripts and CI
never start one by themselves (``logomesh warm start`` does), but use one that is running.

While the command runs, the signals a terminal sends this process (Ctrl-C, a hang-up,
Ctrl-Z and ``fg``) are passed to it, so it stops, pauses and resumes as it would here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import FrameType

from logomesh.cli.warm import protocol

# Long-lived commands gain nothing from a warm start and keep their own process: a shell's
# line editor, a server's signals and a worker's lifetime belong to the caller's terminal.
RUN_HERE = frozenset({"lsp", "shell", "bot", "worker", "warm"})
# Global options that take a value, so the command word can be found after them.
VALUE_OPTIONS = frozenset({"--workspace", "-w", "--config", "--mode", "--db-url"})
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
CONNECT_TIMEOUT_S = 2.0
# A status the caller's shell reads as "the command was killed by a signal we cannot name".
LOST_STATUS = 1


def run_warm(argv: list[str]) -> int | None:
    env = os.environ
    if protocol.disabled(env) or not protocol.supported() or command_word(argv) in RUN_HERE:
        return None
    if not _standard_streams():
        return None
    found = protocol.endpoint(env)
    if found is None:
        return None
    connection = _connect(found)
    if connection is None:
        if _interactive() and not env.get("CI"):
            start_server(found)
        return None
    with connection:
        return _run_through(connection, argv, found)


def command_word(argv: list[str]) -> str | None:
    """The first word that is neither a global option nor an option's value."""
    skip = False
    for word in argv:
        if skip:
            skip = False
        elif word in VALUE_OPTIONS:
            skip = True
        elif not word.startswith("-"):
            return word
    return None


def start_server(found: protocol.Endpoint) -> subprocess.Popen[bytes]:
    """Start a warm process in its own session, detached from this terminal."""
    with found.log.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "logomesh.cli.warm.server", str(found.socket)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    return process


def _connect(found: protocol.Endpoint) -> socket.socket | None:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(CONNECT_TIMEOUT_S)
    try:
        connection.connect(str(found.socket))
    except OSError:  # none listening, a stale socket file, or one being replaced
        connection.close()
        return None
    return connection


def _run_through(
    connection: socket.socket, argv: list[str], found: protocol.Endpoint
) -> int | None:
    umask = os.umask(0o022)
    os.umask(umask)
    request = {
        "protocol": protocol.PROTOCOL,
        "argv": argv,
        "cwd": str(Path.cwd()),
        "env": dict(os.environ),
        "umask": umask,
    }
    try:
        protocol.send(connection, request, fds=(0, 1, 2))
        connection.settimeout(None)
        reply, _ = protocol.receive(connection)
    except (OSError, protocol.FrameError):
        return None  # it went away before starting the command: run it here
    if "started" not in reply:
        if reply.get("stale") and _interactive() and not os.environ.get("CI"):
            start_server(found)
        return None
    return _relay_until_exit(connection)


def _relay_until_exit(connection: socket.socket) -> int:
    def forward(signum: int, _frame: FrameType | None) -> None:
        with contextlib.suppress(OSError):
            protocol.send(connection, {"signal": signum})

    def pause(_signum: int, _frame: FrameType | None) -> None:
        forward(signal.SIGSTOP, None)
        signal.signal(signal.SIGTSTP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTSTP)  # stop here too, as the terminal asked

    def resume(_signum: int, _frame: FrameType | None) -> None:
        signal.signal(signal.SIGTSTP, pause)
        forward(signal.SIGCONT, None)

    for signum in FORWARDED:
        signal.signal(signum, forward)
    signal.signal(signal.SIGTSTP, pause)
    signal.signal(signal.SIGCONT, resume)
    while True:
        try:
            reply, _ = protocol.receive(connection)
        except InterruptedError:
            continue
        except (OSError, protocol.FrameError):
            sys.stderr.write("logomesh: the warm process went away while running the command.\n")
            return LOST_STATUS
        if "exit" in reply:
            return _exit_status(int(reply["exit"]))


def _exit_status(code: int) -> int:
    """A child killed by signal N (-N) ends this process by the same signal, as if it ran here."""
    if code >= 0:
        return code
    signum = -code
    for forwarded in (*FORWARDED, signal.SIGTSTP, signal.SIGCONT):
        signal.signal(forwarded, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    return 128 + signum  # the signal's default action is to carry on (e.g. SIGCHLD-like)


def _standard_streams() -> bool:
    try:
        for fd in (0, 1, 2):
            os.fstat(fd)
    except OSError:
        return False
    return True


def _interactive() -> bool:
    return any(os.isatty(fd) for fd in (0, 1, 2))
