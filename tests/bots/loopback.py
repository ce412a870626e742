"""Serving a fake chat platform on 127.0.0.1: its aiohttp site, and its own thread and loop.

Every fake platform (tests/bots/slack/fake_slack.py, tests/bots/discord/fake_discord.py) is
an aiohttp application on a free loopback port, run either on the test's loop or, when the
code under test owns or blocks that loop (a sync test, a bot in a subprocess), on a thread
with a loop of its own. :class:`LoopbackSite` is the first part, :func:`on_own_loop` the
second; what each fake serves stays in the fake.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from aiohttp import web


class LoopbackSite:
    """One aiohttp application on a free port of 127.0.0.1, on the loop that started it."""

    def __init__(self) -> None:
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, app: web.Application) -> None:
        """Serve ``app``; ``port`` and ``loop`` are known once this returns."""
        # A fake's test never waits on a slow shutdown: one second is plenty on loopback.
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])
        self.loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class Startable(Protocol):
    """A fake that starts and stops on the loop it is awaited on."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@contextmanager
def on_own_loop(fake: Startable, thread_name: str) -> Iterator[None]:
    """``fake`` started on a new loop in a daemon thread; stopped, and the loop closed, after."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name=thread_name, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(fake.start(), loop).result(10)
        yield
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
