"""Schema migrations, backups and restores on real SQLite files, and their safety net."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import inspect

from logomesh.audit.models import AuditEntry
from logomesh.commands.models import CommandResult
from logomesh.commands.values import Outcome, Source
from logomesh.engine import Engine
from logomesh.errors import MigrationError
from logomesh.storage.migrate import Migrator

HEAD = "0007_shared_checkpoints"
REVISIONS = ["0001_audit_trail", "0002_approvals", "0003_vector_model", "0004_pipeline_runs",
             "0005_pgvector", "0006_job_queue", HEAD]  # fmt: skip

BROKEN_REVISION = '''
"""A revision that fails halfway, after changing the schema and the data."""

import sqlalchemy as sa
from alembic import op

revision = "0099_broken"
down_revision = "0007_shared_checkpoints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("half_done", sa.Column("id", sa.Integer(), primary_key=True))
    op.execute("INSERT INTO half_done (id) VALUES (1)")
    op.add_column("audit_payloads", sa.Column("note", sa.Text()))
    raise RuntimeError("revision 0099 exploded")


def downgrade() -> None:
    op.drop_table("half_done")
'''

DAMAGING_REVISION = '''
"""A revision that fails after damaging the file itself (a disk fault, a bad extension):
the transaction's rollback cannot repair that, so the migrator must restore its backup."""

from pathlib import Path

from alembic import op

revision = "0099_damaging"
down_revision = "0007_shared_checkpoints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    path = Path(op.get_bind().engine.url.database)
    with path.open("r+b") as handle:
        handle.write(b"\\x00garbage" * 10)
    for side in ("-wal", "-shm"):
        Path(f"{path}{side}").unlink(missing_ok=True)
    raise RuntimeError("revision 0099 damaged the file")


def downgrade() -> None:
    pass
'''

WORKING_REVISION = '''
"""A revision that works, to show extra version directories are honoured."""

import sqlalchemy as sa
from alembic import op

