"""The audit trail as the engine uses it: append, checkpoint on schedule, never lose a record.

When the database cannot take a record (locked past the busy timeout, corrupt, its disk
full) the record, already redacted, goes to a spool file beside the database and is chained
in, in order, by the next append that succeeds. A failing audit write therefore delays a
record but does not drop it, and the person is told.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

from logomesh.audit.checkpoints import Checkpoint, CheckpointSigner
from logomesh.audit.models import AuditEntry, AuditRecord
from logomesh.audit.store import AuditStore
from logomesh.audit.verify import VerifyReport, verify_trail
from logomesh.commands.values import Outcome, Source
from logomesh.errors import AuditError, CheckpointError, StorageError
from logomesh.security.redaction import redact, redact_text

logger = logging.getLogger(__name__)


class AuditTrail:
    def __init__(
        self,
        store: AuditStore,
        signer: CheckpointSigner,
        *,
        spool_path: Path,
        checkpoint_every: int = 1000,
        trusted_keys: tuple[str, ...] = (),
        prepare: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.signer = signer
        self.spool_path = spool_path
        self.checkpoint_every = checkpoint_every
        self.trusted_keys = trusted_keys
        # Readies the schema before a write (the engine's migrations); a storage error it
        # raises (a corrupt file, a failed migration) spools the record like a failed write.
        self._prepare = prepare

    def record(self, entry: AuditEntry) -> AuditRecord:
        """Append one entry; on a storage failure spool it and raise AuditError saying so."""
        return self.record_many([entry])[0]

    def record_many(self, entries: Sequence[AuditEntry]) -> list[AuditRecord]:
        try:
            if self._prepare is not None:
                self._prepare()
            self.drain_spool()
            records = self.store.append_many(entries)
        except StorageError as exc:
            self.spool(entries)
            raise AuditError(
                f"{exc.user_message} The audit record was kept in {self.spool_path} and will "
                "be added to the trail by the next successful write.",
                code=exc.code,
            ) from exc
        self._checkpoint_if_due(records)
        return records

    def checkpoint(self) -> Checkpoint:
        head = self.store.head()
        if head.seq == 0:
            raise CheckpointError("The audit trail is empty; there is nothing to checkpoint.")
        return self.signer.sign(head.seq, head.hash)

    def verify(self) -> VerifyReport:
        return verify_trail(self.store, self.signer, self.trusted_keys)

    def spooled(self) -> int:
        if not self.spool_path.exists():
            return 0
        with self.spool_path.open(encoding="utf-8") as handle:
            return sum(1 for line in handle if line.strip())

    def drain_spool(self) -> int:
        """Chain in spooled records, oldest first; returns how many were added."""
        try:
            if self.spool_path.stat().st_size == 0:
                return 0  # the usual case, checked without opening or locking the file
        except FileNotFoundError:
            return 0
        with self.spool_path.open("r+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            lines = [line for line in handle.read().splitlines() if line.strip()]
            if not lines:
                return 0
            entries = [_entry_from_json(line) for line in lines]
            records = self.store.append_many(entries)
            # Emptied under the lock and never unlinked: a writer waiting for the lock holds
            # this same file open, and what it appends must not go to a file nobody reads.
            handle.seek(0)
            handle.truncate()
        self._checkpoint_if_due(records)
        logger.info("added %d spooled audit record(s) to the trail", len(records))
        return len(records)

    def spool(self, entries: Sequence[AuditEntry]) -> None:
        """Keep entries, redacted, in the spool file until a write can chain them in."""
        now = datetime.now(UTC)
        self.spool_path.parent.mkdir(parents=True, exist_ok=True)
        with self.spool_path.open("a", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            for entry in entries:
                handle.write(_entry_to_json(entry, now) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def _checkpoint_if_due(self, records: list[AuditRecord]) -> None:
        every = self.checkpoint_every
        if every <= 0 or not records:
            return
        first, last = records[0].seq, records[-1].seq
        if last // every > (first - 1) // every:
            try:
                self.signer.sign(last, records[-1].hash)
            except CheckpointError:
                logger.exception("could not write the periodic audit checkpoint")


def _entry_to_json(entry: AuditEntry, now: datetime) -> str:
    # Redact before the spool touches the disk: the spool is as secret-free as the table.
    redacted = replace(
        entry,
        arguments=redact(dict(entry.arguments)),
        details=redact(dict(entry.details)),
        error=redact_text(entry.error) if entry.error else entry.error,
        target=redact_text(entry.target) if entry.target else entry.target,
        prompt=redact_text(entry.prompt) if entry.prompt else entry.prompt,
        response=redact_text(entry.response) if entry.response else entry.response,
        output=redact_text(entry.output) if entry.output else entry.output,
        timestamp=entry.timestamp or now,
    )
    values = asdict(redacted)
    values["timestamp"] = values["timestamp"].isoformat()
    return json.dumps(values, default=str, sort_keys=True)


def _entry_from_json(line: str) -> AuditEntry:
    try:
        values = json.loads(line)
        values["timestamp"] = datetime.fromisoformat(values["timestamp"])
        values["source"] = Source(values["source"])
        values["outcome"] = Outcome(values["outcome"])
        return AuditEntry(**values)
    except (ValueError, TypeError, KeyError) as exc:
        raise AuditError(
            f"A line of the audit spool is unreadable ({exc}); fix or move the spool file "
            "aside, then retry."
        ) from exc
