"""A bot's process: the one loop it owns, run until SIGTERM or SIGINT asks it to stop.

Every platform's runner (``bots/slack/runner.py``, ``bots/discord/runner.py``) lives the
same way: the switch interval the loop needs beside the model's threads
(:data:`~bots.chat.dispatch.LOOP_SWITCH_INTERVAL_S`), a new event loop, and a stop event
that either signal sets, so the runner's ``serve`` can shut down in its own order instead
of being interrupted wherever it was.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from bots.chat.dispatch import LOOP_SWITCH_INTERVAL_S


def run_until_signalled(serve: Callable[[asyncio.Event], Coroutine[Any, Any, None]]) -> None:
    """Run ``serve(stop)`` on a new loop; SIGTERM or SIGINT sets ``stop``."""
    sys.setswitchinterval(LOOP_SWITCH_INTERVAL_S)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, stop.set)
        await serve(stop)

    asyncio.run(main())
