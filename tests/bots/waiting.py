"""Waiting for a loopback server's state from whichever loop or thread the test is on.

The fakes run either on the test's own loop or on a thread with a loop of their own (when
the code under test owns or blocks the test's loop). Waiting by polling recorded state, not
by an asyncio event, works the same in both; 10 ms is far below anything a test measures.
Writes to a server's sockets must still happen on the server's loop: :func:`run_on`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

POLL_S = 0.01

T = TypeVar("T")


async def wait_until(
    condition: Callable[[], bool],
    timeout: float,  # noqa: ASYNC109 - the failure must name what never came, not TimeoutError
    what: str,
    seen: Callable[[], str] = lambda: "",
) -> None:
    """Return once ``condition()`` holds; after ``timeout`` s fail naming ``what`` and what
    was ``seen`` instead."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout}s; {seen() or 'nothing seen'}")
        await asyncio.sleep(POLL_S)


async def run_on(loop: asyncio.AbstractEventLoop | None, coroutine: Coroutine[Any, Any, T]) -> T:
    """Await ``coroutine`` on ``loop``, from that loop or any other."""
    if loop is None:
        coroutine.close()
        raise RuntimeError("the fake server is not started")
    if asyncio.get_running_loop() is loop:
        return await coroutine
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, loop))


def run_blocking(
    loop: asyncio.AbstractEventLoop | None, coroutine: Coroutine[Any, Any, T], timeout: float
) -> T:
    """Run ``coroutine`` on ``loop`` (a server's own thread) from a thread with no loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coroutine.close()
        raise RuntimeError("called on a running loop (it would block it): await it instead")
    if loop is None:
        coroutine.close()
        raise RuntimeError("the fake server is not started")
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)
