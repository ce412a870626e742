"""A long-lived adapter's loop under load: lag while the database is locked, and throughput.

A server (the LSP server, a bot) serves many requests on one event loop. Two figures:

- **Event-loop lag**: a ticker asks to wake every 1 ms and records how late it woke, while 50
  concurrent callers run no-op commands and another process holds the database's write lock
  for 2 s. Every record waits for the lock; the loop must not.
- **Throughput**: 50 concurrent callers run no-op read commands through one engine, each
  with its audit record committed; batching many records per commit is what this measures.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
import time

from benchmarks.execute_overhead import noop_registry
from benchmarks.table import Row
from benchmarks.timing import percentile
from benchmarks.workspace import open_engine, private_workspace
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Source
from logomesh.engine import Engine

LAG_P99_TARGET_MS = 5.0
THROUGHPUT_TARGET = 4_000
CALLERS = 50
LAG_MEASURES = (
    "How late an `asyncio.sleep(0.001)` ticker wakes on the engine's event loop while 50 "
    "coroutines run `Engine.execute(bench.noop)` and another process holds the SQLite write "
    "lock: the loop must keep serving while every audit record waits for the lock."
)
THROUGHPUT_MEASURES = (
    "Commands over wall seconds: 50 coroutines on one loop each run `Engine.execute` of a "
    "no-op read command in turn, every audit record committed (the writer batches them); "
    "then `audit verify` of the whole chain."
)

_LOCK_HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


async def _caller(engine: Engine, actor: Actor, until: float | None, count: int) -> int:
    done = 0
    while (until is None and done < count) or (until is not None and time.perf_counter() < until):
        result = await engine.execute(CommandRequest("bench.noop", actor))
        if not result.ok:
            raise RuntimeError(f"bench.noop failed: {result.message}")
        done += 1
    return done


async def _ticker(lags: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append(time.perf_counter() - started - 0.001)


async def _lag_under_lock(engine: Engine, actor: Actor, lock_s: float) -> tuple[list[float], int]:
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _LOCK_HOLDER, str(engine.database.path), str(lock_s),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert holder.stdout is not None
    await holder.stdout.readline()
    lags: list[float] = []
    stop = asyncio.Event()
    ticking = asyncio.create_task(_ticker(lags, stop))
    until = time.perf_counter() + lock_s + 1.0  # the lock, and a second after it clears
    counts = await asyncio.gather(*(_caller(engine, actor, until, 0) for _ in range(CALLERS)))
    stop.set()
    await ticking
    await holder.wait()
    return lags, sum(counts)


async def _throughput(engine: Engine, actor: Actor, per_caller: int) -> float:
    started = time.perf_counter()
    counts = await asyncio.gather(
        *(_caller(engine, actor, None, per_caller) for _ in range(CALLERS))
    )
    return sum(counts) / (time.perf_counter() - started)


def run(quick: bool) -> list[Row]:
    per_caller = 40 if quick else 400
    lock_s = 0.5 if quick else 2.0
    actor = Actor(Source.CLI, getpass.getuser())
    with private_workspace() as workspace:
        engine = open_engine(workspace, noop_registry())
        try:
            asyncio.run(_throughput(engine, actor, 5))  # warm: imports, pool, writer thread
            lags, commands = asyncio.run(_lag_under_lock(engine, actor, lock_s))
            rate = asyncio.run(_throughput(engine, actor, per_caller))
            verified = engine.audit.verify().ok
        finally:
            engine.close()
    p99 = percentile(lags, 0.99) * 1000
    worst = max(lags) * 1000
    total = CALLERS * per_caller
    return [
        Row(
            f"event-loop lag, 1 ms ticker, {CALLERS} callers, write lock held {lock_s:g} s, p99",
            f"{p99:.2f} ms (max {worst:.1f} ms, {commands:,} commands)",
            f"< {LAG_P99_TARGET_MS:g} ms",
            p99 < LAG_P99_TARGET_MS,
            measures=LAG_MEASURES,
        ),
        Row(
            f"no-op read commands/s, {CALLERS} concurrent callers ({total:,} audited)",
            f"{rate:,.0f} commands/s" + ("" if verified else " (CHAIN INVALID)"),
            f">= {THROUGHPUT_TARGET:,}",
            rate >= THROUGHPUT_TARGET and verified,
            measures=THROUGHPUT_MEASURES,
        ),
    ]