revision = "0099_notes"
down_revision = "0007_shared_checkpoints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("notes", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("notes")
'''


def _tables(engine: Engine) -> set[str]:
    with engine.database.read() as conn:
        return set(inspect(conn).get_table_names())


def _append(engine: Engine, count: int) -> None:
    engine.audit.store.append_many(
        [
            AuditEntry(
                actor="alice", source=Source.CLI, action="t", outcome=Outcome.OK, output=f"o{i}"
            )
            for i in range(count)
        ]
    )


def _migrator_with(engine: Engine, tmp_path: Path, source: str, name: str) -> Migrator:
    versions = tmp_path / "extra_versions"
    versions.mkdir(exist_ok=True)
    (versions / f"{name}.py").write_text(textwrap.dedent(source))
    return Migrator(engine.database, engine.settings.backup_dir, extra_version_dirs=(versions,))


def test_fresh_database_is_migrated_on_first_use(
    engine: Engine, run: Callable[..., CommandResult]
) -> None:
    """No file exists until a command needs it; then it is created at the head revision."""
    path = engine.settings.state_dir / "logomesh.db"
    assert not path.exists()
    result = run("status")
    assert result.ok, result.message
    assert path.is_file()
    assert engine.migrator.current() == HEAD
    assert {"audit_records", "audit_payloads", "alembic_version"} <= _tables(engine)
    assert result.data["schema"] == HEAD and result.data["schema_up_to_date"] is True
    # The first command's own record is the first link of the chain.
    assert engine.audit.store.head().seq == 1
    assert engine.migrator.list_backups() == ()  # nothing worth backing up yet


def test_db_status_reports_revision_and_backups(
    engine: Engine, run: Callable[..., CommandResult]
) -> None:
    """db.status shows current and head revisions, pending ones and the backups taken."""
    first = run("db.status")  # reads the schema as it finds it; its own record migrates
    assert first.ok, first.message
    assert (first.data["current"], first.data["pending"]) == (None, REVISIONS)
    assert f"{len(REVISIONS)} migrations pending" in first.message

    result = run("db.status")
    assert result.data["current"] == result.data["head"] == HEAD
    assert result.data["pending"] == []
    assert result.data["backups"] == []
    assert str(engine.settings.state_dir / "logomesh.db") in result.data["database"]
    assert "up to date" in result.message

    assert run("db.backup", confirmed=True).ok
    backups = run("db.status").data["backups"]
    assert len(backups) == 1 and Path(backups[0]).parent == engine.settings.backup_dir


def test_backup_then_restore_brings_back_earlier_content(
    engine: Engine, run: Callable[..., CommandResult], tmp_path: Path
) -> None:
    """Records written after a backup are gone after restoring it; the chain stays valid."""
    _append(engine, 5)
    backup = tmp_path / "before.db"
    result = run("db.backup", confirmed=True, path=str(backup))
    assert result.ok, result.message
    assert backup.is_file() and result.data["bytes"] == backup.stat().st_size
    assert engine.audit.store.head().seq == 6  # db.backup's own record, after the copy

    _append(engine, 10)
    assert engine.audit.store.count() == 16

    result = run("db.restore", confirmed=True, path=str(backup))
    assert result.ok, result.message
    previous = Path(result.data["previous"])
    assert previous.is_file() and "pre-restore" in previous.name

    # The copy held the five records; db.restore's own record now follows them.
    records = [r for batch in engine.audit.store.iter_all() for r in batch]
    assert [r.action for r in records] == ["t"] * 5 + ["db.restore"]
    report = engine.audit.verify()
    assert report.ok, report.summary()

    result = run("db.backup", confirmed=True, path=str(backup))
    assert result.error is not None and "already exists" in result.error.message


def test_restore_needs_confirmation_and_an_existing_file(
    run: Callable[..., CommandResult], tmp_path: Path
) -> None:
    """db.restore is dangerous: unconfirmed it does nothing; a missing file is named."""
    run("status")
    result = run("db.restore", path=str(tmp_path / "none.db"))
    assert result.outcome is Outcome.CANCELLED
    result = run("db.restore", confirmed=True, path=str(tmp_path / "none.db"))
    assert result.error is not None and result.error.code == "storage.backup"
    assert "none.db does not exist" in result.error.message


def test_restore_refuses_a_file_that_is_not_a_database(
    engine: Engine, run: Callable[..., CommandResult], tmp_path: Path
) -> None:
    """Restoring garbage is refused before the live database is touched."""
    _append(engine, 3)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    result = run("db.restore", confirmed=True, path=str(junk))
    assert result.error is not None and result.error.code == "storage.backup"
    assert "not a valid SQLite database" in result.error.message
    # Three records, the refused restore's start and its own, and its approval ticket's
    # requested/approved.
    assert engine.audit.store.count() == 7 and engine.audit.verify().ok


def test_failed_migration_is_rolled_back(engine: Engine, tmp_path: Path) -> None:
    """A revision failing halfway leaves schema, data and chain exactly as they were."""
    _append(engine, 20)
    before_head = engine.audit.store.head()
    before_tables = _tables(engine)
    migrator = _migrator_with(engine, tmp_path, BROKEN_REVISION, "0099_broken")
    assert migrator.pending() == ("0099_broken",)

    with pytest.raises(MigrationError) as caught:
        migrator.upgrade()
    message = caught.value.user_message
    assert "revision 0099 exploded" in message
    assert "rolled back" in message and "nothing was lost" in message
    assert caught.value.code == "storage.migration"

    assert migrator.current() == HEAD
    assert _tables(engine) == before_tables
    assert "half_done" not in _tables(engine)
    with engine.database.read() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("audit_payloads")}
    assert "note" not in columns
    assert engine.audit.store.head() == before_head
    report = engine.audit.verify()
    assert report.ok and report.records == 20 and report.payloads_checked == 20

    backups = migrator.list_backups()
    assert len(backups) == 1 and f"pre-migration-{HEAD}" in backups[0].name
    assert str(backups[0]) in message

    # The trail still takes records afterwards.
    _append(engine, 1)
    assert engine.audit.verify().ok


def test_failed_migration_that_damaged_the_file_is_restored_from_backup(
    engine: Engine, tmp_path: Path
) -> None:
    """When rollback cannot undo a failure, the pre-migration backup is put back."""
    _append(engine, 20)
    before_head = engine.audit.store.head()
    migrator = _migrator_with(engine, tmp_path, DAMAGING_REVISION, "0099_damaging")
    with pytest.raises(MigrationError) as caught:
        migrator.upgrade()
    message = caught.value.user_message
    assert "damaged the file" in message
    assert "restored from" in message and "nothing was lost" in message
    assert migrator.current() == HEAD
    assert engine.audit.store.head() == before_head
    assert engine.audit.verify().ok


def test_failed_migration_on_an_empty_database_says_nothing_was_stored(
    engine: Engine, tmp_path: Path
) -> None:
    """With no tables yet there is no backup to restore; the rollback alone suffices."""
    migrator = _migrator_with(engine, tmp_path, BROKEN_REVISION, "0099_broken")
    with pytest.raises(MigrationError, match="rolled back"):
        migrator.upgrade()
    assert migrator.current() is None
    assert "half_done" not in _tables(engine) and "audit_records" not in _tables(engine)


def test_extra_revision_applies_and_reverts(engine: Engine, tmp_path: Path) -> None:
    """A working extra revision upgrades (after a backup) and downgrades again."""
    _append(engine, 2)
    migrator = _migrator_with(engine, tmp_path, WORKING_REVISION, "0099_notes")
    result = migrator.upgrade()
    assert (result.from_revision, result.to_revision) == (HEAD, "0099_notes")
    assert result.applied == ("0099_notes",)
    assert result.backup is not None and result.backup.is_file()
    assert "notes" in _tables(engine)

    result = migrator.downgrade(HEAD)
    assert result.applied == ("0099_notes",) and migrator.current() == HEAD
    assert "notes" not in _tables(engine)
    assert engine.audit.verify().ok


def test_unknown_revision_is_a_clear_error(
    engine: Engine, run: Callable[..., CommandResult]
) -> None:
    """Upgrading to a revision that does not exist says so and points at db status."""
    run("status")
    result = run("db.upgrade", confirmed=True, revision="9999_nope")
    assert result.error is not None and result.error.code == "storage.migration"
    assert "9999_nope" in result.error.message and "db status" in result.error.message
    assert engine.migrator.current() == HEAD


def test_downgrade_to_base_and_upgrade_again(
    engine: Engine, run: Callable[..., CommandResult]
) -> None:
    """Downgrading to base drops the tables (after a backup); upgrading recreates them."""
    _append(engine, 4)
    result = run("db.downgrade", confirmed=True, revision="base")
    assert result.ok, result.message
    assert result.data["to"] is None and sorted(result.data["reverted"]) == REVISIONS
    backup = Path(result.data["backup"])
    assert backup.is_file()
    assert "audit_records" not in _tables(engine)
    assert engine.migrator.current() is None
    # With no table to write to, the downgrade's own record waits in the spool.
    assert any("spool" in warning for warning in result.warnings)
    assert engine.audit.spooled() == 1

    status = run("db.status")
    assert status.data["current"] is None and status.data["pending"] == REVISIONS

    result = run("db.upgrade", confirmed=True)
    assert result.ok, result.message
    assert sorted(result.data["applied"]) == REVISIONS
    assert engine.migrator.current() == HEAD
    assert engine.audit.spooled() == 0
    records = [r for batch in engine.audit.store.iter_all() for r in batch]
    # The new chain starts with the spooled downgrade record, then db.status, db.upgrade.
    assert [r.action for r in records] == ["db.downgrade", "db.status", "db.upgrade"]
    assert engine.audit.verify().ok
