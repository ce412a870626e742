"""Blocking work a command hands to a thread, tracked so that its timeout tells the truth.

At a command's deadline the engine cancels the handler, but a thread cannot be cancelled:
``asyncio.wait_for`` would return while a migration or a backup goes on copying. So a
handler runs such work through :meth:`CommandContext.run_in_thread`, which records it
here. At the deadline the engine asks this tracker what is still running:

- work that can stop part-way (``stoppable=True``: the function takes a ``stop`` event and
  returns early, cleaning up, once it is set) is told to stop and given a moment to do so;
  then the command "was stopped", truthfully;
- work that cannot is left to finish; the command's error says it is still running, what
  it is doing and how to see its result, and when it ends the engine writes one more audit
  record (same correlation id, ``finished_after_timeout``).

The threads are our own and not daemons (not the loop's default executor, which
``asyncio.run`` would wait for before returning the timeout): the command returns at its
deadline, and a one-shot CLI process still lets the work finish before it exits, rather
than killing a migration half-way.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from logomesh.errors import LogoMeshError
from logomesh.events import CommandFinished, EventBus

T = TypeVar("T")

_UNSTOPPED = "which cannot be stopped safely part-way"
_STOPPING = "told to stop but not stopped yet"

# How long a late record waits for its command's own record to be written first.
_LATE_RECORD_WAIT_S = 60.0

# How long work told to stop at the deadline may take to do so before it counts as running.
STOP_GRACE_S = 2.0


@dataclass(eq=False)
class ThreadWork:
    """One piece of a command's work running in a thread of its own."""

    what: str  # what it is doing, for people: "copying the database to backups/x.db"
    check: str | None  # how to see its result: "`logomesh db status` lists the backups"
    future: Future[Any]
    stop: threading.Event | None  # set at the deadline when the work can stop part-way
    abandoned: bool = False  # its command stopped waiting for it (the deadline passed)

    @property
    def running(self) -> bool:
        return not self.future.done()

    def error(self) -> str | None:
        """What went wrong, once finished; None when it succeeded."""
        exc = self.future.exception()
        if exc is None:
            return None
        return (
            exc.user_message if isinstance(exc, LogoMeshError) else f"{type(exc).__name__}: {exc}"
        )


class ThreadWorks:
    """The thread work of one command run, for the engine to account for at its deadline."""

    def __init__(self, command: str = "command") -> None:
        self.command = command
        self._works: list[ThreadWork] = []

    async def run(
        self,
        fn: Callable[..., T],
        *args: Any,
        what: str,
        check: str | None = None,
        stoppable: bool = False,
    ) -> T:
        """``fn(*args)`` in a new thread (``fn(*args, stop=event)`` when ``stoppable``)."""
        stop = threading.Event() if stoppable else None
        future: Future[T] = Future()
        # Running, so cancelling the awaiting task cannot cancel (and lose) its outcome.
        future.set_running_or_notify_cancel()
        work = ThreadWork(what, check, future, stop)
        self._works.append(work)
        kwargs = {"stop": stop} if stop is not None else {}
        thread = threading.Thread(
            target=_run_into, args=(future, fn, args, kwargs), name=f"logomesh-{self.command}"
        )
        thread.start()
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            work.abandoned = True
            if stop is not None:
                stop.set()
            raise

    async def settle(self, grace_s: float = STOP_GRACE_S) -> list[ThreadWork]:
        """After the deadline: let stopping work finish stopping; return what still runs."""
        stopping = [w for w in self._works if w.running and w.stop is not None]
        if stopping:
            waiting = [asyncio.wrap_future(w.future) for w in stopping]
            await asyncio.wait(waiting, timeout=grace_s)
            for future in waiting:  # their outcome is read from the work, not from these
                if future.done():
                    future.exception()
                else:
                    future.cancel()
        return [w for w in self._works if w.running]

    def stopped(self) -> list[ThreadWork]:
        """Work whose command gave up on it and that has ended, for ``stopped_message``."""
        return [w for w in self._works if w.abandoned and not w.running]


def follow_up(
    running: list[ThreadWork],
    events: EventBus,
    correlation_id: str,
    job: Callable[[ThreadWork], None],
) -> None:
    """Call ``job(work)`` as each work in ``running`` ends, once its command's own audit
    record is written (``CommandFinished`` is published after it), so the trail reads in
    the order things happened.

    Each call runs in a thread of its own: it waits for that record, and work that has just
    ended calls back at once, on the loop. Not a daemon, so a one-shot CLI process writes
    the record before it exits.
    """
    recorded = threading.Event()

    def command_recorded(event: CommandFinished) -> None:
        if event.correlation_id == correlation_id:
            recorded.set()

    unsubscribe = events.subscribe(CommandFinished, command_recorded)

    def after(work: ThreadWork) -> None:
        recorded.wait(_LATE_RECORD_WAIT_S)
        unsubscribe()
        job(work)

    for work in running:
        work.future.add_done_callback(
            functools.partial(_start_thread, functools.partial(after, work))
        )


def _start_thread(job: Callable[[], None], _future: Future[Any]) -> None:
    threading.Thread(target=job, name="logomesh-late-record").start()


def _run_into(
    future: Future[Any], fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    try:
        result = fn(*args, **kwargs)
    except BaseException as exc:  # handed to whoever awaits the future
        future.set_exception(exc)
    else:
        future.set_result(result)


def still_running_message(
    command: str, timeout_s: float, running: list[ThreadWork], correlation_id: str
) -> str:
    """The timeout error for work that goes on: what runs, that it ends by itself, where
    to see how it ended."""
    doing = "; ".join(f"{w.what}, {_UNSTOPPED if w.stop is None else _STOPPING}" for w in running)
    return (
        f"{command} did not finish within {timeout_s:g} s, and its work is still running in "
        f"the background ({doing}). It will finish on its own (a one-shot `logomesh` command "
        "waits for it before exiting), and its outcome will be added to the audit trail: "
        f"`logomesh audit query --correlation-id {correlation_id}`.{_checks(running)} Pass a "
        "longer timeout or raise `commands.default_timeout_s`."
    )


def stopped_message(command: str, timeout_s: float, stopped: list[ThreadWork]) -> str:
    """The timeout error when nothing goes on: async work was cancelled, thread work was
    stopped (its own error says how it cleaned up) or, as the deadline passed, had just
    been done, which must be said too."""
    notes = "".join(f" {w.error()}" for w in stopped if w.error())
    done = [w for w in stopped if w.error() is None]
    if done:
        whats = "; ".join(w.what for w in done)
        notes += (
            f" Its work had already been done, though ({whats}); only its result was not "
            f"returned.{_checks(done)}"
        )
    return (
        f"{command} did not finish within {timeout_s:g} s and was stopped.{notes} Pass a "
        "longer timeout or raise `commands.default_timeout_s`."
    )


def _checks(works: list[ThreadWork]) -> str:
    return "".join(f" {w.check[0].upper()}{w.check[1:]}." for w in works if w.check)
