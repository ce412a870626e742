"""Approval round trip: a ticket decided in another process resumes the waiting command.

One process runs danger-risk commands that wait for approval (``wait_for_approval``, no
confirmer), one after another. A second process, with its own engine on the same SQLite
file, receives each ticket id as it opens and approves it through ``Engine.decide``. The
figure is the time from the start of that ``decide`` call in the second process to the
waiting command's handler starting in the first: the decision itself, the poll that sees it,
and the re-checks before running. Both times are ``time.monotonic()``, which on Linux is one
clock for every process.
"""

from __future__ import annotations

import asyncio
import getpass
import multiprocessing
import queue
import time
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from pathlib import Path

from benchmarks.table import Row
from benchmarks.timing import latency_rows
from benchmarks.workspace import Workspace, open_engine, private_workspace
from logomesh.commands.models import (
    CommandContext,
    CommandOutput,
    CommandRequest,
    CommandSpec,
    NoArguments,
)
from logomesh.commands.registry import CommandRegistry, command
from logomesh.commands.values import Actor, RiskLevel, Source
from logomesh.engine import Engine
from logomesh.events import ApprovalRequested

TARGET_P95_MS = 500.0
STEP_TIMEOUT_S = 60
RESUME_MEASURES = (
    "Monotonic seconds from the start of `Engine.decide` (approve) in a second process to the "
    "waiting danger command's handler starting in the first (same SQLite file)."
)
ROUND_TRIP_MEASURES = (
    "Monotonic seconds of the whole `Engine.execute` of a danger command that waits for "
    "approval: ticket opened, approved by the other process, re-checked, run, recorded."
)


def _guarded(resumed: list[float]) -> CommandSpec:
    """A danger command (so it waits for approval) that notes when it started running."""

    @command("bench.guarded", summary="Waits", permission="bench", risk=RiskLevel.DANGER)
    async def guarded(ctx: CommandContext, _: NoArguments) -> CommandOutput:
        resumed.append(time.monotonic())
        return CommandOutput(message="ran")

    return guarded


def run(quick: bool) -> list[Row]:
    count = 5 if quick else 30
    with private_workspace() as workspace:
        latencies, round_trips = _measure(workspace, count)
    metric = f"approval round trip, decided in another process ({count} tickets, SQLite)"
    resumed = f"{metric}: decide -> command resumes"
    return [
        *latency_rows(
            resumed, latencies, measures=RESUME_MEASURES, digits=1, p95_target_ms=TARGET_P95_MS
        ),
        *latency_rows(
            f"{metric}: request -> approved -> done",
            round_trips,
            measures=ROUND_TRIP_MEASURES,
            digits=1,
        ),
    ]


def _measure(workspace: Workspace, count: int) -> tuple[list[float], list[float]]:
    resumed: list[float] = []
    registry = CommandRegistry()
    registry.register(_guarded(resumed))
    engine = open_engine(workspace, registry)
    context = multiprocessing.get_context("spawn")
    tickets: Queue[str | None] = context.Queue()
    decided: Queue[float] = context.Queue()
    decider = context.Process(
        target=_decide_each, args=(str(workspace.root), workspace.environ, tickets, decided)
    )
    decider.start()
    try:
        return asyncio.run(_waiting_commands(engine, count, resumed, (tickets, decided), decider))
    finally:
        tickets.put(None)
        decider.join(STEP_TIMEOUT_S)
        engine.close()


async def _waiting_commands(
    engine: Engine,
    count: int,
    resumed: list[float],
    queues: tuple[Queue[str | None], Queue[float]],
    decider: BaseProcess,
) -> tuple[list[float], list[float]]:
    tickets, decided = queues
    engine.events.subscribe(ApprovalRequested, lambda event: tickets.put(event.ticket_id))
    actor = Actor(Source.CLI, getpass.getuser())
    latencies: list[float] = []
    round_trips: list[float] = []
    for _ in range(count):
        started = time.monotonic()
        request = CommandRequest("bench.guarded", actor, wait_for_approval=True)
        result = await asyncio.wait_for(engine.execute(request), STEP_TIMEOUT_S)
        if not result.ok:
            raise RuntimeError(f"the approved command did not run: {result.message}")
        round_trips.append(time.monotonic() - started)
        latencies.append(resumed[-1] - _decided_at(decided, decider))
    return latencies, round_trips


def _decided_at(decided: Queue[float], decider: BaseProcess) -> float:
    try:
        return decided.get(timeout=STEP_TIMEOUT_S)
    except queue.Empty:
        raise RuntimeError(f"the deciding process stopped (exit {decider.exitcode})") from None


def _decide_each(
    root: str, environ: dict[str, str], tickets: Queue[str | None], decided: Queue[float]
) -> None:
    """The other process: approve every ticket id it is sent, reporting when it began."""
    engine = open_engine(Workspace(Path(root), environ))
    approver = Actor(Source.CLI, getpass.getuser())
    try:
        while (ticket_id := tickets.get(timeout=STEP_TIMEOUT_S)) is not None:
            began = time.monotonic()
            asyncio.run(engine.decide(ticket_id, approver, True, "benchmark"))
            decided.put(began)
    finally:
        engine.close()
