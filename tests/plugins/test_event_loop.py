"""A real plugin's events and requests meet the adapter's event loop: its state changes and
the events it publishes reach subscribers on that loop, in order, and the command it runs
through ``logomesh/call`` runs on that loop too. Without an adapter loop (a one-shot CLI
call) the bus's own loop does both, the same loop every time."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from logomesh.commands.models import CommandContext, CommandOutput, CommandRequest, NoArguments
from logomesh.commands.registry import command
from logomesh.config import RiskLevel
from logomesh.engine import Engine
from logomesh.events import CommandProgress
from logomesh.plugins.plugin import PluginEventPublished, PluginStateChanged
from tests.plugins.conftest import ME, plugin_script, run_command, wait_until

AddPlugin = Callable[..., Path]
MakeEngine = Callable[..., Engine]

TOOLS = """
    @plugin.tool("ci.build")
    def build(args, ctx):
        for step in (1, 2, 3):
            ctx.publish("build.step", {"step": step})
        return "built"

    @plugin.tool("ci.steps")
    def steps(args, ctx):
        for step in (1, 2, 3):
            ctx.progress(step, 3, f"step {step}")
            ctx.publish("build.step", {"step": step})
        return "stepped"

    @plugin.tool("ci.where")
    def where(args, ctx):
        return ctx.call("test.where", {})
"""
MANIFEST = '[permissions]\npublish = ["build.step"]\ncall = ["test.where"]\n'

# Where the command a plugin asked for ran: (its loop, its thread's name).
ran_on: list[tuple[asyncio.AbstractEventLoop, str]] = []


@command("test.where", summary="Say where it runs", permission="test.run", risk=RiskLevel.READ)
async def _where(ctx: CommandContext, _: NoArguments) -> CommandOutput:
    ran_on.append((asyncio.get_running_loop(), threading.current_thread().name))
    return CommandOutput(message="here")


def _ci_engine(add_plugin: AddPlugin, plugin_engine: MakeEngine) -> Engine:
    add_plugin(
        "ci",
        plugin_script("ci", TOOLS),
        commands=("ci.build", "ci.steps", "ci.where"),
        extra=MANIFEST,
    )
    engine = plugin_engine()
    engine.registry.register(_where)
    ran_on.clear()
    return engine


def _recorder(engine: Engine, seen: list[tuple[Any, ...]]) -> None:
    def record(event: PluginStateChanged | PluginEventPublished) -> None:
        what = event.state if isinstance(event, PluginStateChanged) else event.data["step"]
        loop = asyncio.get_running_loop()
        seen.append((type(event).__name__, what, threading.current_thread().name, loop))

    engine.events.subscribe(PluginStateChanged, record)
    engine.events.subscribe(PluginEventPublished, record)


EXPECTED = [
    ("PluginStateChanged", "starting"),
    ("PluginStateChanged", "active"),
    ("PluginEventPublished", 1),
    ("PluginEventPublished", 2),
    ("PluginEventPublished", 3),
]


def test_plugin_events_and_calls_run_on_the_adapters_loop(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    engine = _ci_engine(add_plugin, plugin_engine)
    seen: list[tuple[Any, ...]] = []
    _recorder(engine, seen)

    async def adapter() -> None:
        loop = asyncio.get_running_loop()
        engine.events.bind(loop)  # what a long-lived adapter does when it starts
        try:
            built = await engine.execute(CommandRequest("ci.build", ME))
            assert built.ok, built.message
            for _ in range(500):
                if len(seen) >= len(EXPECTED):
                    break
                await asyncio.sleep(0.01)
            where = await engine.execute(CommandRequest("ci.where", ME))
            assert where.ok, where.message
            assert where.data["ok"] is True, where.data
        finally:
            engine.events.unbind()
        assert [(name, what) for name, what, _, _ in seen] == EXPECTED
        assert {(thread, ran) for _, _, thread, ran in seen} == {("MainThread", loop)}
        assert ran_on == [(loop, "MainThread")]  # not a loop of the plugin's reader thread

    asyncio.run(adapter())
    publishes = [e for e in seen if e[0] == "PluginEventPublished"]
    assert len(publishes) == 3


def test_without_an_adapter_loop_the_bus_owns_one_loop_for_them(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    engine = _ci_engine(add_plugin, plugin_engine)
    seen: list[tuple[Any, ...]] = []
    _recorder(engine, seen)
    assert run_command(engine, "ci.build").ok
    wait_until(lambda: len(seen) >= len(EXPECTED))
    assert [(name, what) for name, what, _, _ in seen] == EXPECTED
    assert {thread for _, _, thread, _ in seen} == {"logomesh-events"}
    assert len({loop for *_, loop in seen}) == 1
    for _ in range(2):
        result = run_command(engine, "ci.where")
        assert result.ok and result.data["ok"] is True, result.data
    [(first, thread), (second, _)] = ran_on
    assert first is second and thread == "logomesh-events"
    assert first is seen[0][3]  # one loop of the bus's, for events and requests alike


def test_a_plugins_progress_and_its_events_arrive_in_the_order_it_sent_them(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    engine = _ci_engine(add_plugin, plugin_engine)
    seen: list[tuple[str, Any]] = []

    async def adapter() -> None:
        loop = asyncio.get_running_loop()
        engine.events.bind(loop)
        try:

            def progress(event: CommandProgress) -> None:
                assert asyncio.get_running_loop() is loop
                seen.append(("progress", event.message))

            async def published(event: PluginEventPublished) -> None:
                await asyncio.sleep(0.005)  # a slow async subscriber holds the rest back
                seen.append(("event", event.data["step"]))

            engine.events.subscribe(CommandProgress, progress)
            engine.events.subscribe(PluginEventPublished, published)
            result = await engine.execute(CommandRequest("ci.steps", ME))
            assert result.ok, result.message
            for _ in range(500):
                if len(seen) >= 6:
                    break
                await asyncio.sleep(0.01)
        finally:
            engine.events.unbind()

    asyncio.run(adapter())
    assert seen == [
        ("progress", "step 1"), ("event", 1),
        ("progress", "step 2"), ("event", 2),
        ("progress", "step 3"), ("event", 3),
    ]  # fmt: skip
