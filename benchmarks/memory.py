"""Measured process memory: RSS, PSS and USS from the kernel's own accounting (psutil).

RSS counts every resident page a process maps, shared ones (the interpreter, libraries) in
full; PSS divides each shared page among the processes that map it, so the PSS of a process
is what it adds to the machine; USS counts only its private pages. For what one structure
costs inside a process the USS and RSS differences are the steady ones: a PSS difference
also moves when *other* processes map or unmap the same libraries.

Figures are measured, never computed from array sizes: what a structure costs includes the
allocator's slack, copies made while building it and whatever its code imported or touched
for the first time.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class Memory:
    """One process's resident memory, in bytes."""

    rss: int
    pss: int
    uss: int

    def __sub__(self, other: Memory) -> Memory:
        return Memory(self.rss - other.rss, self.pss - other.pss, self.uss - other.uss)

    def summary(self, sign: str = "") -> str:
        """``RSS 12.3 MB, PSS 8.1 MB, USS 7.0 MB`` (``sign="+"`` for a difference)."""
        parts = (("RSS", self.rss), ("PSS", self.pss), ("USS", self.uss))
        return ", ".join(f"{name} {value / MB:{sign}.1f} MB" for name, value in parts)


def process_memory(pid: int | None = None) -> Memory:
    """The RSS, PSS and USS of process ``pid`` (this process by default), from /proc."""
    import psutil

    if pid is None:
        gc.collect()  # our own garbage is not what a figure measures
    info = psutil.Process(pid).memory_full_info()
    return Memory(int(info.rss), int(info.pss), int(info.uss))


def steady_memory(pid: int, *, timeout_s: float = 120.0) -> Memory:
    """Process ``pid``'s memory once a start's background warm-up is over: its RSS unchanged
    (within 1 MB) for 2 s, or as it last was after ``timeout_s``."""
    previous = process_memory(pid)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(2)
        now = process_memory(pid)
        if abs(now.rss - previous.rss) < MB:
            return now
        previous = now
    return previous
