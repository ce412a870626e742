"""Audit append throughput on a real SQLite file: one record per transaction, and batched.

Single appends go through :meth:`AuditTrail.record`, the path every command takes (spool
check, chain head read and insert under the write lock, periodic signed checkpoint). Batched
appends go through :meth:`AuditStore.append_many`, the path for importing and draining the
spool, where one transaction chains many records.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from benchmarks.table import Row, rate
from benchmarks.workspace import open_engine, private_workspace, sample_entry
from logomesh.engine import Engine

SINGLE_TARGET = 2_000
BATCHED_TARGET = 20_000
# Untimed appends first, so one-off costs (statement compilation, the pool's first
# connection) do not count against a steady-state rate.
WARMUP = 20
SINGLE_MEASURES = (
    "Records over wall seconds of `AuditTrail.record` called once per record in this thread: "
    "one transaction each (chain head read, insert, commit to a SQLite file, checkpoints)."
)
BATCHED_MEASURES = (
    "Records over wall seconds of `AuditStore.append_many` of 1,000 records at a time: one "
    "transaction chains a whole batch (the import and spool-drain path)."
)


def run(quick: bool) -> list[Row]:
    return [single(500 if quick else 5_000), batched(5_000 if quick else 50_000, 1_000)]


def single(count: int) -> Row:
    metric = f"audit append, single ({count:,} x trail.record)"
    with private_workspace() as workspace:
        engine = open_engine(workspace)
        try:
            appended = append_singly(engine, count)
        finally:
            engine.close()
    if appended.stored != count:
        stored = f"stored {appended.stored} of {count}"
        return Row(metric, stored, error=True, measures=SINGLE_MEASURES)
    return Row(
        metric,
        rate(count, appended.elapsed),
        f">= {SINGLE_TARGET:,} records/s",
        count / appended.elapsed >= SINGLE_TARGET,
        measures=SINGLE_MEASURES,
    )


def batched(count: int, batch_size: int) -> Row:
    metric = f"audit append, batched ({count:,} in {batch_size:,}s, store.append_many)"
    with private_workspace() as workspace:
        engine = open_engine(workspace)
        try:
            appended = append_batched(engine, count, batch_size)
        finally:
            engine.close()
    if appended.stored != count:
        stored = f"stored {appended.stored} of {count}"
        return Row(metric, stored, error=True, measures=BATCHED_MEASURES)
    return Row(
        metric,
        rate(count, appended.elapsed),
        f">= {BATCHED_TARGET:,} records/s",
        count / appended.elapsed >= BATCHED_TARGET,
        measures=BATCHED_MEASURES,
    )


@dataclass(frozen=True)
class Appended:
    """What a timed run of appends did: wall seconds, records stored, each call's seconds."""

    elapsed: float
    stored: int
    latencies: list[float]


def append_singly(engine: Engine, count: int) -> Appended:
    """``count`` calls of ``trail.record``, one record each, after an untimed warm-up."""
    trail = engine.audit
    for i in range(WARMUP):
        trail.record(sample_entry(-i))
    entries = [sample_entry(i) for i in range(count)]
    latencies: list[float] = []
    started = time.perf_counter()
    for entry in entries:
        before = time.perf_counter()
        trail.record(entry)
        latencies.append(time.perf_counter() - before)
    elapsed = time.perf_counter() - started
    return Appended(elapsed, trail.store.count() - WARMUP, latencies)


def append_batched(engine: Engine, count: int, batch_size: int) -> Appended:
    """``count`` records by ``store.append_many`` of ``batch_size`` at a time."""
    store = engine.audit.store
    store.append_many([sample_entry(-i) for i in range(WARMUP)])
    batches = [
        [sample_entry(i) for i in range(start, min(start + batch_size, count))]
        for start in range(0, count, batch_size)
    ]
    started = time.perf_counter()
    for batch in batches:
        store.append_many(batch)
    elapsed = time.perf_counter() - started
    return Appended(elapsed, store.count() - WARMUP, [])
