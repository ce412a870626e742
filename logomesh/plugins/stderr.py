"""What a plugin wrote to stderr, kept bounded: its first lines, its first error line and
its last lines, with a marker where lines were cut.

The cause of a crash is rarely in the last lines: Node ends an out-of-memory death with a
native stack trace and prints ``FATAL ERROR: ... JavaScript heap out of memory`` (or an
uncaught ``RangeError: Array buffer allocation failed``) above it, and a plugin may log
for hours before it fails. So the capture keeps a head, the first line that looks like an
error, and a tail; :meth:`StderrCapture.excerpt` fits them into a message of a given size.
"""

from __future__ import annotations

import collections
import re
import threading

HEAD_LINES = 8
TAIL_LINES = 40
_LINE_CHARS = 300  # one line's share of a message, at most
# What starts a report of a failure in the runtimes plugins use (Python, Node, MCP servers).
_ERROR = re.compile(r"(\b\w*(Error|Exception)\b|FATAL|Traceback|panic|Uncaught)")


class StderrCapture:
    """Lines as they arrive (from the reader thread); excerpts for messages (any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._head: list[tuple[int, str]] = []
        self._error: tuple[int, str] | None = None
        self._tail: collections.deque[tuple[int, str]] = collections.deque(maxlen=TAIL_LINES)
        self._count = 0

    def add(self, line: str) -> None:
        if not line.strip():
            return  # blank lines carry nothing and would crowd the excerpt
        with self._lock:
            entry = (self._count, line)
            self._count += 1
            if self._error is None and _ERROR.search(line):
                self._error = entry
            if len(self._head) < HEAD_LINES:
                self._head.append(entry)
            else:
                self._tail.append(entry)

    def excerpt(self, max_chars: int | None = None) -> str:
        """Head, first error and tail within ``max_chars`` (all that is kept if None),
        with ``[… N lines cut …]`` wherever lines are missing."""
        with self._lock:
            head, error, tail = list(self._head), self._error, list(self._tail)
            total = self._count
        if max_chars is None:
            kept = head + ([error] if error else []) + tail
            return _join(sorted(set(kept)), total)
        error_part = [(error[0], _clip(error[1]))] if error else []
        budget = max(0, max_chars - sum(len(line) + 1 for _, line in error_part))
        lines = head + tail  # in order: the tail starts after the head
        chosen = _fit(head, budget // 3, from_end=False)
        chosen += _fit(lines[len(chosen) :], budget - _size(chosen), from_end=True)
        return _join(sorted(set(chosen + error_part)), total)


def _clip(line: str) -> str:
    return line if len(line) <= _LINE_CHARS else line[: _LINE_CHARS - 1] + "…"


def _size(lines: list[tuple[int, str]]) -> int:
    return sum(len(line) + 1 for _, line in lines)


def _fit(lines: list[tuple[int, str]], budget: int, *, from_end: bool) -> list[tuple[int, str]]:
    """As many whole (clipped) lines as fit in ``budget``, from the start or the end."""
    chosen: list[tuple[int, str]] = []
    used = 0
    for index, line in reversed(lines) if from_end else lines:
        clipped = _clip(line)
        if used + len(clipped) + 1 > budget:
            if from_end and not chosen and budget > 20:  # the very last line, by its end
                chosen.append((index, "…" + line[-(budget - 2) :]))
            break
        chosen.append((index, clipped))
        used += len(clipped) + 1
    return chosen


def _join(lines: list[tuple[int, str]], total: int) -> str:
    parts: list[str] = []
    expected = 0
    for index, line in lines:
        if index > expected:
            parts.append(_marker(index - expected))
        parts.append(line)
        expected = index + 1
    if total > expected:
        parts.append(_marker(total - expected))
    return "\n".join(parts)


def _marker(cut: int) -> str:
    return f"[… {cut} line{'s' if cut != 1 else ''} cut …]"
