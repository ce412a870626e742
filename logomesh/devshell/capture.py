"""What DevShell keeps of a child's output: the first and last bytes, and how much was cut.

A test run that loops, or a build that dumps a binary to stdout, can write hundreds of
megabytes; holding it all would exhaust memory, and nobody reads the middle anyway. The
start shows what ran and the end shows how it finished, so a :class:`HeadTailBuffer` keeps
``head`` bytes from the beginning and a sliding window of ``tail`` bytes from the end, counts
what fell between, and says so in the text it returns. Memory stays at most head + tail
(plus one read) whatever the child writes, and the reader keeps draining the pipe, so the
child is never blocked on a full pipe waiting for us.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OutputLimits:
    """How many bytes of each stream to keep from its start and from its end."""

    head_bytes: int = 64 * 1024
    tail_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        if self.head_bytes < 0 or self.tail_bytes < 0:
            raise ValueError("output limits must not be negative")


_MARKER_START = "\n[... "


def cut_marker(cut: int) -> str:
    """The line that stands where the middle of a stream was dropped."""
    return f"{_MARKER_START}{cut:,} bytes cut ...]\n"


def complete_head(text: str, separator: str) -> str:
    """For parsing a cut stream: the head, up to its last complete ``separator``-ended record."""
    head, marker, _ = text.partition(_MARKER_START)
    if not marker:
        return text
    return head.rpartition(separator)[0] + separator


class HeadTailBuffer:
    """Keeps the head and the tail of one byte stream; drops and counts the middle."""

    def __init__(self, limits: OutputLimits) -> None:
        self._limits = limits
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def write(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self._limits.head_bytes - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if not chunk or self._limits.tail_bytes == 0:
            return
        if len(chunk) >= self._limits.tail_bytes:
            self._tail = bytearray(chunk[-self._limits.tail_bytes :])
            return
        self._tail += chunk
        excess = len(self._tail) - self._limits.tail_bytes
        if excess > 0:
            # Deleting from the front of a bytearray is cheap (CPython moves its start).
            del self._tail[:excess]

    @property
    def cut(self) -> int:
        """Bytes written but not kept."""
        return self.total - len(self._head) - len(self._tail)

    def text(self) -> str:
        """Head, a marker naming the cut size (if anything was cut), and tail, decoded.

        Bytes that are not UTF-8 become U+FFFD instead of failing: tools print whatever
        their inputs hold, and a person still wants to read the rest.
        """
        head = self._head.decode("utf-8", errors="replace")
        tail = self._tail.decode("utf-8", errors="replace")
        if self.cut:
            return head + cut_marker(self.cut) + tail
        return head + tail
