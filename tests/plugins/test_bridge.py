"""What plugins ask of the host, with real subprocess plugins on the Python helper: progress,
calls to other plugins' commands, events between plugins, sampling through the LLM
registry, tools added at run time, and cancellation. Every permission is checked against
the manifest and every call, publish and sample is in the audit trail."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from logomesh.audit.query import AuditFilter
from logomesh.composition import build_engine
from logomesh.config import LoadedSettings
from logomesh.engine import Engine
from logomesh.events import CommandProgress
from logomesh.plugins.arguments import PluginArguments
from tests.plugins.conftest import plugin_script, run_command, wait_until

AddPlugin = Callable[..., Path]
MakeEngine = Callable[..., Engine]

MODEL_CACHE = Path.home() / ".cache" / "logomesh" / "models"


def test_progress_becomes_command_progress_events(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    tools = """
        @plugin.tool("steps.run")
        def run(args, ctx):
            ctx.progress(1, 4, "reading files")
            ctx.progress(3, 4, "checking links")
            ctx.progress(4)
            return "done"
    """
    script = plugin_script("steps", tools)
    add_plugin("steps", script, commands=("steps.run",))
    engine = plugin_engine()
    seen: list[CommandProgress] = []
    engine.events.subscribe(CommandProgress, seen.append)
    result = run_command(engine, "steps.run")
    assert result.ok, result.message
    wait_until(lambda: len(seen) == 3)
    assert [(e.command, e.message, e.fraction) for e in seen] == [
        ("steps.run", "reading files", 0.25),
        ("steps.run", "checking links", 0.75),
        ("steps.run", "steps: 4", None),  # no total: no fraction; the host names the plugin
    ]
    assert {e.correlation_id for e in seen} == {result.correlation_id}


DOUBLER = """
    from logomesh_plugin import Plugin
    plugin = Plugin("b", version="1")
    @plugin.tool("b.double", schema={"type": "object",
                 "properties": {"n": {"type": "integer"}}, "required": ["n"]})
    def double(args, ctx):
        return {"doubled": args["n"] * 2}
    plugin.run()
"""

CALLER = """
    from logomesh_plugin import Plugin, ToolError
    plugin = Plugin("{name}", version="1")
    @plugin.tool("{name}.twice")
    def twice(args, ctx):
        try:
            answer = ctx.call("b.double", {{"n": 21}})
        except ToolError as exc:
            return {{"refused": exc.message, "code": exc.code}}
        return {{"answer": answer}}
    plugin.run()
"""


def test_a_plugin_calls_another_plugins_command_through_the_one_door(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    add_plugin("b", DOUBLER, commands=("b.double",))
    add_plugin("a", CALLER.format(name="a"), commands=("a.twice",),
               extra='[permissions]\ncall = ["b.*"]\n')  # fmt: skip
    engine = plugin_engine()
    result = run_command(engine, "a.twice")
    assert result.ok, result.message
    answer = result.data["answer"]
    assert answer["ok"] is True and answer["data"] == {"doubled": 42}, answer["message"]
    assert engine.plugins.plugins["b"].state == "active"  # started on demand by the call
    [inner] = engine.audit.store.query(AuditFilter(action="b.double"))
    assert inner.outcome == "ok"
    assert inner.details["plugin"] == "b" and inner.details["plugin_version"] == "0.1.0"
    [call] = engine.audit.store.query(AuditFilter(action="plugin.call"))
    assert call.actor == "plugin:a" and call.target == "b.double" and call.outcome == "ok"
    assert call.details["plugin_version"] == "0.1.0"  # the manifest's
    assert call.correlation_id == inner.correlation_id  # the call and what it ran, linked
    [outer] = engine.audit.store.query(AuditFilter(action="a.twice"))
    assert outer.outcome == "ok"


def test_a_call_without_the_permission_is_refused_and_audited(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    add_plugin("b", DOUBLER, commands=("b.double",))
    add_plugin("c", CALLER.format(name="c"), commands=("c.twice",))
    add_plugin("d", CALLER.format(name="d"), commands=("d.twice",),
               extra='[permissions]\ncall = ["b.triple", "other.*"]\n')  # fmt: skip
    engine = plugin_engine()
    for name in ("c", "d"):
        result = run_command(engine, f"{name}.twice")
        assert result.ok, result.message
        refused = result.data["refused"]
        assert "may not call b.double" in refused
        assert "`call` under [permissions]" in refused
        assert result.data["code"] == -32001
    denied = engine.audit.store.query(AuditFilter(action="plugin.call", oldest_first=True))
    assert [(r.actor, r.target, r.outcome) for r in denied] == [
        ("plugin:c", "b.double", "denied"),
        ("plugin:d", "b.double", "denied"),
    ]
    assert engine.audit.store.query(AuditFilter(action="b.double")) == []
    assert engine.plugins.plugins["b"].state == "validated"  # never even started


PUBLISHER = """
    from logomesh_plugin import Plugin
    plugin = Plugin("{name}", version="1")
    @plugin.tool("{name}.build")
    def build(args, ctx):
        ctx.publish("build.finished", {{"by": "{name}", "status": args.get("status", "ok")}})
        return "built"
    plugin.run()
