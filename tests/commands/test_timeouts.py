"""Honest timeouts: a command past its deadline "was stopped" only when nothing of it runs
on. An async handler is cancelled; a backup stops between two steps and leaves no file; a
migration blocked by another process's write lock cannot be stopped, so the error says it
is still running and how to see its end, and its end is audited under the same
correlation id. The CLI maps the new code to the timeout exit status and lets the work
finish before it exits."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from logomesh.audit.models import AuditEntry, AuditRecord, Outcome
from logomesh.audit.query import AuditFilter
from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandContext, CommandOutput, CommandRequest, NoArguments
from logomesh.commands.registry import command
from logomesh.commands.values import Source
from logomesh.config import RiskLevel
from logomesh.engine import Engine
from logomesh.errors import StorageError
from logomesh.events import BackgroundWorkFinished
from logomesh.security.identity import Actor
from logomesh.storage import sqlite
from tests.cli.conftest import Run, cli, cli_env  # noqa: F401  (the real console script)
from tests.plugins.conftest import wait_until
from tests.storage.lock_holder import write_lock_held


def _records(engine: Engine, correlation_id: str) -> list[AuditRecord]:
    return engine.audit.store.query(AuditFilter(correlation_id=correlation_id, oldest_first=True))


CANCELLED: list[str] = []


@command("test.stuck", summary="Awaits forever", permission="test.run", risk=RiskLevel.READ)
async def _stuck(ctx: CommandContext, _: NoArguments) -> CommandOutput:
    try:
        await asyncio.sleep(60)
    except asyncio.CancelledError:
        CANCELLED.append(ctx.request.correlation_id)
        raise
    return CommandOutput()


def test_an_async_handler_past_its_deadline_is_cancelled_and_says_stopped(
    engine: Engine, owner: Actor
) -> None:
    engine.registry.register(_stuck)
    result = run_sync(engine, CommandRequest("test.stuck", owner, timeout_s=0.1))
    assert result.error is not None and result.error.code == "command.timeout"
    assert "within 0.1 s and was stopped" in result.error.message
    assert [result.correlation_id] == CANCELLED  # it really was stopped
    [record] = _records(engine, result.correlation_id)
    assert "still_running" not in record.details


RELEASE = threading.Event()


def _fails_when_released() -> None:
    assert RELEASE.wait(30)
    raise StorageError("the disk went away while it was writing")


@command("test.hands_off", summary="Blocks a thread", permission="test.run", risk=RiskLevel.READ)
async def _hands_off(ctx: CommandContext, _: NoArguments) -> CommandOutput:
    await ctx.run_in_thread(
        _fails_when_released, what="writing the report", check="`ls reports/` shows it"
    )
    return CommandOutput()


def test_thread_work_past_the_deadline_is_reported_running_and_its_end_audited(
    engine: Engine, owner: Actor
) -> None:
    engine.registry.register(_hands_off)
    finished: list[BackgroundWorkFinished] = []
    engine.events.subscribe(BackgroundWorkFinished, finished.append)
    RELEASE.clear()
    result = run_sync(engine, CommandRequest("test.hands_off", owner, timeout_s=0.1))
    assert result.error is not None
    assert result.error.code == "command.timeout_still_running"
    message = result.error.message
    assert "was stopped" not in message
    assert "still running in the background (writing the report, which cannot" in message
    assert "will finish on its own" in message
    assert f"--correlation-id {result.correlation_id}" in message
    assert "`ls reports/` shows it." in message
    [record] = _records(engine, result.correlation_id)
    assert record.outcome == Outcome.ERROR and record.details["still_running"] is True

    RELEASE.set()
    wait_until(lambda: len(_records(engine, result.correlation_id)) == 2)
    late = _records(engine, result.correlation_id)[1]
    assert (late.action, late.outcome) == ("test.hands_off", Outcome.ERROR)
    assert late.error == "the disk went away while it was writing"
    assert late.details["finished_after_timeout"] is True
    wait_until(lambda: len(finished) == 1)
    assert (finished[0].outcome, finished[0].work) == ("error", "writing the report")
    assert engine.audit.verify().ok


def _done_when_asked_to_stop(stop: threading.Event) -> str:
    """Work that, told to stop, completes instead: its effects exist when the error comes."""
    assert stop.wait(30)
    return "written"


@command("test.quick_finish", summary="Ends at the deadline", permission="t", risk=RiskLevel.READ)
async def _quick_finish(ctx: CommandContext, _: NoArguments) -> CommandOutput:
    await ctx.run_in_thread(
        _done_when_asked_to_stop, what="writing notes.txt", check="notes.txt has it", stoppable=True
    )
    return CommandOutput()


def test_work_that_ended_at_the_deadline_is_not_passed_off_as_stopped(
    engine: Engine, owner: Actor
) -> None:
    engine.registry.register(_quick_finish)
    result = run_sync(engine, CommandRequest("test.quick_finish", owner, timeout_s=0.1))
    assert result.error is not None and result.error.code == "command.timeout"
    assert "Its work had already been done, though (writing notes.txt)" in result.error.message
    assert "Notes.txt has it." in result.error.message
    [record] = _records(engine, result.correlation_id)
    assert record.details["finished_at_deadline"] == ["writing notes.txt"]


def _fill(database: Path, megabytes: int) -> None:
    """Make the real database big enough that copying it takes a while."""
    conn = sqlite.dbapi_module().connect(str(database), isolation_level=None)  # the engine's
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS filler (b BLOB)")
        conn.execute("BEGIN")
        for _ in range(megabytes):
            conn.execute("INSERT INTO filler VALUES (randomblob(1048576))")
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


@contextlib.contextmanager
def _churning(database: Path) -> Iterator[None]:
    """Keep committing small writes from another connection. SQLite's online backup starts
    over whenever another connection changes the source between two steps, so while this
    runs the backup cannot finish however fast the machine is: the deadline always wins."""
    done = threading.Event()

    def churn() -> None:
        conn = sqlite.dbapi_module().connect(str(database), isolation_level=None, timeout=30)
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS churn (n INTEGER)")
            while not done.is_set():
                conn.execute("INSERT INTO churn VALUES (1)")
        finally:
            conn.close()

    writer = threading.Thread(target=churn, name="test-churn", daemon=True)
    writer.start()
    try:
        yield
    finally:
        done.set()
        writer.join(timeout=30)


def test_a_backup_past_its_deadline_really_stops_and_leaves_no_file(
    engine: Engine, owner: Actor, run: Callable[..., Any], tmp_path: Path
) -> None:
    assert run("status").ok
    assert engine.database.path is not None
    _fill(engine.database.path, 64)
    target = tmp_path / "out" / "copy.db"
    with _churning(engine.database.path):
        result = run_sync(
            engine, CommandRequest("db.backup", owner, {"path": str(target)}, timeout_s=0.1)
        )
    assert result.error is not None and result.error.code == "command.timeout", result.message
    assert "within 0.1 s and was stopped" in result.error.message
    assert "no partial backup file was left" in result.error.message
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # nor a .partial one
    assert not [t for t in threading.enumerate() if t.name == "logomesh-db.backup"]
    [record] = _records(engine, result.correlation_id)
    assert "still_running" not in record.details

    # Given the time, the same backup completes (it was the deadline that stopped it).
    done = run_sync(engine, CommandRequest("db.backup", owner, {"path": str(target)}))
    assert done.ok, done.message
    assert target.stat().st_size > 64 * 1024 * 1024


def test_an_upgrade_blocked_by_another_process_is_reported_still_running(
    engine: Engine,
    owner: Actor,
    run: Callable[..., Any],
) -> None:
    assert run("status").ok
    assert engine.database.path is not None
    with write_lock_held(engine.database.path, 1.5):
        result = run_sync(engine, CommandRequest("db.upgrade", owner, timeout_s=0.3))
        assert result.error is not None
        assert result.error.code == "command.timeout_still_running", result.message
        assert (
            "in the background (upgrading the schema to head, which cannot be"
            in result.error.message
        )
        assert "`logomesh db status` shows the schema revision" in result.error.message

    wait_until(lambda: len(_records(engine, result.correlation_id)) == 2)
    timed_out, late = _records(engine, result.correlation_id)
    assert timed_out.outcome == Outcome.ERROR
    assert timed_out.error is not None and "[command.timeout_still_running]" in timed_out.error
    assert timed_out.details["still_running"] is True
    assert (late.action, late.outcome, late.error) == ("db.upgrade", Outcome.OK, None)
    assert late.details["finished_after_timeout"] is True
    assert late.seq > timed_out.seq  # the end follows the timeout in the trail
    assert engine.audit.verify().ok


def test_the_cli_exits_with_the_timeout_status_after_the_work_has_finished(
    cli: Callable[..., Run],  # noqa: F811
    make_engine: Callable[..., Engine],
) -> None:
    assert cli("status").code == 0
    engine = make_engine()
    assert engine.database.path is not None
    with write_lock_held(engine.database.path, 2.0) as holder:
        ran = cli("db", "upgrade", env={"LOGOMESH_COMMANDS__DEFAULT_TIMEOUT_S": "0.3"})
        assert ran.code == 5, ran.err  # EXIT_TIMEOUT, as for command.timeout
        assert "still running in the background" in ran.err
        assert holder.poll() is not None  # the process waited for the lock, and the upgrade
    [late] = engine.audit.store.query(AuditFilter(action="db.upgrade", outcome="ok"))
    assert late.details["finished_after_timeout"] is True


def test_a_verify_past_its_deadline_says_it_is_still_running(engine: Engine, owner: Actor) -> None:
    """Verifying a long chain cannot be cut short: past the deadline the result says it goes
    on, not that it was stopped, and how the verification ended is audited after it."""
    entries = [
        AuditEntry(actor="t", source=Source.SYSTEM, action="test.fill", outcome=Outcome.OK)
        for _ in range(30_000)
    ]
    for start in range(0, len(entries), 1000):
        engine.audit.store.append_many(entries[start : start + 1000])
    result = run_sync(engine, CommandRequest("audit.verify", owner, timeout_s=0.02))
    assert result.error is not None
    assert result.error.code == "command.timeout_still_running", result.message
    assert "verifying the audit chain" in result.error.message
    assert "was stopped" not in result.error.message

    wait_until(lambda: len(_records(engine, result.correlation_id)) == 2, timeout_s=60)
    timed_out, late = _records(engine, result.correlation_id)
    assert timed_out.details["still_running"] is True
    assert (late.action, late.outcome) == ("audit.verify", Outcome.OK)
    assert late.details["finished_after_timeout"] is True
