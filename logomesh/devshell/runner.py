"""Running one argv as a child process: no shell, its own process group, bounded, on a deadline.

Everything DevShell executes goes through :func:`run`, so the rules are enforced once:

- **No shell.** ``asyncio.create_subprocess_exec`` with an argv list; a ``;`` or ``$(...)`` in
  an argument is just bytes in that argument. Nothing is ever joined into a command line.
- **Its own process group** (``start_new_session=True``). On a timeout or a cancellation the
  whole group gets SIGTERM, a short grace, then SIGKILL, so a test runner's workers or a
  script's background ``sleep`` die with it instead of lingering. (A grandchild that starts
  its own session on purpose escapes any group; that is a limit of process groups.)
- **Stdin closed** (``/dev/null``): nothing can wait for a password nobody will type.
- **Scrubbed environment**: the caller passes one built by
  :func:`~logomesh.devshell.environment.child_environment`.
- **Bounded output**: each stream keeps its head and tail (:mod:`~logomesh.devshell.capture`)
  while the pipe is drained to the end, and lines reach ``on_output`` batched
  (:mod:`~logomesh.devshell.progress`).
- **A missing program** is a :class:`~logomesh.errors.ToolMissingError` naming the tool and
  how to install it.

A timeout is reported in the :class:`RunResult` (``timed_out``), with whatever output the
child wrote before it, so the caller decides how to word it; a cancellation propagates
after the group is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from logomesh.devshell.capture import HeadTailBuffer, OutputLimits
from logomesh.devshell.progress import OutputCallback, ProgressFeed
from logomesh.devshell.tools import locate
from logomesh.errors import CommandError, InvalidArgumentsError, ToolMissingError

READ_SIZE = 256 * 1024
# After the group is killed its pipes close at once; a process that left the group may keep
# them open, and its output is not worth waiting for.
DRAIN_AFTER_KILL_S = 1.0


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one child did. ``exit_code`` is negative when a signal ended it (-9: SIGKILL)."""

    argv: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    duration_s: float
    truncated_bytes: int
    timed_out: bool = False

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @property
    def output(self) -> str:
        """Both streams as one text, for the audit trail and for people."""
        if not self.stderr:
            return self.stdout
        if not self.stdout:
            return self.stderr
        return f"{self.stdout.rstrip()}\n--- stderr ---\n{self.stderr}"

    def last_lines(self, count: int = 12) -> str:
        """The end of the output (stderr first: that is where tools explain failures)."""
        text = self.stderr.strip() or self.stdout.strip()
        return "\n".join(text.splitlines()[-count:])


async def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout_s: float,
    limits: OutputLimits | None = None,
    on_output: OutputCallback | None = None,
    kill_grace_s: float = 2.0,
) -> RunResult:
    """Run ``argv`` in ``cwd`` and return what it did; see the module docstring for the rules."""
    argv = tuple(argv)
    if not argv:
        raise ValueError("an argv needs at least the program")
    if any("\0" in arg for arg in argv):
        raise InvalidArgumentsError("An argument contains a NUL byte, which no program accepts.")
    program = locate(argv[0], search_path=env.get("PATH", os.defpath), cwd=cwd)
    limits = limits or OutputLimits()
    started = time.perf_counter()
    process = await _start(program, argv, cwd, env)
    assert process.stdout is not None and process.stderr is not None
    out, err = HeadTailBuffer(limits), HeadTailBuffer(limits)
    feeds = [ProgressFeed(on_output), ProgressFeed(on_output)] if on_output else [None, None]
    pumps = [
        asyncio.create_task(_pump(process.stdout, out, feeds[0])),
        asyncio.create_task(_pump(process.stderr, err, feeds[1])),
    ]
    timed_out = False
    try:
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.wait(pumps)
                for pump in pumps:
                    pump.result()  # a failed progress callback surfaces here
                await process.wait()
        except TimeoutError:
            timed_out = True
            await stop_group(process, kill_grace_s)
            await _drain(pumps)
        for feed in feeds:
            if feed is not None:
                await feed.flush(final=True)
    except BaseException:
        # Cancelled (the person pressed stop, the engine's deadline) or a callback failed:
        # nothing this command started may outlive it.
        for pump in pumps:
            pump.cancel()
        await stop_group(process, kill_grace_s)
        raise
    return RunResult(
        argv=argv,
        exit_code=process.returncode if process.returncode is not None else -1,
        stdout=out.text(),
        stderr=err.text(),
        duration_s=time.perf_counter() - started,
        truncated_bytes=out.cut + err.cut,
        timed_out=timed_out,
    )


async def _start(
    program: str, argv: tuple[str, ...], cwd: Path, env: Mapping[str, str]
) -> asyncio.subprocess.Process:
    try:
        return await asyncio.create_subprocess_exec(
            program,
            *argv[1:],
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
            limit=READ_SIZE,
        )
    except FileNotFoundError:
        # Found a moment ago, gone now (or its interpreter line names a missing program).
        raise ToolMissingError(
            f"`{argv[0]}` could not be started: it (or the interpreter its first line names) "
            "does not exist.",
            tool=argv[0],
        ) from None
    except OSError as exc:
        raise CommandError(f"`{argv[0]}` could not be started: {exc.strerror or exc}.") from None


async def _pump(
    stream: asyncio.StreamReader, buffer: HeadTailBuffer, feed: ProgressFeed | None
) -> None:
    while chunk := await stream.read(READ_SIZE):
        buffer.write(chunk)
        if feed is not None:
            feed.feed(chunk)
            if feed.due():
                await feed.flush()


async def _drain(pumps: list[asyncio.Task[None]]) -> None:
    _, pending = await asyncio.wait(pumps, timeout=DRAIN_AFTER_KILL_S)
    for pump in pending:
        pump.cancel()


async def stop_group(process: asyncio.subprocess.Process, grace_s: float) -> None:
    """SIGTERM the child's whole process group, wait ``grace_s``, SIGKILL it, reap the child.

    SIGKILL goes to the group even when the child left in time: its children may not have.
    """
    try:
        _signal_group(process.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), grace_s)
    finally:
        # Also when cancelled again while waiting: the kill must not depend on that wait.
        _signal_group(process.pid, signal.SIGKILL)
    await process.wait()


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    # The group is gone (ProcessLookupError), or the id is no longer ours (PermissionError).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
