"""Schema migrations with a safety net: back up, migrate in one transaction, restore on failure.

Alembic does the migrating; this module decides *when* and makes it safe. Before any
revision runs, a consistent copy of the database is taken with SQLite's online backup API.
All pending revisions then run in one transaction that holds the write lock, so other
LogoMesh processes wait rather than see half a schema. If anything fails the transaction
rolls back and the backup is restored, so a failed upgrade leaves the database exactly as it
was, and the error says so.

On PostgreSQL, DDL is transactional: a revision that fails halfway is rolled back whole,
schema and data, and that one transaction is what protects the data. A ``pg_dump`` backup
is taken first as well when ``pg_dump`` is on PATH (:mod:`logomesh.storage.pg_dump`);
:attr:`MigrationResult.protection` says which of the two there was.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError as AlembicCommandError
from sqlalchemy import inspect

from logomesh.errors import BackupError, LogoMeshError, MigrationError, StorageError
from logomesh.storage import pg_dump, sqlite
from logomesh.storage.database import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class MigrationStatus:
    current: str | None
    head: str
    pending: tuple[str, ...]
    backups: tuple[Path, ...]

    @property
    def up_to_date(self) -> bool:
        return not self.pending


@dataclass(frozen=True)
class MigrationResult:
    from_revision: str | None
    to_revision: str | None
    applied: tuple[str, ...]
    backup: Path | None
    # What kept the data safe while it ran, in words (a backup, one transaction).
    protection: str | None = None


_ONE_TRANSACTION = (
    "the migration ran in one transaction, which PostgreSQL rolls back whole (schema and "
    "data) if any revision fails"
)


class Migrator:
    """Applies, reverts, backs up and restores the schema of one database."""

    def __init__(
        self,
        db: Database,
        backup_dir: Path,
        *,
        keep_backups: int = 10,
        extra_version_dirs: tuple[Path, ...] = (),
    ) -> None:
        self.db = db
        self.backup_dir = backup_dir
        self.keep_backups = keep_backups
        self.config = Config()
        self.config.set_main_option("script_location", str(MIGRATIONS_DIR))
        self.config.set_main_option("path_separator", "os")
        locations = [MIGRATIONS_DIR / "versions", *extra_version_dirs]
        self.config.set_main_option("version_locations", os.pathsep.join(map(str, locations)))
        self.scripts = ScriptDirectory.from_config(self.config)

    # -- inspection ----------------------------------------------------------------------

    def current(self) -> str | None:
        with self.db.read() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head(self) -> str:
        heads = self.scripts.get_heads()
        if len(heads) != 1:
            raise MigrationError(f"The migrations have {len(heads)} heads; expected one.")
        return heads[0]

    def pending(self) -> tuple[str, ...]:
        current = self.current()
        revisions = self.scripts.iterate_revisions(self.head(), current)
        return tuple(reversed([rev.revision for rev in revisions]))

    def status(self) -> MigrationStatus:
        return MigrationStatus(self.current(), self.head(), self.pending(), self.list_backups())

    def has_user_tables(self) -> bool:
        with self.db.read() as conn:
            return bool(inspect(conn).get_table_names())

    # -- changes -------------------------------------------------------------------------

    def upgrade(self, target: str = "head") -> MigrationResult:
        return self._migrate("upgrade", target)

    def downgrade(self, target: str) -> MigrationResult:
        return self._migrate("downgrade", target)

    def backup(
        self,
        destination: Path | None = None,
        *,
        label: str | None = None,
        stop: threading.Event | None = None,
    ) -> Path:
        """Copy the database to ``destination`` (default: a new file in the backup folder);
        with ``stop``, give up part-way once it is set, leaving no file (see sqlite.backup).
        On PostgreSQL the copy is a ``pg_dump`` (a BackupError without it)."""
        if self.db.pg is not None:
            return self._dump(destination, label=label, stop=stop)
        path = self._require_sqlite_file("back up")
        if not path.exists():
            raise BackupError(f"There is no database at {path} to back up yet.")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"logomesh-{stamp}-{label or self.current() or 'empty'}.db"
        target = destination or self.backup_dir / name
        sqlite.backup(path, target, stop=stop)
        if destination is None:
            self._prune_backups()
        return target

    def require_restorable(self) -> None:
        """Refuse (saying how to do it by hand) where LogoMesh does not restore itself."""
        if self.db.pg is not None:
            raise BackupError(pg_dump.restore_instructions(self.db.pg))
        self._require_sqlite_file("restore")

    def restore(self, backup_file: Path) -> None:
        self.require_restorable()
        path = self._require_sqlite_file("restore")
        # Connections in the pool would keep pages of the old file; drop them first.
        self.db.dispose()
        sqlite.restore(backup_file, path)
        self.db.dispose()

    def list_backups(self) -> tuple[Path, ...]:
        if not self.backup_dir.is_dir():
            return ()
        found = [
            *self.backup_dir.glob("logomesh-*.db"),
            *self.backup_dir.glob(f"logomesh-*{pg_dump.DUMP_SUFFIX}"),
        ]
        return tuple(sorted(found))

    # -- internals -----------------------------------------------------------------------

    def _migrate(self, direction: str, target: str) -> MigrationResult:
        problem = self.db.integrity_problem()
        if problem is not None:
            raise self.db.corrupt_error(problem)
        backup: Path | None = None
        before: str | None = None
        protection: str | None = None
        try:
            with self.db.write() as conn:
                # Copy and migrate under one write lock: no other process can write in
                # between, so the backup is exactly what the migration started from.
                before = self.current()
                if self.db.pg is not None:
                    backup, protection = self._dump_before_change()
                else:
                    backup = self._backup_before_change()
                self.config.attributes["connection"] = conn
                if direction == "upgrade":
                    command.upgrade(self.config, target)
                else:
                    command.downgrade(self.config, target)
        except (AlembicCommandError, KeyError) as exc:
            raise MigrationError(
                f"Cannot {direction} to {target!r}: {exc}. See `logomesh db status` for "
                "known revisions."
            ) from exc
        except Exception as exc:
            raise self._recover_after_failure(direction, target, before, backup, exc) from exc
        finally:
            self.config.attributes.pop("connection", None)
        after = self.current()
        applied = self._revisions_between(before, after)
        if protection is None and backup is not None:
            protection = f"a backup taken just before, at {backup}"
        return MigrationResult(before, after, applied, backup, protection if applied else None)

    def _revisions_between(self, before: str | None, after: str | None) -> tuple[str, ...]:
        if before == after:
            return ()
        upper, lower = (after, before) if self._is_ancestor(before, after) else (before, after)
        if upper is None:
            return ()
        return tuple(rev.revision for rev in self.scripts.iterate_revisions(upper, lower))

    def _is_ancestor(self, older: str | None, newer: str | None) -> bool:
        if newer is None:
            return False
        if older is None:
            return True
        return any(rev.revision == older for rev in self.scripts.iterate_revisions(newer, "base"))

    def _backup_before_change(self) -> Path | None:
        if self.db.path is None or not self.db.path.exists() or not self.has_user_tables():
            return None
        return self.backup(label=f"pre-migration-{self.current() or 'empty'}")

    def _dump_before_change(self) -> tuple[Path | None, str]:
        """A pg_dump before a PostgreSQL migration when there is one, and what protects
        the data either way (the transaction always does)."""
        if not self.has_user_tables():
            return None, f"nothing to back up yet (a new database); {_ONE_TRANSACTION}"
        if pg_dump.find_pg_dump() is None:
            return None, f"no backup (pg_dump is not on PATH); {_ONE_TRANSACTION}"
        try:
            path = self.backup(label=f"pre-migration-{self.current() or 'empty'}")
        except BackupError as exc:
            # The transaction still protects the data; a failing pg_dump (one older than
            # the server) must not stop every LogoMesh process from starting.
            return None, f"no backup ({exc.user_message}); {_ONE_TRANSACTION}"
        return path, f"a pg_dump backup at {path}, and {_ONE_TRANSACTION}"

    def _dump(
        self, destination: Path | None, *, label: str | None, stop: threading.Event | None
    ) -> Path:
        assert self.db.pg is not None
        program = pg_dump.find_pg_dump()
        if program is None:
            raise pg_dump.no_pg_dump(self.db.pg)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"logomesh-{stamp}-{label or self.current() or 'empty'}{pg_dump.DUMP_SUFFIX}"
        target = pg_dump.dump(
            self.db.pg, destination or self.backup_dir / name, program=program, stop=stop
        )
        if destination is None:
            self._prune_backups()
        return target

    def _recover_after_failure(
        self,
        direction: str,
        target: str,
        before: str | None,
        backup: Path | None,
        exc: Exception,
    ) -> StorageError:
        """Leave the database as it was before the failed migration, and say how."""
        detail = exc.user_message if isinstance(exc, LogoMeshError) else f"{exc}"
        failed = f"The {direction} to {target!r} failed ({detail})"
        if self._rolled_back_cleanly(before):
            # The transaction undid everything. Restoring the backup now would also undo
            # whatever other processes wrote since the lock was released.
            kept = f" A backup taken just before it is at {backup}." if backup else ""
            return MigrationError(
                f"{failed}. Its transaction was rolled back and the database is exactly as it "
                f"was; nothing was lost.{kept}"
            )
        if self.db.pg is not None:
            # The state could not be read back (the server went away): the transaction
            # either committed whole or not at all.
            return MigrationError(
                f"{failed}. It ran in one transaction, so PostgreSQL holds either the schema "
                "as it was or, if the commit landed just before the connection was lost, the "
                "whole migration; never half of it. `logomesh db status` says which once the "
                "server is reachable; `logomesh db upgrade` then finishes the job."
            )
        if backup is None:
            return MigrationError(
                f"{failed}, and the database no longer matches its state before. No backup "
                "was needed then (it was empty): move the file away and run `logomesh init`."
            )
        try:
            self.restore(backup)
        except StorageError as restore_exc:
            return MigrationError(
                f"{failed} and restoring the backup {backup} also failed "
                f"({restore_exc.user_message}). Restore it by hand with "
                f"`logomesh db restore {backup}`."
            )
        return MigrationError(
            f"{failed}. The database was restored from {backup}; nothing was lost."
        )

    def _rolled_back_cleanly(self, before: str | None) -> bool:
        try:
            return self.db.integrity_problem() is None and self.current() == before
        except StorageError:
            return False

    def _prune_backups(self) -> None:
        for old in self.list_backups()[: -self.keep_backups]:
            old.unlink(missing_ok=True)

    def _require_sqlite_file(self, action: str) -> Path:
        if self.db.path is None:
            raise BackupError(
                f"LogoMesh can only {action} SQLite databases itself; use your database's "
                f"own tools for {self.db.display_url}."
            )
        return self.db.path
