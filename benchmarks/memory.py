"""Measured process memory: RSS and PSS from the kernel's own accounting (psutil).

RSS counts every resident page a process maps, shared ones (the interpreter, libraries) in
full; PSS divides each shared page among the processes that map it, so the PSS of a process
is what it adds to the machine. Figures are measured, never computed from array sizes: what a
structure costs includes the allocator's slack, copies made while building it and whatever
its code imported or touched for the first time.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class Memory:
    """One process's resident memory, in bytes."""

    rss: int
    pss: int

    def __sub__(self, other: Memory) -> Memory:
        return Memory(self.rss - other.rss, self.pss - other.pss)

    def summary(self, sign: str = "") -> str:
        """``RSS 12.3 MB, PSS 8.1 MB`` (``sign="+"`` for a difference)."""
        rss, pss = self.rss / MB, self.pss / MB
        return f"RSS {rss:{sign}.1f} MB, PSS {pss:{sign}.1f} MB"


def process_memory(pid: int | None = None) -> Memory:
    """The RSS and PSS of process ``pid`` (this process by default), read from /proc."""
    import psutil

    if pid is None:
        gc.collect()  # our own garbage is not what a figure measures
    info = psutil.Process(pid).memory_full_info()
    return Memory(int(info.rss), int(info.pss))
