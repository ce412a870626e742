"""The plugin host with real subprocess plugins: commands through the one door, and every
way a plugin can be broken or hostile, with the host and the other plugins unaffected."""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from logomesh.audit.query import AuditFilter
from logomesh.engine import Engine
from tests.plugins.conftest import ECHO_PLUGIN, plugin_script, run_command, wait_until

AddPlugin = Callable[..., Path]
MakeEngine = Callable[..., Engine]


def test_a_plugin_tool_is_a_command_with_validation_and_audit(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    add_plugin("echo", ECHO_PLUGIN, commands=("echo.say", "echo.fail"))
    engine = plugin_engine()
    assert "echo.say" in engine.registry  # registered from the manifest, nothing started
    assert engine.plugins.plugins["echo"].state == "validated"
    result = run_command(engine, "echo.say", text="ab", times=2)
    assert result.ok, result.message
    assert result.data == {"said": "abab"}
    assert engine.plugins.plugins["echo"].state == "active"
    [record] = engine.audit.store.query(AuditFilter(action="echo.say"))
    assert record.details["plugin"] == "echo" and record.outcome == "ok"
    # The tool's schema is now the command's argument model.
    wrong = run_command(engine, "echo.say", text="x", times="many")
    assert wrong.error is not None and wrong.error.code == "command.invalid_arguments"
    assert "times" in wrong.message
    unknown = run_command(engine, "echo.say", text="x", colour="red")
    assert unknown.error is not None and "colour" in unknown.message
    failed = run_command(engine, "echo.fail")
    assert failed.error is not None and failed.error.code == "plugin.command_failed"
    assert failed.message == "it failed on purpose"


def test_plugin_list_shows_each_plugin_and_its_state(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    add_plugin("echo", ECHO_PLUGIN, commands=("echo.say",))
    add_plugin("broken", "raise SystemExit(3)\n", commands=("broken.run",))
    engine = plugin_engine()
    result = run_command(engine, "plugin.list")
    rows = {row["name"]: row for row in result.data}
    assert rows["echo"]["state"] == "active" and rows["echo"]["runtime"] == "python"
    assert rows["broken"]["state"] == "failed"
    assert "exited with status 3" in rows["broken"]["error"]
    assert run_command(engine, "echo.say", text="still fine").ok


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ('name = "bad"\nversion = "1"\nruntime = "python"\nentry = "main.py"\ncolour = 1\n',
         "logomesh-plugin.toml:5: `colour`: unknown key"),
        ('name = "bad"\nversion = "1"\nruntime = "cobol"\nentry = "main.py"\n',
         "logomesh-plugin.toml:3: `runtime`"),
        ('name = "bad"\nversion = "1"\nruntime = "python"\nentry = "missing.py"\n',
         "`entry` = 'missing.py' does not exist"),
        ('name = "bad"\nversion = "1"\nruntime = "python"\nentry = "../../x.py"\n',
         "points outside the plugin's folder"),
        ('name = "bad"\nversion = "1"\nruntime = "python"\n', "needs `entry`"),
        ('name = "bad"\nversion = ', "not valid TOML"),
        ('name = "Bad Name"\nversion = "1"\nruntime = "python"\nentry = "main.py"\n', "`name`"),
    ],
)  # fmt: skip
def test_a_malformed_manifest_is_reported_with_file_line_and_key(
    add_plugin: AddPlugin, plugin_engine: MakeEngine, manifest: str, expected: str
) -> None:
    add_plugin("bad", "print('never run')\n", manifest=manifest)
    add_plugin("echo", ECHO_PLUGIN, commands=("echo.say",))
    engine = plugin_engine()
    rows = {row["name"]: row for row in engine.plugins.describe()}
    assert rows["bad"]["state"] == "failed"
    assert expected in rows["bad"]["error"]
    assert run_command(engine, "echo.say", text="unaffected").ok


