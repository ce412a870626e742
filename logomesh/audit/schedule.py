"""When the trail signs its head: the rule that writing follows and ``audit verify`` checks.

Two triggers, both on the write path:

* **Every ``checkpoint_every`` records.** A commit that adds the record at a multiple M of
  ``checkpoint_every`` signs record M itself (a batch that crosses several multiples signs
  each). ``audit verify`` therefore expects, for every multiple M up to the head, a valid
  checkpoint at a seq in [M, M + checkpoint_every); a missing one means the checkpoint file
  was cut or deleted (or a crash came between that commit and its signature). A missing one
  is never filled in later: a writer that signed old records on finding no checkpoint would
  also sign over the gap an attacker made by deleting the file.
* **After ``checkpoint_interval_s`` of quiet.** When the newest checkpoint (or, before the
  first, the first record) is older than the interval and records were added since, the
  head is signed: by the write that notices, or by the writer thread, which wakes up for it
  when it has nothing to write. These come on top of the periodic ones and replace none.

What no trigger covers: records written after the newest checkpoint, while no write and no
long-lived writer thread follows them (a one-shot CLI process that exits). They are held by
the hash chain and the append-only triggers until the next write signs them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Signed:
    """The newest checkpoint known: its seq and when it was signed (epoch seconds)."""

    seq: int
    at: float


def periodic_seqs(first: int, last: int, every: int) -> list[int]:
    """The multiples of ``every`` among seqs ``first``..``last`` (what a commit must sign)."""
    if every <= 0 or last < first:
        return []
    start = -(-first // every) * every
    return list(range(start, last + 1, every))


def expected_seqs(head: int, every: int) -> list[int]:
    """The multiples up to ``head`` that verify expects a checkpoint for."""
    return periodic_seqs(1, head, every)


def epoch(timestamp: str) -> float:
    """A stored RFC 3339 timestamp (``...Z``) as epoch seconds."""
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


class CheckpointSchedule:
    """The interval trigger's state: the newest checkpoint and the newest record written.

    ``newest`` reads the checkpoint file's tail and ``first_record_at`` the first record's
    time; both are called rarely (once, and again just before an interval checkpoint, since
    another process may have signed meanwhile).
    """

    def __init__(
        self,
        interval_s: float,
        newest: Callable[[], Signed | None],
        first_record_at: Callable[[], float | None],
    ) -> None:
        self.interval_s = interval_s
        self._read_newest = newest
        self._first_record_at = first_record_at
        self._lock = threading.Lock()
        self._loaded = False
        self._newest: Signed | None = None
        self._written = 0  # the newest seq this process wrote
        self._retry_at = 0.0

    def written(self, seq: int) -> None:
        with self._lock:
            self._written = max(self._written, seq)

    def signed(self, seq: int, at: float) -> None:
        with self._lock:
            if self._newest is None or seq >= self._newest.seq:
                self._newest = Signed(seq, at)
            self._loaded = True

    def postpone(self, now: float) -> None:
        """A checkpoint failed: try again an interval later, not in a tight loop."""
        with self._lock:
            self._retry_at = now + self.interval_s

    def seconds_until_due(self, now: float) -> float | None:
        """How long the writer thread may sleep; None while nothing waits to be signed."""
        if self.interval_s <= 0 or self._written == 0:
            return None
        reference = self._reference(self._written)
        if reference is None:
            return None
        return max(0.0, reference + self.interval_s - now, self._retry_at - now)

    def interval_due(self, head: int, now: float) -> bool:
        if self.interval_s <= 0 or now < self._retry_at:
            return False
        reference = self._reference(head)
        if reference is None or now - reference < self.interval_s:
            return False
        with self._lock:
            self._loaded = False  # look at the file again: another process may have signed
        reference = self._reference(head)
        return reference is not None and now - reference >= self.interval_s

    def _reference(self, head: int) -> float | None:
        """When the oldest record not known to be signed was, at the latest, still signed:
        the newest checkpoint's time, or the first record's before any checkpoint."""
        with self._lock:
            if not self._loaded:
                self._newest = self._read_newest()
                self._loaded = True
            newest = self._newest
        if newest is not None:
            return None if newest.seq >= head else newest.at
        return self._first_record_at()
