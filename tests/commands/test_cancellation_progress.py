"""Cancelling a running command, and progress reaching subscribers through the event bus."""

from __future__ import annotations

import asyncio

import pytest

from logomesh.audit.query import AuditFilter
from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandContext, CommandOutput, CommandRequest, NoArguments
from logomesh.commands.registry import command
from logomesh.commands.values import Actor, Outcome, RiskLevel
from logomesh.engine import Engine
from logomesh.events import CommandProgress


@command("test.steps", summary="Report three steps", permission="test.run", risk=RiskLevel.READ)
async def _steps(ctx: CommandContext, _: NoArguments) -> CommandOutput:
    for step in range(3):
        await ctx.progress(f"step {step + 1} of 3", (step + 1) / 3)
    return CommandOutput(message="done")


@command("test.wait", summary="Wait until cancelled", permission="test.run", risk=RiskLevel.READ)
async def _wait(ctx: CommandContext, _: NoArguments) -> CommandOutput:
    await ctx.progress("waiting")
    await asyncio.sleep(60)
    return CommandOutput()


def test_progress_events_reach_subscribers(engine: Engine, owner: Actor) -> None:
    """A handler's progress calls arrive, in order, tagged with the request's correlation id."""
    engine.registry.register(_steps)
    seen: list[CommandProgress] = []
    engine.events.subscribe(CommandProgress, seen.append)
    result = run_sync(engine, CommandRequest("test.steps", owner))
    assert result.ok
    assert [event.message for event in seen] == ["step 1 of 3", "step 2 of 3", "step 3 of 3"]
    assert seen[-1].fraction == pytest.approx(1.0)
    assert {event.correlation_id for event in seen} == {result.correlation_id}


def test_cancelling_a_running_command_is_audited(engine: Engine, owner: Actor) -> None:
    """An adapter cancelling the task (user pressed stop) gets CancelledError; the trail
    records the command as cancelled, so nothing that started goes unrecorded."""
    engine.registry.register(_wait)
    request = CommandRequest("test.wait", owner)

    async def start_then_cancel() -> None:
        started = asyncio.Event()
        engine.events.subscribe(CommandProgress, lambda _: started.set())
        task = asyncio.create_task(engine.execute(request))
        await asyncio.wait_for(started.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(start_then_cancel())
    records = engine.audit.store.query(AuditFilter(correlation_id=request.correlation_id))
    assert len(records) == 1
    assert records[0].outcome == Outcome.CANCELLED
    assert records[0].action == "test.wait"
    assert engine.audit.verify().ok
