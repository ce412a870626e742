"""Another Python process that says where it is on stdout, one ``WORD VALUE`` line at a time,
read with a deadline so that a process that never says it fails the test instead of hanging
it. The NOTIFY tests' waiters (tests/approvals/notify_waiter.py,
tests/pipelines/notify_runner.py) speak this way, and say they are waiting only once their
engine's change feed listens (:func:`feed_listening`): a change made before that would be
found by the fallback re-read and prove nothing about NOTIFY."""

from __future__ import annotations

import asyncio
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from logomesh.engine import Engine
from logomesh.storage.change_feed import PostgresFeed


class SpeakingProcess:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._err: list[str] = []  # drained as it comes, so a chatty stderr never blocks it
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)  # it ended

    def _read_err(self) -> None:
        assert self.process.stderr is not None
        self._err.extend(self.process.stderr)

    def expect(self, word: str, timeout_s: float) -> str:
        """The value of the next ``word`` line; fails if the process ends or stays silent."""
        while True:
            try:
                line = self._lines.get(timeout=timeout_s)
            except queue.Empty:
                raise AssertionError(f"no {word!r} line within {timeout_s} s") from None
            if line is None:
                self.process.wait()
                err = "".join(self._err)
                raise AssertionError(f"the process ended before saying {word!r}:\n{err}")
            said, _, value = line.partition(" ")
            if said == word:
                return value


@contextmanager
def speaking(module: str, *args: str, cwd: Path, env: dict[str, str]) -> Iterator[SpeakingProcess]:
    """``python -m MODULE ARGS``; killed on leaving if it has not ended by then."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield SpeakingProcess(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


async def feed_listening(engine: Engine) -> None:
    """Until ``engine``'s change feed listens (its first wait started it)."""
    feed = engine.change_feed
    assert isinstance(feed, PostgresFeed), "the NOTIFY tests' processes run on PostgreSQL"
    while not feed.listening:  # noqa: ASYNC110 - set by the feed's own thread
        await asyncio.sleep(0.02)
