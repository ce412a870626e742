"""Migrations, backups and restores on a real PostgreSQL, and what protects the data there.

PostgreSQL's DDL is transactional: a revision that fails halfway is undone whole, schema and
data. A ``pg_dump`` backup comes first when ``pg_dump`` is on PATH; the wheel's own pg_dump
(the server's version) is put first on PATH for the tests that want one, and PATH is
emptied for those that must not find any.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest, CommandResult
from logomesh.commands.values import Actor
from logomesh.engine import Engine
from logomesh.errors import BackupError, MigrationError
from logomesh.storage.migrate import Migrator
from tests.postgres import PgServer
from tests.storage.raw_access import raw_connection
from tests.storage.test_migrations import (
    BROKEN_REVISION,
    HEAD,
    REVISIONS,
    WORKING_REVISION,
    _append,
    _migrator_with,
)

OLD_PG_DUMP = Path("/usr/bin/pg_dump")  # Debian's client tools: 15, older than the server


@pytest.fixture
def pg_engine(make_engine: Callable[..., Engine], pg_url: str) -> Engine:
    engine = make_engine(LOGOMESH_DATABASE__URL=pg_url)
    engine.ensure_schema()
    return engine


@pytest.fixture
def with_pg_dump(pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The server's own pg_dump first on PATH; its directory."""
    bin_dir = Path(pg_server.handle.bin_path)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return bin_dir


