"""The audit writer: records are written off the event loop, in batches, and never lost.

The lock holder is a real second process with its own SQLite connection, as a terminal's
``logomesh db backup`` beside a running server would be (on PostgreSQL: another writer's
session holding the advisory lock).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from logomesh.audit.models import AuditEntry
from logomesh.audit.query import AuditFilter
from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest, CommandResult
from logomesh.commands.values import Actor, Outcome, Source
from logomesh.engine import Engine
from logomesh.storage import sqlite
from logomesh.storage.database import Database
from tests.storage.lock_holder import write_lock_held

pytestmark = pytest.mark.slow


def _entry(action: str) -> AuditEntry:
    return AuditEntry(actor="t", source=Source.SYSTEM, action=action, outcome=Outcome.OK)


def _database_of(engine: Engine) -> Database:
    return engine.database


async def _many(engine: Engine, owner: Actor, count: int) -> list[CommandResult]:
    requests = [CommandRequest("whoami", owner) for _ in range(count)]
    return list(await asyncio.gather(*(engine.execute(request) for request in requests)))


def _recorded(engine: Engine, results: list[CommandResult]) -> int:
    ids = {result.correlation_id for result in results}
    records = engine.audit.store.query(AuditFilter(limit=100_000))
    return sum(1 for record in records if record.correlation_id in ids)


def test_a_held_write_lock_delays_records_but_never_the_loop(engine: Engine, owner: Actor) -> None:
    """Another process holds the write lock for 3 s while 50 commands run on one loop: the
    loop keeps ticking, every command completes once the lock clears, all are recorded, and
    the chain verifies."""
    run_sync(engine, CommandRequest("status", owner))  # the schema exists before the lock is taken
    ticks: list[float] = []

    async def ticker(stop: asyncio.Event) -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())
            await asyncio.sleep(0.005)

    async def scenario() -> tuple[list[CommandResult], float]:
        stop = asyncio.Event()
        ticking = asyncio.create_task(ticker(stop))
        with write_lock_held(_database_of(engine), 3.0):
            started = time.perf_counter()
            results = await _many(engine, owner, 50)
            waited = time.perf_counter() - started
        stop.set()
        await ticking
        return results, waited

    results, waited = asyncio.run(scenario())
    assert all(result.ok and not result.warnings for result in results)
    assert all(result.audit_id for result in results)
    # They really waited for the lock (so the ticks below happened while it was held)...
    assert waited > 2.0
    # ...and the loop was never held up by it: it ticked all along, with no long gap.
    gaps = [later - earlier for earlier, later in itertools.pairwise(ticks)]
    assert len(ticks) > 100
    assert max(gaps) < 1.0
    assert _recorded(engine, results) == 50
    assert engine.audit.verify().ok


def test_a_full_queue_spools_records_and_loses_none(
    make_engine: Callable[..., Engine], owner: Actor
) -> None:
    """With a queue of 2 and the database locked, the overflow is spooled with a warning
    that says so; once the lock clears, every record is in the trail and the chain holds."""
    engine = make_engine({"audit": {"writer_queue": 2}})
    run_sync(engine, CommandRequest("status", owner))

    async def scenario() -> list[CommandResult]:
        with write_lock_held(_database_of(engine), 1.5):
            return await _many(engine, owner, 20)

    results = asyncio.run(scenario())
    spooled = [result for result in results if result.warnings]
    assert spooled, "some records should have found the queue full"
    assert all("audit queue is full" in result.warnings[0] for result in spooled)
    assert all(str(engine.audit.spool_path) in result.warnings[0] for result in spooled)
    assert all(result.ok for result in results)  # the commands themselves ran
    run_sync(engine, CommandRequest("whoami", owner))  # the next write chains the spool in
    assert engine.audit.spooled() == 0
    assert _recorded(engine, results) == 20
    assert engine.audit.verify().ok


@pytest.mark.sqlite_only("a file deleted under the engine; tests/storage/test_pg_restart.py")
def test_a_database_that_disappears_spools_until_it_is_back(engine: Engine, owner: Actor) -> None:
    """Deleting the SQLite file mid-run does not swallow records into the deleted inode:
    they are spooled, with a message that names the file, and chained in once it is back.
    (PostgreSQL's version of this fault is the server restarting: test_pg_restart.py.)"""
    first = run_sync(engine, CommandRequest("whoami", owner))
    database = engine.database.path
    assert database is not None
    kept = database.with_suffix(".kept")
    # The engine's own SQLite library: two in one process would not see each other's locks.
    dbapi = sqlite.dbapi_module()
    src, dst = dbapi.connect(str(database)), dbapi.connect(str(kept))
    src.backup(dst)
    src.close()
    dst.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)

    during = [run_sync(engine, CommandRequest("whoami", owner)) for _ in range(3)]
    assert all(result.ok and result.audit_id is None for result in during)
    assert all("has disappeared" in result.warnings[0] for result in during)
    assert str(database) in during[0].warnings[0]
    assert engine.audit.spooled() == 3

    kept.replace(database)  # put back: a new inode, which the engine must reopen
    after = run_sync(engine, CommandRequest("whoami", owner))
    assert after.ok and not after.warnings
    assert engine.audit.spooled() == 0
    assert _recorded(engine, [first, *during, after]) == 5
    assert engine.audit.verify().ok


def test_close_writes_what_is_still_queued(engine: Engine) -> None:
    """Records submitted without waiting (a cancelled command's, a plugin's) are written by
    close, not dropped with the thread."""
    engine.ensure_schema()
    with write_lock_held(_database_of(engine), 0.5):
        futures = [
            engine.audit_writer.submit(
                AuditEntry(
                    actor="t", source=Source.SYSTEM, action="test.queued", outcome=Outcome.OK
                )
            )
            for _ in range(200)
        ]
        assert not all(future.done() for future in futures)
        engine.audit_writer.close()
    assert all(future.result().seq > 0 for future in futures)
    assert len(engine.audit.store.query(AuditFilter(action="test.queued", limit=1000))) == 200


def test_a_record_submitted_after_close_is_spooled_not_lost(engine: Engine) -> None:
    engine.ensure_schema()
    engine.audit_writer.close()
    future = engine.audit_writer.submit(_entry("test.late"))
    error = future.exception()
    assert error is not None and "closing" in str(error)
    assert engine.audit.spooled() == 1


def test_a_cancelled_command_is_still_recorded(engine: Engine, owner: Actor) -> None:
    """Cancelling the caller while its record waits for the lock does not cancel the write."""
    run_sync(engine, CommandRequest("status", owner))
    request = CommandRequest("whoami", owner)

    async def scenario() -> None:
        with write_lock_held(_database_of(engine), 1.0):
            task = asyncio.create_task(engine.execute(request))
            await asyncio.sleep(0.3)  # the command ran; its record waits for the lock
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(scenario())
    engine.audit_writer.close()
    records = engine.audit.store.query(AuditFilter(correlation_id=request.correlation_id))
    assert len(records) == 1
