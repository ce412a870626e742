"""What DevShell tells a person while a child runs: its latest lines, a few times a second.

Forwarding every line as a progress event would turn a chatty build into millions of events
(and a flood of chat messages); forwarding nothing leaves a person staring at a silent test
run. A :class:`ProgressFeed` sits between: it collects complete lines and, at most once per
``interval_s``, hands the latest few to the callback as one message, saying how many lines
it skipped. It never splits more of a chunk than the lines it keeps, so the cost stays
small however much the child writes.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Awaitable, Callable

OutputCallback = Callable[[str], Awaitable[None]]


class ProgressFeed:
    """Batches output lines into rate-limited progress messages."""

    def __init__(
        self,
        callback: OutputCallback,
        *,
        interval_s: float = 0.25,
        max_lines: int = 20,
        max_line_chars: int = 400,
    ) -> None:
        self._callback = callback
        self._interval_s = interval_s
        if max_lines < 1:
            raise ValueError("a progress feed must keep at least one line")
        self._max_lines = max_lines
        self._max_line_chars = max_line_chars
        # Enough bytes for max_line_chars characters of any UTF-8 width.
        self._byte_cap = max_line_chars * 4
        self._lines: deque[bytes] = deque(maxlen=max_lines)
        self._partial = b""
        self._skipped = 0
        # The first batch waits one interval too: a command that ends at once reports once.
        self._last_flush = time.monotonic()

    def feed(self, chunk: bytes) -> None:
        newlines = chunk.count(b"\n")
        if newlines == 0:
            if len(self._partial) < self._byte_cap:
                self._partial = (self._partial + chunk)[: self._byte_cap]
            return
        keep = self._max_lines
        if newlines <= keep:
            pieces = chunk.split(b"\n")
            pieces[0] = self._partial + pieces[0]
            complete = pieces[:-1]
        else:
            # Split off only the last ``keep`` lines; the earlier ones are counted, not read.
            pieces = chunk.rsplit(b"\n", keep + 1)
            self._skipped += newlines - keep
            complete = pieces[1:-1]
        self._partial = pieces[-1][: self._byte_cap]
        self._skipped += max(0, len(self._lines) + len(complete) - keep)
        self._lines.extend(line[: self._byte_cap] for line in complete)

    def due(self) -> bool:
        return time.monotonic() - self._last_flush >= self._interval_s

    async def flush(self, *, final: bool = False) -> None:
        """Send what is pending (at the end, also the last line without a newline)."""
        if final and self._partial:
            if len(self._lines) == self._max_lines:
                self._skipped += 1
            self._lines.append(self._partial)
            self._partial = b""
        self._last_flush = time.monotonic()
        if not self._lines:
            return
        text = "\n".join(
            line.decode("utf-8", errors="replace")[: self._max_line_chars] for line in self._lines
        )
        if self._skipped:
            text = f"[... {self._skipped:,} lines not shown ...]\n{text}"
        self._lines.clear()
        self._skipped = 0
        await self._callback(text)
