"""The audit trail as the engine uses it: append, checkpoint on schedule, never lose a record.

When the database cannot take a record (locked past the busy timeout, corrupt, its disk
full) the record, already redacted, goes to a spool file beside the database and is chained
in, in order, by the next append that succeeds (:mod:`logomesh.audit.spool`). A failing
audit write therefore delays a record but does not drop it, and the person is told.

Checkpoints follow :mod:`logomesh.audit.schedule`; each is written to this machine's file,
then published to the database for the team (:mod:`logomesh.audit.shared_checkpoints`).
Before one is written the chain it covers is made durable (:meth:`Database.make_durable`):
the chain commits with ``synchronous = NORMAL`` while a checkpoint is fsynced at once, and a
checkpoint that a power loss left ahead of the chain would be indistinguishable from
deleted records.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from logomesh.audit.checkpoints import Checkpoint, CheckpointSigner
from logomesh.audit.models import AuditEntry, AuditRecord
from logomesh.audit.schedule import CheckpointSchedule, Signed, epoch, periodic_seqs
from logomesh.audit.shared_checkpoints import SharedCheckpoints
from logomesh.audit.spool import Spool
from logomesh.audit.store import AuditStore
from logomesh.audit.verify import VerifyReport, verify_trail
from logomesh.errors import (
    AuditError,
    AuditSpooledError,
    CheckpointError,
    LogoMeshError,
    StorageError,
)

logger = logging.getLogger(__name__)


class AuditTrail:
    def __init__(
        self,
        store: AuditStore,
        signer: CheckpointSigner,
        *,
        spool_path: Path,
        checkpoint_every: int = 1000,
        checkpoint_interval_s: float = 0.0,
        trusted_keys: tuple[str, ...] = (),
        prepare: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.signer = signer
        # Every checkpoint also goes to the database, for the team's other machines.
        self.shared = SharedCheckpoints(store.db)
        self._spool = Spool(spool_path)
        self.checkpoint_every = checkpoint_every
        self.trusted_keys = trusted_keys
        # Readies the schema before a write (the engine's migrations); a storage error it
        # raises (a corrupt file, a failed migration) spools the record like a failed write.
        self._prepare = prepare
        self._first_record_at: float | None = None
        self._schedule = CheckpointSchedule(
            checkpoint_interval_s, self._newest_checkpoint, self._first_record_time
        )

    @property
    def spool_path(self) -> Path:
        return self._spool.path

    @property
    def quarantine_path(self) -> Path:
        return self._spool.quarantine_path

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
            self.spool_or_lose(entries, exc.user_message)
            raise AuditSpooledError(
                f"{exc.user_message} The audit record was kept in {self.spool_path} and will "
                "be added to the trail by the next successful write.",
                code=exc.code,
            ) from exc
        self._checkpoint_if_due(records)
        return records

    def spool_or_lose(self, entries: Sequence[AuditEntry], why: str) -> None:
        """Spool ``entries``; a spool that cannot be written either (a full disk, a read-only
        state directory) is an ``audit.lost`` error, not a crash of the writer."""
        try:
            self.spool(entries)
        except OSError as exc:
            raise AuditError(
                f"The audit record could not be written ({why}) nor spooled to "
                f"{self.spool_path} ({exc}). Free disk space or fix the permissions of the "
                "state directory.",
                code="audit.lost",
            ) from exc

    def checkpoint(self) -> Checkpoint:
        head = self.store.head()
        if head.seq == 0:
            raise CheckpointError("The audit trail is empty; there is nothing to checkpoint.")
        self.store.db.make_durable()
        return self._sign(head.seq, head.hash)

    def verify(self, *, allow_missing_checkpoints: bool = False) -> VerifyReport:
        report = verify_trail(
            self.store,
            self.signer,
            self.trusted_keys,
            checkpoint_every=self.checkpoint_every,
            allow_missing_checkpoints=allow_missing_checkpoints,
        )
        report.spool_quarantined = self.quarantined()
        report.quarantine_file = str(self.quarantine_path)
        return report

    def spooled(self) -> int:
        return self._spool.count()

    def quarantined(self) -> int:
        """Unreadable spool lines kept in the quarantine file, waiting for a person."""
        return self._spool.quarantined()

    def drain_spool(self) -> int:
        """Chain in spooled records, oldest first; returns how many were added.

        Records already stored (a drain that crashed before its truncate) are skipped;
        unreadable lines become quarantine events (:mod:`logomesh.audit.spool`)."""
        if not self._spool.has_lines():
            return 0  # the usual case, checked without opening or locking the file
        try:
            with self._spool.draining() as drain:
                records = self.store.append_many(drain.entries, skip_stored=True)
        except FileNotFoundError:
            return 0  # removed by hand since the size check: nothing to drain
        if drain.unreadable:
            logger.warning(
                "%d unreadable audit spool line(s) moved to %s",
                len(drain.unreadable),
                self.quarantine_path,
            )
        self._checkpoint_if_due(records)
        logger.info("added %d spooled audit record(s) to the trail", len(records))
        return len(records)

    def spool(self, entries: Sequence[AuditEntry]) -> None:
        """Keep entries, redacted, in the spool file until a write can chain them in."""
        self._spool.append(entries)

    # -- checkpoints on schedule -------------------------------------------------------

    def seconds_until_checkpoint(self) -> float | None:
        """How long the writer thread may wait for work before a quiet trail is signed."""
        now = time.time()
        try:
            return self._schedule.seconds_until_due(now)
        except (LogoMeshError, OSError, ValueError):
            # The database or the checkpoint file cannot be read now: look again later
            # (an error here must not stop the writer thread).
            self._schedule.postpone(now)
            return self._schedule.interval_s

    def checkpoint_if_quiet(self) -> Checkpoint | None:
        """Sign the head if the interval has passed with records unsigned (writer thread)."""
        now = time.time()
        try:
            head = self.store.head()
            if head.seq == 0:  # the database was replaced by an empty one: nothing to sign
                self._schedule.postpone(now)
                return None
            if not self._schedule.interval_due(head.seq, now):
                return None
            self.store.db.make_durable()
            return self._sign(head.seq, head.hash)
        except (LogoMeshError, OSError, ValueError):
            self._schedule.postpone(now)
            raise

    def _checkpoint_if_due(self, records: list[AuditRecord]) -> None:
        if not records:
            return
        first, last = records[0], records[-1]
        self._schedule.written(last.seq)
        due = [(seq, records[seq - first.seq].hash) for seq in self._periodic(first, last)]
        # The records are stored: nothing here may fail the write that stored them.
        try:
            # A periodic checkpoint makes the newest one fresh: the interval is then not due.
            if not due and self._schedule.interval_due(last.seq, time.time()):
                due = [(last.seq, last.hash)]
            if due:
                # Durable first: a checkpoint must never be ahead of the chain on disk.
                self.store.db.make_durable()
            for seq, head_hash in due:
                self._sign(seq, head_hash)
        except (LogoMeshError, OSError, ValueError):
            self._schedule.postpone(time.time())
            logger.exception("could not write the audit checkpoint")

    def _periodic(self, first: AuditRecord, last: AuditRecord) -> list[int]:
        return periodic_seqs(first.seq, last.seq, self.checkpoint_every)

    def _sign(self, seq: int, head_hash: str) -> Checkpoint:
        checkpoint = self.signer.sign(seq, head_hash)
        self._schedule.signed(seq, epoch(checkpoint.signed_at))
        # After the file: the machine's own evidence first. A failure is logged and the
        # checkpoint published with the next one; it fails nothing.
        self.shared.publish(checkpoint)
        return checkpoint

    def _newest_checkpoint(self) -> Signed | None:
        newest = self.signer.newest()
        return Signed(newest.seq, epoch(newest.signed_at)) if newest else None

    def _first_record_time(self) -> float | None:
        if self._first_record_at is None:
            first = self.store.record_at(1)
            self._first_record_at = epoch(first.timestamp) if first else None
        return self._first_record_at
