"""What the one door costs: ``Engine.execute`` of a command that does nothing.

The handler returns at once, so the time measured is the engine's own work for every
command: argument validation, identity and authorisation, the timeout wrapper, events, and
the audit record written to SQLite.
"""

from __future__ import annotations

import asyncio
import getpass
import time

from benchmarks.table import Row
from benchmarks.timing import percentile
from benchmarks.workspace import open_engine, private_workspace
from logomesh.audit.models import Source
from logomesh.commands.models import CommandContext, CommandOutput, CommandRequest, NoArguments
from logomesh.commands.registry import CommandRegistry, command
from logomesh.config import RiskLevel
from logomesh.engine import Engine
from logomesh.security.identity import Actor

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
            samples = asyncio.run(_time_executions(engine, count, warmup))
        finally:
            engine.close()
    p50, p95 = percentile(samples, 0.5) * 1000, percentile(samples, 0.95) * 1000
    metric = f"Engine.execute no-op read ({count:,} runs)"
    return [
        Row(f"{metric}, p50", f"{p50:.3f} ms"),
        Row(f"{metric}, p95", f"{p95:.3f} ms", f"< {P95_TARGET_MS:g} ms", p95 < P95_TARGET_MS),
    ]


async def _time_executions(engine: Engine, count: int, warmup: int) -> list[float]:
    actor = Actor(Source.CLI, getpass.getuser())
    samples: list[float] = []
    for i in range(warmup + count):
        request = CommandRequest("bench.noop", actor)
        started = time.perf_counter()
        result = await engine.execute(request)
        elapsed = time.perf_counter() - started
        if not result.ok:
            raise RuntimeError(f"bench.noop did not succeed: {result.message}")
        if i >= warmup:
            samples.append(elapsed)
    return samples
