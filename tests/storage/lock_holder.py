"""Another process holding a SQLite database's write lock, as a terminal's ``db backup``
beside a running server would: the tests that need the lock held share this one."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], timeout=5, isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


@contextmanager
def write_lock_held(database: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Hold the write lock for ``seconds`` from when the holder says so; on leaving, wait for
    it to let go (and kill it if it does not)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(database), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        yield holder
        holder.wait(timeout=seconds + 30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
