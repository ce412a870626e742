"""Another process holding the database's write lock, as a terminal's ``db backup`` (SQLite)
or another machine's writer (PostgreSQL) beside a running server would: the tests that need
the lock held share this one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from logomesh.storage.database import AUDIT_LOCK_KEY, Database

_SQLITE_HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], timeout=5, isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""

# The advisory lock every LogoMesh writer takes (Database.write), held at session level.
_PG_HOLDER = """
import os, sys, time
import psycopg
conn = psycopg.connect(os.environ["HOLDER_CONNINFO"], autocommit=True)
conn.execute("SELECT pg_advisory_lock(%s)", (int(sys.argv[1]),))
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("SELECT pg_advisory_unlock(%s)", (int(sys.argv[1]),))
"""


@contextmanager
def write_lock_held(
    database: Path | Database | None, seconds: float
) -> Iterator[subprocess.Popen[str]]:
    """Hold the write lock for ``seconds`` from when the holder says so; on leaving, wait for
    it to let go (and kill it if it does not). ``database`` is a SQLite file, or a Database
    (its file on SQLite, its server on PostgreSQL)."""
    if isinstance(database, Database) and database.pg is not None:
        pg = database.pg
        conninfo = f"host={pg.host} port={pg.port} dbname={pg.database} user={pg.user}"
        argv = [sys.executable, "-c", _PG_HOLDER, str(AUDIT_LOCK_KEY), str(seconds)]
        env = {"HOLDER_CONNINFO": conninfo, "PGPASSWORD": pg.password or ""}
    else:
        path = database.path if isinstance(database, Database) else database
        assert path is not None
        argv = [sys.executable, "-c", _SQLITE_HOLDER, str(path), str(seconds)]
        env = {}

    holder = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env={**os.environ, **env})
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        yield holder
        holder.wait(timeout=seconds + 30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
