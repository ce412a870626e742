"""A corrupt or locked database gives clear messages, and no audit record is lost."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest, CommandResult
from logomesh.commands.values import Actor, Outcome
from logomesh.engine import Engine
from logomesh.storage import sqlite
from logomesh.storage.database import AUDIT_LOCK_KEY
from tests.storage.raw_access import psycopg_session

GARBAGE = bytes(range(256)) * 64
SLACK_TOKEN = "xoxb-1111111111-2222222222-" + "s3cr3tT0k3n" * 2


def _no_tracebacks(result: CommandResult, caplog: pytest.LogCaptureFixture) -> None:
    texts = [result.message, *(result.warnings), result.error.message if result.error else ""]
    assert not any("Traceback" in t for t in texts)
    assert not [r for r in caplog.records if r.exc_info], "an unexpected exception was logged"


def _runner(engine: Engine, actor: Actor) -> Callable[..., CommandResult]:
    def _run(command: str, confirmed: bool = False, **arguments: Any) -> CommandResult:
        return run_sync(engine, CommandRequest(command, actor, arguments, confirmed=confirmed))

    return _run


def _corrupt(path: Path) -> None:
    path.write_bytes(GARBAGE)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def test_corrupt_database_on_first_use_is_named(
    engine: Engine, run: Callable[..., CommandResult], caplog: pytest.LogCaptureFixture
) -> None:
    """A garbage file where the database should be: the message names it and the fix."""
    db_file = engine.settings.state_dir / "logomesh.db"
    db_file.parent.mkdir(parents=True)
    db_file.write_bytes(GARBAGE)
    caplog.set_level(logging.WARNING)

    result = run("status")
    _no_tracebacks(result, caplog)
    assert "needs attention" in result.message
    assert str(db_file) in result.data["problem"]
    assert "logomesh db restore" in result.data["problem"]
    [warning] = result.warnings
    assert str(db_file) in warning and "logomesh db restore" in warning
    # The record is not lost: it waits in the spool for the database to be fixed.
    spool = engine.settings.state_dir / "audit-spool.jsonl"
    assert f"kept in {spool}" in warning
    assert len(spool.read_text().splitlines()) == 1

    result = run("audit.verify")
    _no_tracebacks(result, caplog)
    assert result.outcome is Outcome.ERROR
    assert result.error is not None and result.error.code == "storage.corrupt"
    assert str(db_file) in result.error.message
    assert "logomesh db restore" in result.error.message
    assert db_file.read_bytes() == GARBAGE  # nothing tried to "repair" it in place
    assert len(spool.read_text().splitlines()) == 2


def test_corrupted_later_and_restored_from_backup(
    make_engine: Callable[..., Engine],
    owner: Actor,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """After corruption, db.restore from a backup works, nothing is lost, the trail verifies."""
    first = make_engine()
    run1 = _runner(first, owner)
    run1("status")
    backup = tmp_path / "good.db"
    assert run1("db.backup", confirmed=True, path=str(backup)).ok
    db_file = first.database.path
    assert db_file is not None
    first.close()
    _corrupt(db_file)

    second = make_engine()
    run2 = _runner(second, owner)
    broken = run2("audit.query")
    assert broken.error is not None and broken.error.code == "storage.corrupt"
    status = run2("db.status")
    assert status.error is not None and str(db_file) in status.error.message

    restored = run2("db.restore", confirmed=True, path=str(backup))
    assert restored.ok, restored.message
    assert restored.data["previous"] is None  # a corrupt file is not worth backing up
    assert db_file.with_suffix(".db.corrupt").read_bytes() == GARBAGE
    _no_tracebacks(restored, caplog)
    report = second.audit.verify()
    assert report.ok, report.summary()
    # What was run while the file was corrupt was spooled, and chained in after restore:
    # the danger command's start too, which the spool kept durable so that it could run.
    actions = [r.action for batch in second.audit.store.iter_all() for r in batch]
    assert actions == ["status", "audit.query", "db.status", "command.started", "db.restore"]
    assert second.audit.spooled() == 0


@pytest.fixture(params=["sqlite", "postgresql"])
def quick_engine(make_engine: Callable[..., Engine], request: pytest.FixtureRequest) -> Engine:
    """An engine that gives up on a locked database after 100 ms, on either backend (on
    PostgreSQL the wait for the advisory lock ends at the same timeout: lock_timeout)."""
    env = {}
    if request.param == "postgresql":
        env["LOGOMESH_DATABASE__URL"] = request.getfixturevalue("pg_url")
    return make_engine({"database": {"busy_timeout_ms": 100}}, **env)


@pytest.fixture
def quick_run(quick_engine: Engine, owner: Actor) -> Callable[..., CommandResult]:
    return _runner(quick_engine, owner)


def _lock(engine: Engine) -> Any:
    """Another process's view: a connection holding the write lock (on PostgreSQL, the
    advisory lock every writer takes, until its transaction ends)."""
    if engine.database.pg is not None:
        holder = psycopg_session(engine.database, autocommit=False)
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK_KEY,))
        return holder
    assert engine.database.path is not None
    conn = sqlite.dbapi_module().connect(str(engine.database.path), timeout=5)
    conn.isolation_level = None
    conn.execute("BEGIN EXCLUSIVE")
    return conn


def test_locked_database_spools_and_the_next_command_drains(
    quick_engine: Engine, quick_run: Callable[..., CommandResult], caplog: pytest.LogCaptureFixture
) -> None:
    """While locked, records wait in the spool (redacted); once free, all land in order."""
    assert quick_run("status").ok
    spool = quick_engine.audit.spool_path
    holder = _lock(quick_engine)
    try:
        locked = [quick_run("status"), quick_run("audit.query", actor=SLACK_TOKEN)]
    finally:
        holder.rollback()
        holder.close()

    for result in locked:
        _no_tracebacks(result, caplog)
        assert result.ok  # the command itself ran: reads still work in WAL mode
        assert result.audit_id is None
        [warning] = result.warnings
        assert "locked" in warning and "100 ms" in warning
        assert str(spool) in warning
        assert "next successful write" in warning
    assert quick_engine.audit.spooled() == 2
    assert SLACK_TOKEN not in spool.read_text()

    after = quick_run("whoami")
    assert after.ok and after.warnings == ()
    assert quick_engine.audit.spooled() == 0  # emptied under its lock, never unlinked
    records = [r for batch in quick_engine.audit.store.iter_all() for r in batch]
    assert [r.action for r in records] == ["status", "status", "audit.query", "whoami"]
    assert [r.correlation_id for r in records[1:3]] == [r.correlation_id for r in locked]
    assert records[2].arguments["actor"] == "[REDACTED]"
    assert records[1].timestamp < records[3].timestamp  # spooled records keep their time
    report = quick_engine.audit.verify()
    assert report.ok and report.records == 4


def test_locked_database_fails_a_write_command_clearly(
    quick_engine: Engine, quick_run: Callable[..., CommandResult], tmp_path: Path
) -> None:
    """A command whose own work needs the lock fails with storage.locked, and is still audited."""
    assert quick_run("status").ok
    holder = _lock(quick_engine)
    try:
        result = quick_run("audit.prune", confirmed=True, payloads_older_than="1d")
    finally:
        holder.rollback()
        holder.close()
    assert result.error is not None and result.error.code == "storage.locked"
    assert quick_engine.database.where in result.error.message
    assert "busy_timeout_ms" in result.error.message
    assert quick_run("status").ok
    actions = [r.action for batch in quick_engine.audit.store.iter_all() for r in batch]
    # audit.prune is a danger command: its start was spooled (durable), so it ran. Its
    # confirmation is a self-approved ticket: on SQLite storing the ticket needs the one
    # write lock and fails, on PostgreSQL a ticket row needs no chain lock, so the ticket
    # is stored and its two records are spooled and chained in after the lock is free.
    pg = quick_engine.database.dialect == "postgresql"
    approval = ["approval.requested", "approval.approved"] if pg else []
    assert actions == ["status", *approval, "command.started", "audit.prune", "status"]
    assert quick_engine.audit.verify().ok


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a database url", "`database.url` is not a database URL"),
        ("postgresql+nosuchdriver://ops:pw-123456@db.invalid/logomesh", "Cannot open"),
        ("nosuchdialect://ops:pw-123456@db.invalid/logomesh", "Cannot open"),
    ],
)
def test_unusable_database_url_is_an_error_not_a_crash(
    make_engine: Callable[..., Engine],
    owner: Actor,
    caplog: pytest.LogCaptureFixture,
    url: str,
    expected: str,
) -> None:
    """A URL that cannot be parsed or whose driver is missing gives a message, never a raise."""
    run = _runner(make_engine(LOGOMESH_DATABASE__URL=url), owner)
    shown = run("config.show")  # needs no database
    assert shown.ok
    [warning] = shown.warnings
    assert expected in warning and "database.url" in warning

    status = run("db.status")
    assert status.error is not None and status.error.code == "storage.error"
    assert expected in status.error.message
    for text in (warning, status.error.message, *status.warnings):
        assert "pw-123456" not in text
    _no_tracebacks(status, caplog)
