"""``worker.status``: the figures of :mod:`logomesh.workers.status` through the one door,
so ``logomesh worker status``, the chat bots and the editor all show the same thing."""

from __future__ import annotations

import asyncio

from logomesh.commands.models import CommandContext, CommandOutput, NoArguments
from logomesh.commands.registry import command
from logomesh.commands.values import RiskLevel
from logomesh.workers.queue import require_postgres
from logomesh.workers.status import read_figures


@command(
    "worker.status",
    summary="Show the workers alive, the jobs waiting and running per queue, and the oldest wait",
    permission="engine.read",
    risk=RiskLevel.READ,
    examples=("how are the workers doing", "show the job queue", "are any workers running"),
)
async def worker_status(ctx: CommandContext, _: NoArguments) -> CommandOutput:
    require_postgres(ctx.engine.settings, "`logomesh worker status`")
    figures = await asyncio.to_thread(read_figures, ctx.engine)
    assert figures is not None  # PostgreSQL, migrated: the queue's tables are there
    return CommandOutput(data=figures.to_dict(), message=figures.summary())
