"""What the one door costs: ``Engine.execute`` of a command that does nothing.

The handler returns at once, so the time measured is the engine's own work for every
command: argument validation, identity and authorisation, the timeout wrapper, events, and
the audit record written to SQLite.
"""

from __future__ import annotations

import asyncio
import getpass

from benchmarks.table import Row
from benchmarks.timing import latency_rows, time_executions
from benchmarks.workspace import open_engine, private_workspace
from logomesh.commands.models import CommandContext, CommandOutput, CommandRequest, NoArguments
from logomesh.commands.registry import CommandRegistry, command
from logomesh.commands.values import Actor, RiskLevel, Source

P95_TARGET_MS = 2.0


@command(
    "bench.noop", summary="Do nothing (benchmark).", permission="bench.noop", risk=RiskLevel.READ
)
async def noop(ctx: CommandContext, args: NoArguments) -> CommandOutput:
    return CommandOutput()


def run(quick: bool) -> list[Row]:
    count, warmup = (200, 20) if quick else (2_000, 100)
    registry = CommandRegistry()
    registry.register(noop)
    with private_workspace() as workspace:
        engine = open_engine(workspace, registry)
        try:
            actor = Actor(Source.CLI, getpass.getuser())
            samples = asyncio.run(
                time_executions(engine, lambda: CommandRequest("bench.noop", actor), count, warmup)
            )
        finally:
            engine.close()
    metric = f"Engine.execute no-op read ({count:,} runs)"
    return latency_rows(metric, samples, digits=3, p95_target_ms=P95_TARGET_MS)
