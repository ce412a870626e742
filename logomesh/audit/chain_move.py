"""An audit chain moving to another database: the copy checked, the old checkpoints set aside.

``db copy`` carries a chain, record for record, into another database; it then checks the
copy against this workspace's signed checkpoints with :func:`verify_copy`, before its own
audit record (written to the source after the copy) can be signed into the file and make
the two chains differ there.

A workspace's checkpoint file vouches for the chain of the database it used. When it
changes database (``logomesh init --team URL``), that file may hold checkpoints the new
chain cannot match: those of a local trail that was never copied, or, after ``db copy``,
those the old database signed of records it got after the copy (``db copy``'s own record,
at the least). Left in place, each would fail ``audit verify`` on the new chain, for ever.

So, at that one moment, the checkpoints the new chain confirms (same seq, same hash: a
copied trail's) stay, and the others are set aside: the whole file is first copied,
unchanged, to ``<name>.before-<label>.jsonl`` beside it, then rewritten with the kept lines,
byte for byte, under the same lock writers append with. Nothing is deleted, and the caller
says what was set aside and where. Unreadable lines stay where they are: they are a problem
of the file, and ``audit verify`` goes on reporting them.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from logomesh.audit.store import AuditStore
from logomesh.audit.verify import VerifyReport, verify_trail
from logomesh.errors import CheckpointError

if TYPE_CHECKING:
    from logomesh.audit.trail import AuditTrail
    from logomesh.storage.database import Database


@dataclass(frozen=True)
class CheckpointSplit:
    kept: int
    set_aside: int
    aside_file: Path | None  # the whole file as it was, when anything was set aside


def verify_copy(trail: AuditTrail, copy: Database) -> VerifyReport:
    """``audit verify`` of the chain in ``copy``, against ``trail``'s checkpoints and keys."""
    return verify_trail(
        AuditStore(copy),
        trail.signer,
        trail.trusted_keys,
        checkpoint_every=trail.checkpoint_every,
    )


def set_aside_foreign_checkpoints(
    database: Database, checkpoint_path: Path, label: str
) -> CheckpointSplit:
    """Keep in ``checkpoint_path`` only what ``database``'s chain confirms (see the module)."""
    store = AuditStore(database)
    if not checkpoint_path.exists():
        return CheckpointSplit(0, 0, None)
    try:
        with checkpoint_path.open("r+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # what CheckpointSigner appends under
            lines = handle.read().splitlines(keepends=True)
            vouched = {n: _seq_and_hash(line) for n, line in enumerate(lines)}
            seqs = sorted({found[0] for found in vouched.values() if found is not None})
            chain = {record.seq: record.hash for record in store.records(seqs)}
            foreign = {
                n
                for n, found in vouched.items()
                if found is not None and chain.get(found[0]) != found[1]
            }
            if not foreign:
                return CheckpointSplit(len(lines), 0, None)
            aside = _free_name(checkpoint_path, label)
            _write_durably(aside, lines)
            kept = [line for n, line in enumerate(lines) if n not in foreign]
            handle.seek(0)
            handle.truncate()
            handle.writelines(kept)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise CheckpointError(
            f"Cannot set aside the old chain's checkpoints in {checkpoint_path}: {exc}. "
            "Check the permissions of the file and its folder, then run the command again."
        ) from exc
    return CheckpointSplit(len(kept), len(foreign), aside)


def _seq_and_hash(line: str) -> tuple[int, str] | None:
    try:
        fields = json.loads(line)
        return int(fields["seq"]), str(fields["hash"])
    except (ValueError, TypeError, KeyError):
        return None  # blank or unreadable: left for verify to report


def _free_name(path: Path, label: str) -> Path:
    candidate = path.with_name(f"{path.stem}.before-{label}{path.suffix}")
    number = 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}.before-{label}-{number}{path.suffix}")
    return candidate


def _write_durably(path: Path, lines: list[str]) -> None:
    with path.open("x", encoding="utf-8") as handle:
        handle.writelines(lines)
        handle.flush()
        os.fsync(handle.fileno())
