"""Plugins at run time, with real subprocess plugins: disable and enable, unload and load,
reload (new code, new manifest, calls in flight), and hot reload when a file is saved."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from logomesh.commands.models import CommandResult
from logomesh.engine import Engine
from logomesh.errors import PluginConflictError, PluginError, PluginManifestError
from logomesh.plugins.plugin import PluginStateChanged
from tests.plugins.conftest import ECHO_PLUGIN, manifest_text, run_command, wait_until

AddPlugin = Callable[..., Path]
MakeEngine = Callable[..., Engine]

LIVE = """\
from logomesh_plugin import Plugin
plugin = Plugin("live", version="1")

@plugin.tool("live.answer")
def answer(args, ctx):
    return {"answer": ANSWER}

@plugin.tool("live.extra")
def extra(args, ctx):
    return {"extra": ANSWER}

@plugin.tool("live.nap")
def nap(args, ctx):
    import time
    time.sleep(0.3)
    return "rested"

@plugin.tool("live.forever")
def forever(args, ctx):
    import time
    while not ctx.cancelled:
        time.sleep(0.01)
    return "stopped"

plugin.run()
"""


def live(answer: str) -> str:
    return LIVE.replace("ANSWER", repr(answer))


def answer_of(engine: Engine, command: str = "live.answer") -> object:
    result = run_command(engine, command)
    return result.data if result.ok else result.message


def test_disable_refuses_with_the_enable_hint_and_enable_brings_it_back(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    add_plugin("live", live("one"), commands=("live.answer",))
    engine = plugin_engine()
    host = engine.plugins
    assert answer_of(engine) == {"answer": "one"}
    plugin = host.plugins["live"]
    host.disable("live", reason="a test")
    assert plugin.state == "disabled" and plugin.error == "disabled by a test"
    assert not _alive(plugin)
    assert "live.answer" in engine.registry  # still listed, but refuses
    refused = run_command(engine, "live.answer")
    assert refused.error is not None and refused.error.code == "plugin.disabled"
    assert "disabled by a test" in refused.message
    assert "logomesh plugin enable live" in refused.message
    with pytest.raises(PluginError, match="plugin enable live"):
        host.ensure_started("live")
    assert host.enable("live").state == "active"
    assert answer_of(engine) == {"answer": "one"}
    with pytest.raises(PluginError, match="No plugin named 'nope'"):
        host.disable("nope")


def test_a_plugin_disabled_in_settings_can_be_enabled(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    add_plugin("live", live("one"), commands=("live.answer",))
    engine = plugin_engine(disabled=["live"])
    assert engine.plugins.plugins["live"].state == "disabled"
    assert "live.answer" not in engine.registry
    engine.plugins.enable("live")
    assert answer_of(engine) == {"answer": "one"}


def test_reload_runs_the_new_code_and_publishes_each_state(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    folder = add_plugin("live", live("one"), commands=("live.answer",))
    engine = plugin_engine()
    assert answer_of(engine) == {"answer": "one"}
    states: list[str] = []
    engine.events.subscribe(PluginStateChanged, lambda e: states.append(e.state))
    old_pid = engine.plugins.plugins["live"].process.pid  # type: ignore[union-attr]
    (folder / "main.py").write_text(live("two"), encoding="utf-8")
    plugin = engine.plugins.reload("live")
    # State changes reach subscribers through the bus's queue (publish_threadsafe never
    # waits), so the last one may arrive just after reload returns.
    wait_until(lambda: len(states) >= 4, timeout_s=5)
    assert states == ["stopping", "stopped", "starting", "active"]
    assert plugin.process is not None and plugin.process.pid != old_pid
    assert answer_of(engine) == {"answer": "two"}


def test_a_manifest_edit_adds_and_removes_commands_on_reload(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    folder = add_plugin("live", live("one"), commands=("live.answer",))
    engine = plugin_engine()
    assert answer_of(engine) == {"answer": "one"}
    assert "live.extra" not in engine.registry
    manifest = folder / "logomesh-plugin.toml"
    manifest.write_text(manifest_text("live", commands=("live.answer", "live.extra")), "utf-8")
    engine.plugins.reload("live")
    assert answer_of(engine, "live.extra") == {"extra": "one"}
    assert engine.plugins.plugins["live"].commands == ["live.answer", "live.extra"]
    manifest.write_text(manifest_text("live", commands=("live.extra",)), "utf-8")
    engine.plugins.reload("live")
    assert "live.answer" not in engine.registry
    assert answer_of(engine, "live.extra") == {"extra": "one"}
    # A new command that clashes with a built-in is refused; the plugin keeps what it had.
    manifest.write_text(manifest_text("live", commands=("live.extra", "audit.query")), "utf-8")
    with pytest.raises(PluginConflictError, match=r"audit.query \(from LogoMesh\)"):
        engine.plugins.reload("live")
    assert engine.plugins.plugins["live"].state == "failed"
    assert engine.registry.get("audit.query").provider is None


def test_calls_in_flight_drain_or_fail_saying_the_plugin_was_reloaded(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    folder = add_plugin("live", live("one"), commands=("live.answer", "live.nap", "live.forever"))
    engine = plugin_engine(stop_grace_s=1.0)
    assert answer_of(engine) == {"answer": "one"}
    plugin = engine.plugins.plugins["live"]
    results: dict[str, CommandResult] = {}

    def call(command: str) -> None:
        results[command] = run_command(engine, command)

    threads = [threading.Thread(target=call, args=(c,)) for c in ("live.nap", "live.forever")]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(plugin.in_flight) == 2)
    (folder / "main.py").write_text(live("two"), encoding="utf-8")
    started = time.monotonic()
    engine.plugins.reload("live")
    took = time.monotonic() - started
    for thread in threads:
        thread.join(timeout=10)
    assert results["live.nap"].ok and results["live.nap"].message == "rested"  # drained
    cancelled = results["live.forever"]
    assert cancelled.error is not None and cancelled.error.code == "plugin.cancelled"
    assert "the plugin was reloaded" in cancelled.message
    assert 0.9 < took < 5  # waited the grace period for the endless call, then went on
    assert not plugin.in_flight
    assert answer_of(engine) == {"answer": "two"}  # and the host is fine


def test_unload_removes_the_commands_and_load_adds_a_plugin_at_run_time(
    add_plugin: AddPlugin, plugin_engine: MakeEngine, tmp_path: Path
) -> None:
    add_plugin("live", live("one"), commands=("live.answer",))
    engine = plugin_engine()
    host = engine.plugins
    assert answer_of(engine) == {"answer": "one"}
    process = host.plugins["live"].process
    host.unload("live")
    assert "live" not in host.plugins and "live.answer" not in engine.registry
    assert process is not None and not process.running
    assert run_command(engine, "live.answer").error.code == "command.unknown"  # type: ignore[union-attr]

    elsewhere = tmp_path / "elsewhere" / "echo"
    elsewhere.mkdir(parents=True)
    (elsewhere / "main.py").write_text(ECHO_PLUGIN.replace("\n    ", "\n"), encoding="utf-8")
    (elsewhere / "logomesh-plugin.toml").write_text(
        manifest_text("echo", commands=("echo.say",)), encoding="utf-8"
    )
    plugin = host.load(elsewhere)
    assert plugin.state == "validated" and plugin.found.source == "loaded"
    assert run_command(engine, "echo.say", text="hi").data == {"said": "hi"}
    with pytest.raises(PluginConflictError, match="already loaded"):
        host.load(elsewhere)

    broken = tmp_path / "elsewhere" / "broken"
    broken.mkdir()
    (broken / "logomesh-plugin.toml").write_text('name = "broken"\nversion = ', "utf-8")
    with pytest.raises(PluginManifestError, match="not valid TOML"):
        host.load(broken)
    assert host.plugins["broken"].state == "failed"  # listed with the reason, as discovery does
    with pytest.raises(PluginManifestError, match=r"holds no logomesh-plugin\.toml"):
        host.load(tmp_path)


def test_hot_reload_runs_each_saved_version(
    add_plugin: AddPlugin, plugin_engine: MakeEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = add_plugin("live", live("v0"), commands=("live.answer",))
    engine = plugin_engine()
    assert answer_of(engine) == {"answer": "v0"}
    watcher = engine.plugins.watch()
    plugin = engine.plugins.plugins["live"]
    # What is not code does not reload it: swap files, bytecode, hidden caches.
    pid = plugin.process.pid  # type: ignore[union-attr]
    (folder / ".main.py.swp").write_text("x")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"x")
    (folder / ".cache").mkdir()
    (folder / ".cache" / "state.json").write_text("{}")
    time.sleep(0.3)
    assert plugin.process is not None and plugin.process.pid == pid

    latencies = []
    for version in range(1, 6):
        expected = {"answer": f"v{version}"}
        saved = time.perf_counter()
        (folder / "main.py").write_text(live(f"v{version}"), encoding="utf-8")
        wait_until(lambda expected=expected: answer_of(engine) == expected, poll_s=0.005)  # type: ignore[misc]
        latencies.append((time.perf_counter() - saved) * 1000)
    with capsys.disabled():
        print(
            f"\nhot reload, save -> new code answering: median {statistics.median(latencies):.0f}"
            f" ms (each: {', '.join(f'{ms:.0f}' for ms in latencies)} ms)"
        )
    assert plugin.crashes == 0
    engine.plugins.stop_all()  # what Engine.close does
    assert not watcher.watching


def test_a_reload_that_breaks_the_plugin_leaves_it_failed_and_a_fix_recovers_it(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    folder = add_plugin("live", live("one"), commands=("live.answer",))
    engine = plugin_engine(restart_backoff_s=0.01)
    assert answer_of(engine) == {"answer": "one"}
    engine.plugins.watch()
    plugin = engine.plugins.plugins["live"]

    crashing = "import sys\nsys.stderr.write('broken at start\\n')\nsys.exit(4)\n"
    (folder / "main.py").write_text(crashing, encoding="utf-8")
    wait_until(lambda: plugin.state == "failed")
    assert plugin.error is not None and "broken at start" in plugin.error
    assert "exited with status 4" in plugin.error
    time.sleep(0.2)
    assert plugin.state == "failed" and plugin.crashes == 0  # no restart loop on a bad reload
    (folder / "main.py").write_text(live("fixed"), encoding="utf-8")
    wait_until(lambda: plugin.state == "active")
    assert answer_of(engine) == {"answer": "fixed"}

    manifest = folder / "logomesh-plugin.toml"
    good = manifest.read_text(encoding="utf-8")
    manifest.write_text("colour = 1\n" + good, encoding="utf-8")
    wait_until(lambda: plugin.state == "failed")
    assert plugin.error is not None and "`colour`: unknown key" in plugin.error
    refused = run_command(engine, "live.answer")
    assert refused.error is not None and "`colour`: unknown key" in refused.message
    manifest.write_text(good, encoding="utf-8")
    wait_until(lambda: plugin.state == "active")
    assert answer_of(engine) == {"answer": "fixed"}


def test_a_change_to_a_plugin_not_running_only_rereads_its_manifest(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    folder = add_plugin("live", live("one"), commands=("live.answer",))
    engine = plugin_engine()
    engine.plugins.watch()
    plugin = engine.plugins.plugins["live"]
    (folder / "logomesh-plugin.toml").write_text(
        manifest_text("live", commands=("live.answer", "live.extra")), encoding="utf-8"
    )
    wait_until(lambda: "live.extra" in engine.registry)
    assert plugin.state == "validated" and plugin.process is None  # nothing was started
    assert answer_of(engine, "live.extra") == {"extra": "one"}


def _alive(plugin: object) -> bool:
    process = getattr(plugin, "process", None)
    return bool(process is not None and process.running)
