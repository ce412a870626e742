"""What the one door costs: ``Engine.execute`` of a command that does nothing.

The handler returns at once, so the time measured is the engine's own work for every
command: argument validation, identity and authorisation, the timeout wrapper, events, and
the audit record handed to the writer thread and committed to SQLite.

The figure is paired: each sample runs the bare handler and the same call through the
engine back to back (alternating which goes first) and keeps the difference. The p95 of
those differences is the overhead a caller pays; p95(total) - p95(baseline) would mix two
unrelated tails.
"""

from __future__ import annotations

import asyncio
import getpass
import time

from benchmarks.table import Row
from benchmarks.timing import Paired, overhead_rows, paired, percentile, time_execution
from benchmarks.workspace import open_engine, private_workspace
from logomesh.commands.models import CommandContext, CommandOutput, CommandRequest, NoArguments
from logomesh.commands.registry import CommandRegistry, command
from logomesh.commands.values import Actor, RiskLevel, Source
from logomesh.engine import Engine

P95_TARGET_MS = 1.0
MEASURES = (
    "Per pair, in one event loop: seconds of `await engine.execute(bench.noop)` (its audit "
    "record committed to SQLite before the result returns) minus seconds of awaiting the "
    "same handler directly; the two run back to back, alternating which goes first."
)


@command(
    "bench.noop", summary="Do nothing (benchmark).", permission="bench.noop", risk=RiskLevel.READ
)
async def noop(ctx: CommandContext, args: NoArguments) -> CommandOutput:
    return CommandOutput()


def noop_registry() -> CommandRegistry:
    registry = CommandRegistry()
    registry.register(noop)
    return registry


def paired_overheads(engine: Engine, actor: Actor, count: int, warmup: int) -> Paired:
    """The bare handler and ``execute`` of the same command, timed in pairs in one loop."""
    context = CommandContext(engine, engine.identities.resolve(actor), CommandRequest("x", actor))
    arguments = NoArguments()

    async def bare() -> float:
        started = time.perf_counter()
        await noop.handler(context, arguments)
        return time.perf_counter() - started

    async def through() -> float:
        return await time_execution(engine, CommandRequest("bench.noop", actor), audited=True)

    with asyncio.Runner() as loop:
        return paired(lambda: loop.run(bare()), lambda: loop.run(through()), count, warmup)


def run(quick: bool) -> list[Row]:
    count, warmup = (300, 30) if quick else (3_000, 200)
    with private_workspace() as workspace:
        engine = open_engine(workspace, noop_registry())
        try:
            actor = Actor(Source.CLI, getpass.getuser())
            pairs = paired_overheads(engine, actor, count, warmup)
        finally:
            engine.close()
    metric = f"Engine.execute overhead, no-op read ({count:,} runs)"
    rows = overhead_rows(
        metric, pairs, baseline_label="bare handler", measures=MEASURES, p95_target_ms=P95_TARGET_MS
    )
    p99 = percentile(pairs.differences, 0.99) * 1000
    rows.append(Row(f"{metric}, paired, p99", f"{p99:.3f} ms", measures=MEASURES))
    return rows
