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
class Outcome:
    stored: int
    chain_ok: bool
    summary: str


def run(quick: bool) -> list[Row]:
    per_writer = 200 if quick else 2_000
    expected = WRITERS * per_writer
    with private_workspace() as workspace:
        # Migrate once up front: the figure is about appends, not about racing migrations.
        open_engine(workspace).close()
        result = race(workspace, per_writer)
        outcome = inspect(workspace)
    metric = f"concurrent writers ({WRITERS} procs x {per_writer:,} single appends)"
    lost = expected - outcome.stored
    # A record that met a lock timeout is spooled and chained in later: delayed, not lost.
    note = f" ({result.spooled} delayed via spool)" if result.spooled else ""
    return [
        Row(f"{metric}, throughput", rate(expected, result.elapsed), measures=MEASURES),
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


@dataclass(frozen=True)
class Race:
    """What the writers reported: wall seconds, records spooled, each append's seconds."""

    elapsed: float
    spooled: int
    latencies: list[float]


def race(workspace: Workspace, per_writer: int, writers: int = WRITERS) -> Race:
    """Run ``writers`` processes from a common start, each appending ``per_writer``."""
    # spawn, not fork: each writer must build its own database connections from scratch.
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(writers + 1)
    results: Queue[tuple[int, list[float]]] = context.Queue()
    processes = [
        context.Process(
            target=_write,
            args=(str(workspace.root), workspace.environ, n, per_writer, barrier, results),
        )
        for n in range(writers)
    ]
    for process in processes:
        process.start()
    try:
        barrier.wait(BARRIER_TIMEOUT_S)
        started = time.perf_counter()
        spooled, latencies = _collect(results, processes)
        elapsed = time.perf_counter() - started
    finally:
        for process in processes:
            process.join(WRITER_TIMEOUT_S)
    return Race(elapsed, spooled, latencies)


def _collect(
    results: Queue[tuple[int, list[float]]], writers: Sequence[BaseProcess]
) -> tuple[int, list[float]]:
    """Sum the writers' reports, failing fast if one of them died instead of reporting."""
    deadline = time.monotonic() + WRITER_TIMEOUT_S
    total = received = 0
    latencies: list[float] = []
    while received < len(writers):
        try:
            spooled, seconds = results.get(timeout=0.2)
            total += spooled
            latencies.extend(seconds)
            received += 1
        except queue.Empty:
            crashed = [p.exitcode for p in writers if p.exitcode not in (None, 0)]
            if crashed:
                raise RuntimeError(f"writer process(es) failed, exit codes {crashed}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"writers did not finish in {WRITER_TIMEOUT_S} s") from None
    return total, latencies


def _write(
    root: str,
    environ: dict[str, str],
    writer: int,
    count: int,
    barrier: Barrier,
    results: Queue[tuple[int, list[float]]],
) -> None:
    """One writer process: append ``count`` records, report how many had to be spooled
    and how long each append took."""
    try:
        engine = open_engine(Workspace(Path(root), environ))
    except BaseException:
        barrier.abort()  # release the parent and the other writers at once
        raise
    try:
        trail = engine.audit
        entries = [sample_entry(i, actor=f"writer-{writer}") for i in range(count)]
        spooled = 0
        latencies: list[float] = []
        barrier.wait(BARRIER_TIMEOUT_S)
        for entry in entries:
            started = time.perf_counter()
            try:
                trail.record(entry)
            except AuditError:
                spooled += 1
            latencies.append(time.perf_counter() - started)
        results.put((spooled, latencies))
    finally:
        engine.close()


def inspect(workspace: Workspace) -> Outcome:
    engine = open_engine(workspace)
    try:
        trail = engine.audit
        trail.drain_spool()
        stored = trail.store.count()
        report = trail.verify()
    finally:
        engine.close()
    return Outcome(stored, report.ok, report.summary())
