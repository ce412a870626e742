"""A gate that holds work until the test opens it: tests assert order, never speed.

Slack wants its acknowledgement before the bot does the work. A test cannot show that by
timing the ack: a limit tight enough to matter flakes on a busy machine, and a loose one
passes a bot that worked first. So the work waits at a gate (the ``test.held`` command's
body in :mod:`tests.bots.slack.harness`, or the loopback Slack's answer to one Web API
method, :meth:`FakeSlack.gate <tests.bots.slack.fake_slack.FakeSlack.gate>`), and the test
asserts what has happened while the gate is still shut: the ack came back, the work is
waiting, nothing final was posted or audited. A bot that did the work before it acked
never acks while the gate is shut, and the test fails naming the ack it waited for.

The gate is polled, as :mod:`tests.bots.waiting` polls, so it opens from any thread
or loop (the fake may run on a thread of its own, beside a sync test).
"""

from __future__ import annotations

import asyncio
import threading

from tests.bots.waiting import POLL_S, wait_until


class Gate:
    """Shut until :meth:`open`; ``waiting`` counts the work held at it now."""

    def __init__(self) -> None:
        self.waiting = 0
        self._opened = threading.Event()

    @property
    def is_open(self) -> bool:
        return self._opened.is_set()

    def open(self) -> None:
        """Let everything waiting (and everything after) through; from any thread."""
        self._opened.set()

    async def passing(self) -> None:
        """Return once the gate is open, counted in ``waiting`` until then."""
        self.waiting += 1
        try:
            # Polled: an asyncio.Event belongs to one loop, and the gate opens from any thread.
            while not self._opened.is_set():  # noqa: ASYNC110
                await asyncio.sleep(POLL_S)
        finally:
            self.waiting -= 1

    async def wait_for_waiting(self, count: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Until ``count`` pieces of work are held here (the work did start)."""
        await wait_until(
            lambda: self.waiting >= count,
            timeout,
            f"{count} held at the gate",
            lambda: f"{self.waiting} waiting",
        )
