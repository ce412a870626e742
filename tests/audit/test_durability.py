"""A checkpoint is never ahead of the durable chain (issue 10, item 4).

The chain commits with ``synchronous = NORMAL``: a commit sits in the WAL, not yet fsynced, and
a power loss may take it. A checkpoint is fsynced at once. Were it written before the records
it covers reached the disk, a crash would leave it ahead of the chain, and ``audit verify``
would cry "deleted". So before a checkpoint for #N is written, the trail moves the chain into
the main database file (a WAL checkpoint, which SQLite fsyncs) and fsyncs the WAL besides.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from logomesh.audit.checkpoints import Checkpoint, CheckpointSigner
from logomesh.audit.models import AuditEntry
from logomesh.audit.store import AuditStore
from logomesh.audit.trail import AuditTrail
from logomesh.commands.values import Outcome, Source
from logomesh.engine import Engine
from logomesh.storage.database import Database
from logomesh.storage.tables import Base


def _entries(n: int) -> list[AuditEntry]:
    return [
        AuditEntry(actor="alice", source=Source.CLI, action="test.record", outcome=Outcome.OK)
        for _ in range(n)
    ]


def _head_of_file_alone(db_file: Path, scratch: Path) -> int:
    """The chain head in the main database file as it is on disk, without its WAL."""
    copy = scratch / "main-file-only.db"
    shutil.copyfile(db_file, copy)  # no -wal beside it: only what the main file holds
    conn = sqlite3.connect(copy)
    try:
        row = conn.execute("SELECT max(seq) FROM audit_records").fetchone()
    finally:
        conn.close()
    return int(row[0] or 0)


class _WitnessSigner(CheckpointSigner):
    """A real signer that, as it writes each checkpoint, looks at the database file."""

    def __init__(self, key: Path, path: Path, db_file: Path, scratch: Path) -> None:
        super().__init__(key, path)
        self.db_file, self.scratch = db_file, scratch
        self.seen: list[tuple[int, int]] = []  # (checkpoint seq, head of the main file)

    def _append(self, checkpoint: Checkpoint) -> None:
        self.seen.append((checkpoint.seq, _head_of_file_alone(self.db_file, self.scratch)))
        super()._append(checkpoint)


def test_the_main_database_file_holds_the_chain_before_its_checkpoint(
    engine: Engine, tmp_path: Path
) -> None:
    """Provable from outside SQLite: when checkpoint #N is written, the database file itself
    (no WAL) already holds #N, and SQLite fsyncs that file when it checkpoints the WAL."""
    engine.audit.record_many(_entries(1))  # the schema exists, in WAL mode
    db_file = engine.database.path
    assert db_file is not None
    signer = _WitnessSigner(
        engine.settings.audit_key_path, engine.settings.checkpoint_path, db_file, tmp_path
    )
    trail = AuditTrail(
        AuditStore(engine.database),
        signer,
        spool_path=engine.audit.spool_path,
        checkpoint_every=10,
        checkpoint_interval_s=0,
    )
    for _ in range(3):
        trail.record_many(_entries(7))
    trail.checkpoint()  # on demand too
    assert signer.seen == [(10, 15), (20, 22), (22, 22)]
    assert trail.verify().ok


def test_a_database_older_than_its_checkpoint_is_reported_as_deleted_records(
    engine: Engine, tmp_path: Path
) -> None:
    """The issue's simulation: the database (with its WAL) as of before the last commits,
    beside a checkpoint file that is newer. With the chain durable before every checkpoint a
    crash cannot produce this, so verify says what it is, naming the records that are gone."""
    trail = engine.audit
    trail.record_many(_entries(3))
    db_file = engine.database.path
    assert db_file is not None
    saved = tmp_path / "before"
    saved.mkdir()
    for suffix in ("", "-wal"):
        shutil.copyfile(f"{db_file}{suffix}", saved / f"db{suffix}")
    trail.record_many(_entries(2))
    trail.checkpoint()  # at #5, fsynced
    engine.database.dispose()
    for suffix in ("", "-wal"):
        shutil.copyfile(saved / f"db{suffix}", f"{db_file}{suffix}")
    Path(f"{db_file}-shm").unlink(missing_ok=True)

    report = trail.verify()

    assert not report.ok and report.head_seq == 3
    [problem] = report.checkpoint_problems
    assert "the chain ends at #3 but a checkpoint" in problem and "vouches for #5" in problem
    assert "records #4-#5 were deleted" in problem
    assert "not a crash" in problem


_BLOCKED_CHECKPOINT = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from logomesh.audit.checkpoints import CheckpointSigner
    from logomesh.audit.models import AuditEntry
    from logomesh.audit.store import AuditStore
    from logomesh.audit.trail import AuditTrail
    from logomesh.commands.values import Outcome, Source
    from logomesh.storage.database import Database

    db_file, key, checkpoints = sys.argv[1:4]
    trail = AuditTrail(
        AuditStore(Database("sqlite:///" + db_file)),
        CheckpointSigner(Path(key), Path(checkpoints)),
        spool_path=Path(db_file).with_name("spool.jsonl"),
        checkpoint_every=10,
    )
    entry = lambda: AuditEntry(actor="a", source=Source.CLI, action="x", outcome=Outcome.OK)
    os.write(2, b"=== crossing batch\\n")
    trail.record_many([entry() for _ in range(12)])
    """
)


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to watch the fsyncs")
def test_the_wal_is_fsynced_before_a_checkpoint_a_reader_held_back(tmp_path: Path) -> None:
    """When a reader's snapshot keeps the new records in the WAL, the WAL itself is fsynced
    after their commit and before the checkpoint line is written (seen in the system calls)."""
    db_file = tmp_path / "audit.db"
    database = Database(f"sqlite:///{db_file}")
    Base.metadata.create_all(database.engine)
    database.dispose()
    # Another process (locks are per process) with everything so far in the database file
    # and a read snapshot open: the WAL checkpoint before the child's signature can move
    # nothing of the child's commit, and SQLite syncs nothing of it.
    reader = sqlite3.connect(db_file, isolation_level=None)
    reader.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM audit_records").fetchall()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    try:
        trace = subprocess.run(
            [
                *("strace", "-f", "-y", "-e", "trace=write,pwrite64,fsync,fdatasync"),
                *("-e", "signal=none", sys.executable, "-c", _BLOCKED_CHECKPOINT, str(db_file)),
                *(str(tmp_path / "key"), str(tmp_path / "checkpoints.jsonl")),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        reader.close()
    assert trace.returncode == 0, trace.stderr[-2000:]
    calls = trace.stderr.split("=== crossing batch", 1)[1].splitlines()
    wal = f"{db_file}-wal>"
    checkpoint_write = next(i for i, c in enumerate(calls) if "checkpoints.jsonl>" in c)
    # The commit's WAL writes come before the checkpoint line; the checkpoint's own row in
    # audit_checkpoints is published (another commit) after it.
    wal_writes = [i for i, c in enumerate(calls) if "write" in c and wal in c]
    last_wal_write = max(i for i in wal_writes if i < checkpoint_write)
    assert any(i > checkpoint_write for i in wal_writes), "the checkpoint was not published"
    synced = [c for c in calls[last_wal_write:checkpoint_write] if "sync(" in c and wal in c]
    assert last_wal_write < checkpoint_write and synced, "\n".join(calls)