@pytest.fixture
def without_pg_dump(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def _run(engine: Engine, owner: Actor, command: str, **arguments: Any) -> CommandResult:
    return run_sync(engine, CommandRequest(command, owner, arguments, confirmed=True))


def _tables(engine: Engine) -> dict[str, list[str]]:
    with engine.database.read() as conn:
        inspector = inspect(conn)
        names = inspector.get_table_names()
        return {name: sorted(c["name"] for c in inspector.get_columns(name)) for name in names}


def _triggers(engine: Engine) -> list[tuple[Any, ...]]:
    raw = raw_connection(engine)
    try:
        return raw.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1")
    finally:
        raw.close()


def _snapshot(engine: Engine) -> dict[str, Any]:
    """The schema (tables, columns, triggers) and every audit row, to compare before/after."""
    raw = raw_connection(engine)
    try:
        return {
            "tables": _tables(engine),
            "triggers": _triggers(engine),
            "records": raw.execute("SELECT * FROM audit_records ORDER BY seq"),
            "payloads": raw.execute("SELECT hash, content FROM audit_payloads ORDER BY hash"),
            "version": raw.execute("SELECT version_num FROM alembic_version"),
        }
    finally:
        raw.close()


def test_every_revision_goes_down_to_base_and_up_again(pg_engine: Engine) -> None:
    _append(pg_engine, 3)
    down = pg_engine.migrator.downgrade("base")
    assert down.to_revision is None and len(down.applied) == len(REVISIONS)
    assert (down.applied[0], down.applied[-1]) == (HEAD, "0001_audit_trail")
    assert _tables(pg_engine).keys() == {"alembic_version"} and _triggers(pg_engine) == []
    up = pg_engine.migrator.upgrade()
    assert up.to_revision == HEAD
    # The chain's and the shared checkpoints' (procrastinate's queue has its own, too).
    names = {name for (name,) in _triggers(pg_engine)}
    assert {"audit_records_append_only", "audit_checkpoints_append_only"} <= names
    assert {"audit_records", "audit_payloads", "approval_tickets"} <= _tables(pg_engine).keys()


def test_a_revision_failing_halfway_leaves_schema_and_data_exactly_as_before(
    pg_engine: Engine, tmp_path: Path, without_pg_dump: None
) -> None:
    """0099 creates a table, inserts a row and adds a column before it raises: the one
    transaction undoes all three, and the message says so."""
    _append(pg_engine, 5)
    before = _snapshot(pg_engine)
    migrator = _migrator_with(pg_engine, tmp_path, BROKEN_REVISION, "0099_broken")
    with pytest.raises(MigrationError) as caught:
        migrator.upgrade()
    message = caught.value.user_message
    assert "revision 0099 exploded" in message
    assert "transaction was rolled back" in message and "exactly as it was" in message
    assert _snapshot(pg_engine) == before
    assert "half_done" not in before["tables"]
    assert pg_engine.audit.verify().ok
    # Still usable: the next write chains on the old head.
    _append(pg_engine, 1)
    assert pg_engine.audit.store.head().seq == 6


def test_an_upgrade_takes_a_pg_dump_that_restores_every_record(
    pg_engine: Engine, pg_server: PgServer, tmp_path: Path, with_pg_dump: Path
) -> None:
    _append(pg_engine, 4)
    migrator = _migrator_with(pg_engine, tmp_path, WORKING_REVISION, "0099_notes")
    result = migrator.upgrade()
    assert result.applied == ("0099_notes",)
    assert result.backup is not None and result.backup.suffix == ".dump"
    assert result.backup.parent == pg_engine.settings.backup_dir
    assert result.protection is not None and f"a pg_dump backup at {result.backup}" in (
        result.protection
    )
    assert "one transaction" in result.protection
    assert migrator.list_backups() == (result.backup,)
    # The dump is a real one: restored into a new database it holds the 4 records.
    copy = pg_server.create_database()
    try:
        done = subprocess.run(
            [str(with_pg_dump / "pg_restore"), "--no-owner", f"--dbname={copy}",
             str(result.backup)],
            env={"PGHOST": str(pg_server.socket_dir), "PGUSER": "postgres"},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert pg_server.execute("SELECT count(*) FROM audit_records", copy) == [(4,)]
        assert pg_server.execute("SELECT version_num FROM alembic_version", copy) == [(HEAD,)]
    finally:
        pg_server.drop_database(copy)


def test_without_pg_dump_the_upgrade_says_what_protects_the_data(
    pg_engine: Engine, tmp_path: Path, without_pg_dump: None
) -> None:
    _append(pg_engine, 1)
    migrator = _migrator_with(pg_engine, tmp_path, WORKING_REVISION, "0099_notes")
    result = migrator.upgrade()
    assert result.backup is None and result.protection is not None
    assert "pg_dump is not on PATH" in result.protection
    assert "one transaction, which PostgreSQL rolls back whole" in result.protection


@pytest.mark.skipif(not OLD_PG_DUMP.exists(), reason="no older pg_dump on this machine")
def test_a_pg_dump_older_than_the_server_is_named_and_the_upgrade_still_runs_protected(
    pg_engine: Engine,
    owner: Actor,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Debian's pg_dump (15) refuses a PostgreSQL 18 server: `db backup` says so and how to
    fix it; a migration goes ahead in its transaction and says it had no backup."""
    monkeypatch.setenv("PATH", str(OLD_PG_DUMP.parent))
    backup = _run(pg_engine, owner, "db.backup")
    assert backup.error is not None and backup.error.code == "storage.backup"
    assert "server version mismatch" in backup.error.message
    assert "client tools of its version or newer" in backup.error.message
    assert list(pg_engine.settings.backup_dir.glob("*")) == []  # no partial file
    _append(pg_engine, 1)
    result = _migrator_with(pg_engine, tmp_path, WORKING_REVISION, "0099_notes").upgrade()
    assert result.applied == ("0099_notes",) and result.backup is None
    assert result.protection is not None and "server version mismatch" in result.protection


def test_db_backup_uses_pg_dump_and_db_status_lists_it(
    pg_engine: Engine, owner: Actor, with_pg_dump: Path
) -> None:
    _append(pg_engine, 2)
    result = _run(pg_engine, owner, "db.backup")
    assert result.ok, result.message
    path = Path(result.data["path"])
    assert path.suffix == ".dump" and path.stat().st_size == result.data["bytes"] > 0
    assert _run(pg_engine, owner, "db.status").data["backups"] == [str(path)]


def test_db_backup_without_pg_dump_says_to_install_it(
    pg_engine: Engine, owner: Actor, without_pg_dump: None
) -> None:
    result = _run(pg_engine, owner, "db.backup")
    assert result.error is not None and result.error.code == "storage.backup"
    message = result.error.message
    assert "pg_dump is not on PATH" in message and "client tools" in message
    assert pg_engine.database.pg is not None and pg_engine.database.pg.where in message


def test_db_restore_on_postgresql_refuses_and_says_how(
    pg_engine: Engine, owner: Actor, tmp_path: Path
) -> None:
    dump = tmp_path / "some.dump"
    dump.write_bytes(b"PGDMP")
    result = _run(pg_engine, owner, "db.restore", path=str(dump))
    assert result.error is not None and result.error.code == "storage.backup"
    assert "pg_restore --clean --if-exists" in result.error.message
    assert "Stop every LogoMesh process" in result.error.message
    with pytest.raises(BackupError, match="does not restore a PostgreSQL database"):
        Migrator(pg_engine.database, tmp_path).restore(dump)


def test_a_stopped_pg_dump_leaves_no_file(
    pg_engine: Engine, tmp_path: Path, with_pg_dump: Path
) -> None:
    """A backup stopped at a command's deadline kills pg_dump and keeps no partial file."""
    stop = threading.Event()
    stop.set()
    target = tmp_path / "stopped.dump"
    with pytest.raises(BackupError, match="was stopped before it finished"):
        pg_engine.migrator.backup(target, stop=stop)
    assert list(tmp_path.glob("stopped.dump*")) == []