"""

# Proves receipt: one JSON line per event, in its own folder (its working directory).
LISTENER = """
    import json
    from logomesh_plugin import Plugin
    plugin = Plugin("{name}", version="1")
    @plugin.on("build.finished")
    def finished(data, source):
        with open("received.jsonl", "a", encoding="utf-8") as out:
            out.write(json.dumps({{"data": data, "source": source}}) + "\\n")
    plugin.run()
"""

LISTENS = '[[contributes.events]]\nevent = "build.finished"\n'


def test_an_event_published_by_one_plugin_reaches_its_subscriber(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    add_plugin("ci", PUBLISHER.format(name="ci"), commands=("ci.build",),
               extra='[permissions]\npublish = ["build.finished"]\n')  # fmt: skip
    add_plugin("rogue", PUBLISHER.format(name="rogue"), commands=("rogue.build",))
    listener = add_plugin("listener", LISTENER.format(name="listener"),
                          extra=LISTENS + '[permissions]\nsubscribe = ["build.*"]\n')  # fmt: skip
    eavesdropper = add_plugin("eavesdropper", LISTENER.format(name="eavesdropper"),
                              extra=LISTENS)  # fmt: skip
    engine = plugin_engine()

    # Refused at the host: audited as denied, and nobody is told.
    assert run_command(engine, "rogue.build").ok
    [denied] = engine.audit.store.query(AuditFilter(action="plugin.publish"))
    assert (denied.actor, denied.target, denied.outcome) == (
        "plugin:rogue",
        "build.finished",
        "denied",
    )
    assert engine.plugins.plugins["listener"].state == "validated"

    assert run_command(engine, "ci.build", status="green").ok
    received = listener / "received.jsonl"
    wait_until(received.exists)
    wait_until(lambda: received.read_text(encoding="utf-8").endswith("\n"))
    lines = [json.loads(line) for line in received.read_text(encoding="utf-8").splitlines()]
    assert lines == [{"data": {"by": "ci", "status": "green"}, "source": "ci"}]
    [_, sent] = engine.audit.store.query(AuditFilter(action="plugin.publish", oldest_first=True))
    assert (sent.actor, sent.target, sent.outcome) == ("plugin:ci", "build.finished", "ok")
    assert sent.details["receivers"] == ["listener"]

    # Declaring the event without `subscribe` under [permissions] gets nothing.
    assert not (eavesdropper / "received.jsonl").exists()
    assert engine.plugins.plugins["eavesdropper"].state == "validated"


SAMPLER = """
    from logomesh_plugin import Plugin, ToolError
    plugin = Plugin("{name}", version="1")
    @plugin.tool("{name}.ask")
    def ask(args, ctx):
        try:
            return {{"answer": ctx.sample("Say hello.", max_tokens=4, temperature=0)}}
        except ToolError as exc:
            return {{"refused": exc.message, "code": exc.code}}
    plugin.run()
