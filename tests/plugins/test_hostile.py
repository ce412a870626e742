"""Hostile plugins: unbounded memory, network access it was not granted. The host and the
other plugins go on; each refusal is clear."""

from __future__ import annotations

import re
import shutil
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from logomesh.engine import Engine
from logomesh.plugins.cgroups import pids_cgroups_available
from logomesh.plugins.sandbox import network_namespaces_available
from tests.conftest import require_or_skip, requires
from tests.plugins.conftest import ECHO_PLUGIN, run_command

AddPlugin = Callable[..., Path]
MakeEngine = Callable[..., Engine]

HOG = """
    from logomesh_plugin import Plugin, ToolError
    plugin = Plugin("hog", version="1")
    hoard = []
    @plugin.tool("hog.eat")
    def eat(args, ctx):
        try:
            while True:
                hoard.append(bytearray(16 * 1024 * 1024))
        except MemoryError:
            hoard.clear()
            raise ToolError(f"out of memory after the limit")
    plugin.run()
"""


def test_a_python_plugin_that_allocates_without_bound_hits_its_memory_limit(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    add_plugin("hog", HOG, commands=("hog.eat",), extra="[limits]\nmemory_mb = 128\n")
    add_plugin("echo", ECHO_PLUGIN, commands=("echo.say",))
    engine = plugin_engine()
    result = run_command(engine, "hog.eat")
    assert result.error is not None and "out of memory" in result.message
    assert run_command(engine, "echo.say", text="unaffected").ok
    assert run_command(engine, "hog.eat").error is not None  # and it is still serving


@requires(shutil.which("node") is not None, "node is not installed")
def test_a_node_plugin_that_allocates_without_bound_is_stopped_not_the_host(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    script = """
        const { Plugin } = require("logomesh-plugin");
        const plugin = new Plugin("nodehog", { version: "1" });
        const hoard = [];
        console.error("nodehog: ready");  // what comes first is not always the cause
        plugin.tool("nodehog.eat", {}, () => {
          for (;;) hoard.push(new Array(1 << 20).fill(1.5));
        });
        plugin.run();
    """
    add_plugin("nodehog", script, commands=("nodehog.eat",), runtime="node", entry="main.js",
               extra="[limits]\nmemory_mb = 128\n")  # fmt: skip
    add_plugin("echo", ECHO_PLUGIN, commands=("echo.say",))
    engine = plugin_engine(max_restarts=0)
    result = run_command(engine, "nodehog.eat")
    assert result.error is not None
    assert result.error.code == "plugin.crashed"  # V8 hit its heap cap and the process died
    # The cause, from the middle of a long report, beside its first and last lines.
    assert "FATAL ERROR: " in result.message and "JavaScript heap out of memory" in result.message
    assert "nodehog: ready" in result.message and "lines cut" in result.message
    assert re.match(r"\s*\d+: 0x[0-9a-f]+ ", result.message.splitlines()[-1])  # the native stack
    assert run_command(engine, "echo.say", text="unaffected").ok


@requires(network_namespaces_available(), "no network namespaces here")
def test_a_plugin_without_the_network_permission_cannot_connect(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted: list[object] = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    script = f"""
        import socket
        from logomesh_plugin import Plugin, ToolError
        plugin = Plugin("{{name}}", version="1")
        @plugin.tool("{{name}}.connect")
        def connect(args, ctx):
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
            except OSError as exc:
                raise ToolError(f"refused: {{exc}}")
            return "connected"
        plugin.run()
    """
    add_plugin("offline", script.replace("{name}", "offline"), commands=("offline.connect",))
    add_plugin("online", script.replace("{name}", "online"), commands=("online.connect",),
               extra="[permissions]\nnetwork = true\n")  # fmt: skip
    engine = plugin_engine()
    refused = run_command(engine, "offline.connect")
    assert refused.error is not None and "refused" in refused.message
    assert not accepted
    assert run_command(engine, "online.connect").message == "connected"
    server.close()


FORK_BOMB = """
    import os, pathlib, time
    from logomesh_plugin import Plugin
    plugin = Plugin("forker", version="1")
    alive = pathlib.Path(__file__).with_name("alive")
    @plugin.tool("forker.bomb")
    def bomb(args, ctx):
        alive.mkdir(exist_ok=True)
        while True:
            try:
                if os.fork() == 0:
                    (alive / str(os.getpid())).touch()  # each child says it ran
                    time.sleep(60)
                    os._exit(0)
            except OSError:
                time.sleep(0.01)
    plugin.run()
"""


def test_a_plugin_that_forks_without_bound_is_stopped_at_its_process_limit(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    """The fork loop never stops on its own: only the host's limit ends it, and no more
    than ``limits.processes`` of it ever run at once (a pids cgroup refuses the fork itself;
    the watchdog alone would stop it only after it went past)."""
    if not pids_cgroups_available():
        require_or_skip("no pids cgroup here: only the watchdog limits processes")
    folder = add_plugin("forker", FORK_BOMB, commands=("forker.bomb",),
                        extra="[limits]\nprocesses = 40\ncall_timeout_s = 20\n")  # fmt: skip
    add_plugin("echo", ECHO_PLUGIN, commands=("echo.say",))
    engine = plugin_engine(max_restarts=0)
    result = run_command(engine, "forker.bomb")
    assert result.error is not None and result.error.code == "plugin.crashed"
    assert "its limit of 40 processes (limits.processes)" in result.message
    forker = engine.plugins.plugins["forker"]
    assert forker.group_leader() is None
    # The plugin itself and its children (threads count too) never exceeded the limit.
    assert forker.process is not None and forker.process.peak_processes is not None
    assert 1 < forker.process.peak_processes <= 40
    assert forker.process.cgroup is not None and not forker.process.cgroup.path.exists()
    assert len(list((folder / "alive").iterdir())) <= 40 - 1
    assert run_command(engine, "echo.say", text="unaffected").ok


def test_without_a_pids_cgroup_the_watchdog_still_stops_a_fork_bomb(
    add_plugin: AddPlugin, plugin_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last resort, as on a machine where LogoMesh may not create cgroups: late (the
    bomb runs past the limit by what it forks between two counts), but it ends."""
    monkeypatch.setattr("logomesh.plugins.process.pids_hierarchy", lambda: None)
    add_plugin("forker", FORK_BOMB, commands=("forker.bomb",),
               extra="[limits]\nprocesses = 40\ncall_timeout_s = 20\n")  # fmt: skip
    engine = plugin_engine(max_restarts=0)
    result = run_command(engine, "forker.bomb")
    assert result.error is not None and result.error.code == "plugin.crashed"
    assert "more than its limit of 40 processes (limits.processes)" in result.message
    forker = engine.plugins.plugins["forker"]
    assert forker.process is not None and forker.process.cgroup is None
    assert forker.process.peak_processes is not None and forker.process.peak_processes > 40
    assert forker.group_leader() is None


def test_a_100_mb_message_is_refused_at_the_default_limit(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    script = """
        import sys
        from logomesh_plugin import Plugin
        plugin = Plugin("flood", version="1")
        @plugin.tool("flood.send")
        def send(args, ctx):
            return "x" * (100 * 1024 * 1024)
        plugin.run()
    """
    add_plugin("flood", script, commands=("flood.send",), extra="[limits]\nmemory_mb = 1024\n")
    add_plugin("echo", ECHO_PLUGIN, commands=("echo.say",))
    engine = plugin_engine(max_restarts=0)
    result = run_command(engine, "flood.send")
    assert result.error is not None
    assert "over the 16,777,216-byte limit (plugins.max_message_bytes)" in result.message
    assert run_command(engine, "echo.say", text="unaffected").ok
