"""Checkpoints published beside the trail, so every machine of a team can check them all.

A machine signs the checkpoints its own writers cross and keeps them in its own file
(:mod:`.checkpoints`): its evidence, outside the database. On one trail shared by several
machines no file holds every periodic checkpoint, so each is also published to the
``audit_checkpoints`` table (migration 0007), and ``audit verify`` takes the union of the
file and the table (:mod:`.verify`). The table is not trusted for being there: a row counts
only when its key is trusted and its signature verifies, and rows are append-only, so a row
deleted by someone who dropped the triggers leaves a gap verify reports.

Publishing never fails the write whose checkpoint it is: the checkpoint is already in the
file; one that cannot be published (the database down, the table dropped) waits in memory
and goes with the next one this process signs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from sqlalchemy import inspect, select, text

from logomesh.audit.checkpoints import Checkpoint
from logomesh.errors import LogoMeshError, StorageError
from logomesh.storage.database import Database
from logomesh.storage.tables import audit_checkpoints

logger = logging.getLogger(__name__)

TABLE = "audit_checkpoints"
# ON CONFLICT without a target: the same words in SQLite and PostgreSQL. A machine that
# signs a seq again (an explicit checkpoint at a quiet head) keeps its first row.
_INSERT = text(
    "INSERT INTO audit_checkpoints (seq, public_key, hash, signed_at, signature) "
    "VALUES (:seq, :public_key, :hash, :signed_at, :signature) ON CONFLICT DO NOTHING"
)


@dataclass(frozen=True)
class TableRead:
    """What the table held; ``missing`` when there is no table to read (dropped, or a
    schema older than migration 0007)."""

    checkpoints: list[Checkpoint]
    missing: bool = False


class SharedCheckpoints:
    """The ``audit_checkpoints`` table of one database, and this process's unpublished ones."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._pending: list[Checkpoint] = []

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def publish(self, checkpoint: Checkpoint) -> bool:
        """Publish ``checkpoint`` and any earlier one that could not be; False (logged) when
        the database refused: they are tried again with the next checkpoint."""
        with self._lock:
            self._pending.append(checkpoint)
            waiting = list(self._pending)
            try:
                self._insert(waiting)
            except (LogoMeshError, OSError) as exc:
                reason = exc.user_message if isinstance(exc, LogoMeshError) else str(exc)
                logger.warning(
                    "could not publish %d audit checkpoint(s) to %s on %s (kept in the "
                    "checkpoint file; tried again at the next checkpoint): %s",
                    len(waiting),
                    TABLE,
                    self.db.where,
                    reason,
                )
                return False
            self._pending.clear()
            return True

    def read(self) -> TableRead:
        try:
            with self.db.read() as conn:
                rows = conn.execute(select(audit_checkpoints)).mappings().all()
        except StorageError:
            if not self._table_exists():
                return TableRead([], missing=True)
            raise
        return TableRead([Checkpoint(**{name: row[name] for name in _FIELDS}) for row in rows])

    def _insert(self, checkpoints: Sequence[Checkpoint]) -> None:
        with self.db.transaction() as conn:  # no place in the chain needed
            conn.execute(_INSERT, [asdict(checkpoint) for checkpoint in checkpoints])

    def _table_exists(self) -> bool:
        with self.db.read() as conn:
            return inspect(conn).has_table(TABLE)


_FIELDS = ("seq", "hash", "signed_at", "public_key", "signature")
