"""What the one door costs: ``Engine.execute`` of a command that does nothing.

The handler returns at once, so the time measured is the engine's own work for every
command: argument validation, identity and authorisation, the timeout wrapper, events, and
the audit record handed to the writer thread and committed to SQLite.

The figure is paired: each sample runs the bare handler and then the same call through the
engine, back to back, and keeps the difference. The p95 of those differences is the
overhead a caller pays; p95(total) - p95(baseline) would mix two unrelated tails.
"""

from __future__ import annotations

import asyncio
import getpass
import time

from benchmarks.table import Row
from benchmarks.timing import latency_rows, percentile
from benchmarks.workspace import open_engine, private_workspace
from logomesh.commands.models import CommandContext, CommandOutput, CommandRequest, NoArguments
from logomesh.commands.registry import CommandRegistry, command
from logomesh.commands.values import Actor, RiskLevel, Source
from logomesh.engine import Engine

P95_TARGET_MS = 1.0


@command(
    "bench.noop", summary="Do nothing (benchmark).", permission="bench.noop", risk=RiskLevel.READ
)
async def noop(ctx: CommandContext, args: NoArguments) -> CommandOutput:
    return CommandOutput()


def noop_registry() -> CommandRegistry:
    registry = CommandRegistry()
    registry.register(noop)
    return registry


async def paired_overheads(engine: Engine, actor: Actor, count: int, warmup: int) -> list[float]:
    """Seconds ``execute`` adds to the bare handler, one paired sample per run."""
    context = CommandContext(engine, engine.identities.resolve(actor), CommandRequest("x", actor))
    arguments = NoArguments()
    differences: list[float] = []
    for i in range(warmup + count):
        request = CommandRequest("bench.noop", actor)
        started = time.perf_counter()
        await noop.handler(context, arguments)
        bare = time.perf_counter() - started
        started = time.perf_counter()
        result = await engine.execute(request)
        whole = time.perf_counter() - started
        if not result.ok or result.audit_id is None:
            raise RuntimeError(f"bench.noop did not succeed with a record: {result.message}")
        if i >= warmup:
            differences.append(whole - bare)
    return differences


def run(quick: bool) -> list[Row]:
    count, warmup = (300, 30) if quick else (3_000, 200)
    with private_workspace() as workspace:
        engine = open_engine(workspace, noop_registry())
        try:
            actor = Actor(Source.CLI, getpass.getuser())
            samples = asyncio.run(paired_overheads(engine, actor, count, warmup))
        finally:
            engine.close()
    metric = f"Engine.execute overhead, no-op read, paired ({count:,} runs)"
    rows = latency_rows(metric, samples, digits=3, p95_target_ms=P95_TARGET_MS)
    rows.append(Row(f"{metric}, p99", f"{percentile(samples, 0.99) * 1000:.3f} ms"))
    return rows
