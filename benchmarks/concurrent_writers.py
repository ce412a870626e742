"""Several processes appending to one SQLite file at once must still form one valid chain.

Each writer process opens its own engine on the shared workspace and appends records one at
a time through the trail, exactly as concurrent CLI, editor and bot processes would. The
writers start together (a barrier), so the figure is the throughput of real contention; then
every record must be in the table and ``audit verify`` must pass.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from benchmarks.table import Row, rate
from benchmarks.workspace import Workspace, open_engine, private_workspace, sample_entry
from logomesh.errors import AuditError

WRITERS = 4
BARRIER_TIMEOUT_S = 120
WRITER_TIMEOUT_S = 600
MEASURES = (
    "Four processes, each with its own engine on one SQLite file, call `AuditTrail.record` "
    "once per record from a common start (a barrier): records over wall seconds until all "
    "report, then the rows counted and the chain verified by a fresh engine."
)


@dataclass(frozen=True)
class _Outcome:
    stored: int
    chain_ok: bool
    summary: str


def run(quick: bool) -> list[Row]:
    per_writer = 200 if quick else 2_000
    expected = WRITERS * per_writer
    with private_workspace() as workspace:
        # Migrate once up front: the figure is about appends, not about racing migrations.
        open_engine(workspace).close()
        elapsed, delayed = _race(workspace, per_writer)
        outcome = _inspect(workspace)
    metric = f"concurrent writers ({WRITERS} procs x {per_writer:,} single appends)"
    lost = expected - outcome.stored
    # A record that met a lock timeout is spooled and chained in later: delayed, not lost.
    note = f" ({delayed} delayed via spool)" if delayed else ""
    return [
        Row(f"{metric}, throughput", rate(expected, elapsed), measures=MEASURES),
        Row(
            f"{metric}, records lost",
            f"{lost} of {expected:,}{note}",
            "0",
            lost == 0,
            measures=MEASURES,
        ),
        Row(
            f"{metric}, chain valid",
            "yes" if outcome.chain_ok else f"no: {outcome.summary}",
            "yes",
            outcome.chain_ok,
            measures=MEASURES,
        ),
    ]


def _race(workspace: Workspace, per_writer: int) -> tuple[float, int]:
    """Run the writers from a common start; returns wall seconds and records spooled."""
    # spawn, not fork: each writer must build its own SQLite connections from scratch.
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WRITERS + 1)
    results: Queue[int] = context.Queue()
    writers = [
        context.Process(
            target=_write,
            args=(str(workspace.root), workspace.environ, n, per_writer, barrier, results),
        )
        for n in range(WRITERS)
    ]
    for process in writers:
        process.start()
    try:
        barrier.wait(BARRIER_TIMEOUT_S)
        started = time.perf_counter()
        spooled = _collect(results, writers)
        elapsed = time.perf_counter() - started
    finally:
        for process in writers:
            process.join(WRITER_TIMEOUT_S)
    return elapsed, spooled


def _collect(results: Queue[int], writers: Sequence[BaseProcess]) -> int:
    """Sum the writers' reports, failing fast if one of them died instead of reporting."""
    deadline = time.monotonic() + WRITER_TIMEOUT_S
    total = received = 0
    while received < len(writers):
        try:
            total += results.get(timeout=0.2)
            received += 1
        except queue.Empty:
            crashed = [p.exitcode for p in writers if p.exitcode not in (None, 0)]
            if crashed:
                raise RuntimeError(f"writer process(es) failed, exit codes {crashed}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"writers did not finish in {WRITER_TIMEOUT_S} s") from None
    return total


def _write(
    root: str,
    environ: dict[str, str],
    writer: int,
    count: int,
    barrier: Barrier,
    results: Queue[int],
) -> None:
    """One writer process: append ``count`` records, report how many had to be spooled."""
    try:
        engine = open_engine(Workspace(Path(root), environ))
    except BaseException:
        barrier.abort()  # release the parent and the other writers at once
        raise
    try:
        trail = engine.audit
        entries = [sample_entry(i, actor=f"writer-{writer}") for i in range(count)]
        spooled = 0
        barrier.wait(BARRIER_TIMEOUT_S)
        for entry in entries:
            try:
                trail.record(entry)
            except AuditError:
                spooled += 1
        results.put(spooled)
    finally:
        engine.close()


def _inspect(workspace: Workspace) -> _Outcome:
    engine = open_engine(workspace)
    try:
        trail = engine.audit
        trail.drain_spool()
        stored = trail.store.count()
        report = trail.verify()
    finally:
        engine.close()
    return _Outcome(stored, report.ok, report.summary())