def test_two_plugins_claiming_one_command_name(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    add_plugin("echo", ECHO_PLUGIN, commands=("echo.say",))
    add_plugin("imposter", ECHO_PLUGIN, commands=("echo.say",))
    add_plugin("greedy", ECHO_PLUGIN, commands=("status.check", "audit.query"))
    engine = plugin_engine()
    rows = {row["name"]: row for row in engine.plugins.describe()}
    assert rows["imposter"]["state"] == "failed"
    assert "echo.say (from plugin echo)" in rows["imposter"]["error"]
    assert "audit.query (from LogoMesh)" in rows["greedy"]["error"]
    assert engine.registry.get("audit.query").provider is None  # the built-in is untouched
    assert run_command(engine, "echo.say", text="first one wins").ok


def test_a_plugin_that_never_answers_the_handshake(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    add_plugin("mute", "import time\ntime.sleep(60)\n", commands=("mute.run",))
    engine = plugin_engine(start_timeout_s=0.5)
    started = time.monotonic()
    result = run_command(engine, "mute.run")
    assert time.monotonic() - started < 10
    assert result.error is not None and result.error.code == "plugin.start"
    assert "did not answer initialize in time" in result.message
    assert not _alive(engine.plugins.plugins["mute"])


def test_garbage_on_stdout_stops_the_plugin_with_the_reason(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    add_plugin("noisy", "print('hello, I am not JSON', flush=True)\nimport time\ntime.sleep(60)\n",
               commands=("noisy.run",))  # fmt: skip
    engine = plugin_engine()
    result = run_command(engine, "noisy.run")
    assert result.error is not None
    assert "not JSON" in result.message and "hello, I am not JSON" in result.message
    plugin = engine.plugins.plugins["noisy"]
    assert plugin.state in ("failed", "disabled")
    wait_until(lambda: not _alive(plugin))


def test_an_oversized_message_is_refused(add_plugin: AddPlugin, plugin_engine: MakeEngine) -> None:
    tools = """
        @plugin.tool("huge.send")
        def send(args, ctx):
            return "x" * (3 * 1024 * 1024)
    """
    script = plugin_script("huge", tools)
    add_plugin("huge", script, commands=("huge.send",))
    engine = plugin_engine(max_message_bytes=1024 * 1024, max_restarts=0)
    result = run_command(engine, "huge.send")
    assert result.error is not None
    assert "over the 1,048,576-byte limit" in result.message


def test_a_crash_mid_call_is_reported_and_the_plugin_restarts(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    tools = """
        @plugin.tool("fragile.crash")
        def crash(args, ctx):
            os._exit(7)
        @plugin.tool("fragile.ok")
        def ok(args, ctx):
            return "fine"
    """
    script = plugin_script("fragile", tools, head="import os")
    add_plugin("fragile", script, commands=("fragile.crash", "fragile.ok"))
    engine = plugin_engine(restart_backoff_s=0.05)
    crashed = run_command(engine, "fragile.crash")
    assert crashed.error is not None and crashed.error.code == "plugin.crashed"
    assert "exited with status 7" in crashed.message
    wait_until(lambda: engine.plugins.plugins["fragile"].state == "active")
    assert run_command(engine, "fragile.ok").message == "fine"
    assert engine.plugins.plugins["fragile"].crashes == 1
    [record] = engine.audit.store.query(AuditFilter(action="plugin.failed"))
    assert record.actor == "plugin:fragile" and "exited with status 7" in (record.error or "")


def test_repeated_crashes_disable_the_plugin_with_the_reason(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    add_plugin("doomed", "import sys\nsys.stderr.write('boom at start\\n')\nsys.exit(2)\n",
               commands=("doomed.run",))  # fmt: skip
    engine = plugin_engine(restart_backoff_s=0.01, max_restarts=2)
    first = run_command(engine, "doomed.run")
    assert first.error is not None and "boom at start" in first.message
    plugin = engine.plugins.plugins["doomed"]
    wait_until(lambda: plugin.state == "disabled")  # restarted with backoff, then given up
    assert plugin.crashes == 3
    assert plugin.error is not None and "disabled after 3 crashes" in plugin.error
    assert "exited with status 2" in plugin.error and "boom at start" in plugin.error
    refused = run_command(engine, "doomed.run")
    assert refused.error is not None and "disabled" in refused.message
    [disabled] = engine.audit.store.query(AuditFilter(action="plugin.disabled"))
    assert "disabled after 3 crashes" in (disabled.error or "")


def test_a_plugin_that_ignores_shutdown_is_killed_with_its_children(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    head = """
        import signal, subprocess, sys
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    """
    tools = """
        @plugin.tool("stubborn.child")
        def child_pid(args, ctx):
            return {"pid": child.pid}
        plugin.run = lambda run=plugin.run: (run(), __import__("time").sleep(120))
    """
    script = plugin_script("stubborn", tools, head=head)
    add_plugin("stubborn", script, commands=("stubborn.child",))
    engine = plugin_engine(stop_grace_s=0.2)
    child = run_command(engine, "stubborn.child").data["pid"]
    plugin = engine.plugins.plugins["stubborn"]
    leader = plugin.process.pid if plugin.process else None
    engine.plugins.stop("stubborn")
    assert plugin.state == "stopped"
    wait_until(lambda: not _pid_alive(child) and not _pid_alive(leader))


def test_host_secrets_never_reach_a_plugin(
    add_plugin: AddPlugin, plugin_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-host-secret-0123456789abcdefghij")
    monkeypatch.setenv("LOGOMESH_SLACK__BOT_TOKEN", "xoxb-secret")
    monkeypatch.setenv("SOME_UNRELATED_VAR", "host-only")
    tools = """
        @plugin.tool("nosy.env")
        def env(args, ctx):
            return {"env": dict(os.environ)}
    """
    script = plugin_script("nosy", tools, head="import os")
    add_plugin("nosy", script, commands=("nosy.env",))
    seen = run_command(plugin_engine(), "nosy.env").data["env"]
    assert "OPENAI_API_KEY" not in seen and "LOGOMESH_SLACK__BOT_TOKEN" not in seen
    assert "SOME_UNRELATED_VAR" not in seen
    assert "sk-host-secret" not in str(seen)
    assert seen["LOGOMESH_PLUGIN"] == "nosy"


def test_a_call_that_loops_forever_times_out_and_the_plugin_keeps_serving(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    tools = """
        @plugin.tool("spin.forever")
        def forever(args, ctx):
            while not ctx.cancelled:
                pass
            return "stopped"
        @plugin.tool("spin.quick")
        def quick(args, ctx):
            return "quick"
    """
    script = plugin_script("spin", tools)
    add_plugin("spin", script, commands=("spin.forever", "spin.quick"),
               extra="[limits]\ncall_timeout_s = 0.5\n")  # fmt: skip
    engine = plugin_engine()
    started = time.monotonic()
    slow = run_command(engine, "spin.forever")
    assert slow.error is not None and slow.error.code == "command.timeout"
    assert time.monotonic() - started < 5
    assert run_command(engine, "spin.quick").message == "quick"


def _alive(plugin: object) -> bool:
    process = getattr(plugin, "process", None)
    return bool(process is not None and process.running)


def _pid_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie still answers kill(0); it is dead for our purposes
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_disable_enable_and_reload_commands(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    folder = add_plugin("echo", ECHO_PLUGIN, commands=("echo.say",))
    engine = plugin_engine()
    assert run_command(engine, "plugin.disable", name="echo").ok
    refused = run_command(engine, "echo.say", text="x")
    assert refused.error is not None and "logomesh plugin enable echo" in refused.message
    assert run_command(engine, "plugin.enable", name="echo").ok
    assert run_command(engine, "echo.say", text="x").data == {"said": "x"}
    script = (folder / "main.py").read_text().replace('{"said":', '{"heard":')
    (folder / "main.py").write_text(script)
    assert run_command(engine, "plugin.reload", name="echo").ok
    assert run_command(engine, "echo.say", text="y").data == {"heard": "y"}
    records = engine.audit.store.query(AuditFilter(action="plugin.*", limit=None))
    assert {"plugin.disable", "plugin.enable", "plugin.reload"} <= {r.action for r in records}


def test_a_plugin_installed_as_a_python_package_is_found_by_its_entry_point(
    tmp_path: Path, plugin_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    package = site / "acme_plugin"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text(textwrap.dedent(ECHO_PLUGIN).replace('"echo"', '"acme"'))
    (package / "logomesh-plugin.toml").write_text(
        'name = "acme"\nversion = "2.0.0"\nruntime = "python"\nentry = "main.py"\n'
        '[[contributes.commands]]\nname = "echo.say"\nsummary = "say it"\n'
    )
    info = site / "acme_plugin-2.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-plugin\nVersion: 2.0.0\n")
    (info / "entry_points.txt").write_text("[logomesh.plugins]\nacme = acme_plugin\n")
    monkeypatch.syspath_prepend(str(site))
    engine = plugin_engine(entry_points=True)
    [row] = [row for row in engine.plugins.describe() if row["name"] == "acme"]
    assert row["source"] == "entry point acme" and row["version"] == "2.0.0"
    assert run_command(engine, "echo.say", text="installed").data == {"said": "installed"}


def test_long_lived_adapters_get_plugins_started_and_their_stats_as_events(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    from logomesh.plugins.plugin import PluginStatsSampled

    add_plugin("echo", ECHO_PLUGIN, commands=("echo.say",))
    engine = plugin_engine(stats_interval_s=0.1, watch=False)
    samples: list[PluginStatsSampled] = []
    engine.events.subscribe(PluginStatsSampled, samples.append)
    engine.plugins.serve_in_background()
    # Samples start with the process, so the first may still say "starting".
    wait_until(lambda: any(s.plugin == "echo" and s.stats["state"] == "active" for s in samples))
    stats = next(s.stats for s in samples if s.plugin == "echo" and s.stats["state"] == "active")
    assert stats["rss_mb"] > 0 and stats["pid"]