"""


def test_sampling_needs_the_llm_permission(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    add_plugin("asker", SAMPLER.format(name="asker"), commands=("asker.ask",))
    engine = plugin_engine()
    result = run_command(engine, "asker.ask")
    assert result.ok, result.message
    assert "llm = true" in result.data["refused"] and result.data["code"] == -32001
    [denied] = engine.audit.store.query(AuditFilter(action="plugin.sample"))
    assert denied.actor == "plugin:asker" and denied.outcome == "denied"
    assert engine.audit.store.query(AuditFilter(action="llm.call")) == []


@pytest.fixture
def llm_plugin_engine(load: Callable[..., LoadedSettings]) -> Iterator[MakeEngine]:
    """Engines with the built-in local model, cached where real use caches it."""
    made: list[Engine] = []

    def _make() -> Engine:
        flags: dict[str, Any] = {
            "plugins": {"entry_points": False},
            "nl": {"model_cache_dir": str(MODEL_CACHE)},
        }
        loaded = load(flags)
        made.append(build_engine(loaded.settings, provenance=loaded.provenance))
        return made[-1]

    yield _make
    for engine in made:
        engine.close()


@pytest.mark.slow
def test_sampling_with_the_permission_asks_the_local_model_and_is_audited(
    add_plugin: AddPlugin, llm_plugin_engine: MakeEngine
) -> None:
    add_plugin("poet", SAMPLER.format(name="poet"), commands=("poet.ask",),
               extra="[permissions]\nllm = true\n")  # fmt: skip
    engine = llm_plugin_engine()
    result = run_command(engine, "poet.ask")
    assert result.ok, result.message
    assert "refused" not in result.data, result.data
    answer = result.data["answer"]
    assert isinstance(answer, str) and answer.strip()
    [call] = engine.audit.store.query(AuditFilter(action="llm.call"))
    assert call.actor == "plugin:poet" and call.source == "plugin" and call.outcome == "ok"
    assert call.details["parameters"]["max_tokens"] == 4
    assert call.model == "gemma-3-270m"  # the built-in local model
    assert call.prompt_hash is not None and call.response_hash is not None
    assert call.details["response_chars"] == len(answer)


def test_a_tool_added_at_run_time_refreshes_the_commands_arguments(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    tools = """

        def count(args, ctx):
            return {"count": args["n"] + 1}

        @plugin.tool("dyn.enable")
        def enable(args, ctx):
            plugin.add_tool("dyn.count", count, "Count one more", {"type": "object",
                            "properties": {"n": {"type": "integer"}}, "required": ["n"]})
            plugin.notify_tools_changed()
            return "enabled"
    """
    script = plugin_script("dyn", tools)
    add_plugin("dyn", script, commands=("dyn.enable", "dyn.count"))
    engine = plugin_engine()
    assert run_command(engine, "dyn.enable").ok
    wait_until(lambda: engine.registry.get("dyn.count").args_model is not PluginArguments)
    wrong = run_command(engine, "dyn.count", n="many")
    assert wrong.error is not None and wrong.error.code == "command.invalid_arguments"
    assert "n" in wrong.message
    counted = run_command(engine, "dyn.count", n=41)
    assert counted.ok, counted.message
    assert counted.data == {"count": 42}
    assert engine.plugins.plugins["dyn"].state == "active"
    assert engine.plugins.plugins["dyn"].crashes == 0


def test_a_timed_out_call_is_cancelled_in_the_plugin(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    tools = """
        @plugin.tool("patient.wait")
        def wait(args, ctx):
            started = time.monotonic()
            while not ctx.cancelled:
                time.sleep(0.01)
            with open("cancelled.txt", "w", encoding="utf-8") as out:
                out.write(f"{ctx.request_id} after {time.monotonic() - started:.2f}")
            return "too late"
        @plugin.tool("patient.ping")
        def ping(args, ctx):
            return "pong"
    """
    script = plugin_script("patient", tools, head="import time")
    folder = add_plugin("patient", script, commands=("patient.wait", "patient.ping"),
                        extra="[limits]\ncall_timeout_s = 0.5\n")  # fmt: skip
    engine = plugin_engine()
    started = time.monotonic()
    result = run_command(engine, "patient.wait")
    assert result.error is not None and result.error.code == "command.timeout"
    assert time.monotonic() - started < 5
    marker = folder / "cancelled.txt"
    wait_until(lambda: marker.exists() and marker.read_text(encoding="utf-8") != "")
    request_id, _, waited = marker.read_text(encoding="utf-8").partition(" after ")
    assert request_id.isdigit() and 0.2 < float(waited) < 5
    # The plugin saw the cancellation and kept serving; its late answer was not mistaken
    # for the next call's.
    assert run_command(engine, "patient.ping").message == "pong"
    assert engine.plugins.plugins["patient"].state == "active"
