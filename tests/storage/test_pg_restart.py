"""PostgreSQL restarting under a running engine: connections are replaced, no record is lost.

A server of this test's own (tests/postgres.start_server) is stopped with ``pg_ctl stop``
(fast mode: every session is terminated) and started again on the same data directory,
between and during writes. The audit writer's pinned connection and the pool's connections
all die with it; the engine must notice, reconnect, and keep every record: those written
while the server was down wait in the spool and are chained in once it is back.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from logomesh.audit.models import AuditEntry
from logomesh.audit.query import AuditFilter
from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest, CommandResult
from logomesh.commands.values import Actor, Outcome, Source
from logomesh.engine import Engine
from logomesh.errors import AuditError
from tests.postgres import PgServer, start_server

pytestmark = pytest.mark.slow


class Restartable:
    """This test's server, which it may stop and start again."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.server: PgServer | None = start_server(directory)
        self.socket_dir = self.server.socket_dir
        self.server.execute("CREATE DATABASE logomesh")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@/logomesh?host={self.socket_dir}"

    def stop(self) -> None:
        assert self.server is not None
        self.server.handle.cleanup()  # pg_ctl stop -w: sessions terminated, then down
        self.server = None

    def start(self) -> None:
        self.server = start_server(self.directory)
        assert self.server.socket_dir == self.socket_dir  # the URL still points at it

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def pg() -> Iterator[Restartable]:
    # Not under tmp_path: the server runs as its own system user, which must reach the data
    # directory at every start, and any pytest starting meanwhile on this machine makes
    # /tmp/pytest-of-root private again.
    directory = Path(tempfile.mkdtemp(prefix="logomesh-pg-restart-"))
    own = Restartable(directory / "pg")
    yield own
    if own.server is not None:
        own.server.handle.cleanup()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def pg_engine(make_engine: Callable[..., Engine], pg: Restartable) -> Engine:
    return make_engine(LOGOMESH_DATABASE__URL=pg.url)


def _whoami(engine: Engine, owner: Actor) -> CommandResult:
    return run_sync(engine, CommandRequest("whoami", owner))


def _entry(n: int) -> AuditEntry:
    return AuditEntry(actor="t", source=Source.SYSTEM, action=f"test.{n}", outcome=Outcome.OK)


def _recorded(engine: Engine, results: list[CommandResult]) -> int:
    ids = {result.correlation_id for result in results}
    records = engine.audit.store.query(AuditFilter(limit=100_000))
    return sum(1 for record in records if record.correlation_id in ids)


def test_a_restart_between_writes_is_invisible(
    pg_engine: Engine, pg: Restartable, owner: Actor
) -> None:
    """Both the writer thread's pinned connection and the direct append's are dead after the
    restart; the next writes reconnect at once: nothing spooled, nothing lost."""
    before = [_whoami(pg_engine, owner) for _ in range(3)]
    pg_engine.audit.record(_entry(1))  # this thread's pinned connection, as well
    pg.restart()
    after = [_whoami(pg_engine, owner) for _ in range(3)]
    pg_engine.audit.record(_entry(2))
    assert all(r.ok and not r.warnings and r.audit_id for r in after), [r.warnings for r in after]
    assert pg_engine.audit.spooled() == 0
    assert _recorded(pg_engine, before + after) == 6
    assert pg_engine.audit.store.count() == 8
    assert pg_engine.audit.verify().ok


def test_records_written_while_the_server_is_down_are_spooled_then_chained_in(
    pg_engine: Engine, pg: Restartable, owner: Actor
) -> None:
    first = _whoami(pg_engine, owner)
    assert first.ok and first.audit_id
    pg.stop()
    during = [_whoami(pg_engine, owner) for _ in range(3)]
    # The commands ran (whoami needs no database); their records wait in the spool, and
    # the warning names the server and the setting to check.
    assert all(r.ok and r.audit_id is None for r in during)
    warning = during[0].warnings[0]
    assert f"Cannot reach PostgreSQL at host {pg.socket_dir} port 5432 database logomesh" in (
        warning
    )
    assert "LOGOMESH_DATABASE__URL" in warning and str(pg_engine.audit.spool_path) in warning
    assert pg_engine.audit.spooled() == 3
    pg.start()
    after = _whoami(pg_engine, owner)
    assert after.ok and not after.warnings, after.warnings
    assert pg_engine.audit.spooled() == 0
    assert _recorded(pg_engine, [first, *during, after]) == 5
    report = pg_engine.audit.verify()
    assert report.ok and report.records == 5, report.summary()


def test_restarts_during_a_stream_of_writes_lose_nothing(
    pg_engine: Engine, pg: Restartable
) -> None:
    """A thread appends without pause while the server is restarted twice under it: each
    append either commits or is spooled (the server down mid-transaction), and once the
    server is back every entry is in the trail once, in order, and the chain verifies."""
    entries = [_entry(n) for n in range(400)]
    spooled: list[str] = []
    done = threading.Event()

    def writer() -> None:
        for entry in entries:
            try:
                pg_engine.audit.record(entry)
            except AuditError as exc:  # kept in the spool; the next success chains it in
                spooled.append(exc.user_message)
            time.sleep(0.002)
        done.set()

    assert pg_engine.audit.store.count() == 0  # migrated before the restarts begin
    thread = threading.Thread(target=writer)
    thread.start()
    for _ in range(2):
        time.sleep(0.3)
        pg.restart()
    thread.join(timeout=120)
    assert done.is_set()
    pg_engine.audit.record(_entry(400))  # drains whatever the last failure left
    assert pg_engine.audit.spooled() == 0
    stored = [r.action for batch in pg_engine.audit.store.iter_all() for r in batch]
    assert stored == [entry.action for entry in entries] + ["test.400"]
    assert pg_engine.audit.verify().ok
    assert spooled, "the restarts should have caught some appends with the server down"
    for message in spooled:  # each failure said where, and where the record went
        assert "PostgreSQL at host" in message and "spool" in message
