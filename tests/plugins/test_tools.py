"""Tools for running and writing plugins: stats, doctor, new (scaffold) and check.

Real plugins as subprocesses, as in use: a scaffolded plugin must pass `plugin check`, run
through an engine, and pass its own generated test in a separate pytest process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from logomesh.engine import Engine
from logomesh.plugins import doctor, landlock, stats
from logomesh.plugins.cgroups import pids_cgroups_available
from tests.conftest import requires
from tests.plugins.conftest import ECHO_PLUGIN, run_command

AddPlugin = Callable[..., Path]
MakeEngine = Callable[..., Engine]
NODE = shutil.which("node")
RUNTIMES = [
    "python",
    pytest.param("node", marks=requires(NODE is not None, "node is not on PATH")),
]
LOGOMESH = Path(sys.executable).parent / "logomesh"


def processes_in(folder: Path) -> list[psutil.Process]:
    """Live processes whose working directory is ``folder`` (a plugin runs in its folder)."""
    found = []
    for process in psutil.process_iter(["cwd"]):
        try:
            if process.info["cwd"] == str(folder) and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


# -- stats --------------------------------------------------------------------------------


def test_stats_of_an_active_plugin(add_plugin: AddPlugin, plugin_engine: MakeEngine) -> None:
    add_plugin("echo", ECHO_PLUGIN, commands=("echo.say", "echo.fail"))
    add_plugin("idle", ECHO_PLUGIN.replace('"echo', '"idle'), commands=("idle.say",))
    engine = plugin_engine()
    assert run_command(engine, "echo.say", text="a").ok
    assert run_command(engine, "echo.say", text="b").ok
    assert not run_command(engine, "echo.fail").ok

    result = run_command(engine, "plugin.stats", name="echo")
    assert result.ok, result.message
    [row] = result.data
    process = engine.plugins.plugins["echo"].process
    assert process is not None
    assert row["state"] == "active" and row["pid"] == process.pid
    assert row["rss_mb"] > 0 and row["cpu_s"] >= 0 and row["processes"] >= 1
    assert (row["calls"], row["errors"], row["restarts"]) == (3, 1, 0)
    assert 0 < row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"]
    assert row["uptime_s"] >= 0

    every = {row["name"]: row for row in run_command(engine, "plugin.stats").data}
    assert every["idle"]["state"] == "validated" and every["idle"]["pid"] is None
    assert every["idle"]["rss_mb"] is None and every["idle"]["calls"] == 0
    started = run_command(engine, "plugin.stats", name="idle", start=True).data[0]
    assert started["state"] == "active" and started["rss_mb"] > 0

    unknown = run_command(engine, "plugin.stats", name="nope")
    assert unknown.error is not None and "No plugin named 'nope'" in unknown.message


def test_tree_usage_counts_descendants_and_tolerates_vanished_processes() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys, time; subprocess.Popen([sys.executable,"
         " '-c', 'import time; time.sleep(30)']); print('ok', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert parent.stdout is not None and parent.stdout.readline() == b"ok\n"
        usage = stats.tree_usage(parent.pid)
        alone = psutil.Process(parent.pid).memory_info().rss
        assert usage is not None and usage.processes == 2 and usage.rss_bytes > alone
    finally:
        for child in psutil.Process(parent.pid).children(recursive=True):
            child.kill()
        parent.kill()
        parent.wait()
    assert stats.tree_usage(parent.pid) is None  # gone: no figures, no exception


def test_percentiles() -> None:
    assert stats.percentile([], 50) is None
    assert stats.percentile([5.0], 99) == 5.0
    values = [float(v) for v in range(1, 101)]
    assert stats.percentile(values, 50) == pytest.approx(50.5)
    assert stats.percentile(values, 99) == pytest.approx(99.01)
    assert stats.latency_summary([1.0, 2.0, 3.0]) == {"p50_ms": 2.0, "p95_ms": 2.9, "p99_ms": 2.98}


# -- doctor -------------------------------------------------------------------------------


def test_doctor_lists_every_protection_with_a_status(plugin_engine: MakeEngine) -> None:
    result = run_command(plugin_engine(), "plugin.doctor")
    assert result.ok, result.message
    rows = {row["protection"]: row for row in result.data}
    assert set(rows) == {
        "clean environment",
        "process group",
        "resource limits",
        "process limit (pids cgroup)",
        "process limit (RLIMIT_NPROC)",
        "process watchdog",
        "call timeouts",
        "network namespace",
        "Node.js runtime",
        "Node permission model",
        "Landlock",
        "seccomp",
    }
    statuses = {doctor.ACTIVE, doctor.NOT_USED_YET, doctor.UNAVAILABLE}
    assert all(row["status"] in statuses and row["detail"] for row in rows.values())
    for always in ("clean environment", "process group", "resource limits", "process watchdog"):
        assert rows[always]["status"] == doctor.ACTIVE
    # Which mechanism holds limits.processes here: the cgroup where LogoMesh may make one.
    cgroup = rows["process limit (pids cgroup)"]
    assert cgroup["status"] == (doctor.ACTIVE if pids_cgroups_available() else doctor.UNAVAILABLE)
    nproc = rows["process limit (RLIMIT_NPROC)"]
    assert nproc["status"] == (doctor.UNAVAILABLE if os.geteuid() == 0 else doctor.ACTIVE)
    if pids_cgroups_available():
        assert "refuses the fork" in cgroup["detail"]
        assert "last resort" in rows["process watchdog"]["detail"]
    assert "not enforced" not in rows["resource limits"]["detail"]
    node = rows["Node.js runtime"]
    assert node["status"] == (doctor.ACTIVE if NODE else doctor.UNAVAILABLE)
    if NODE:
        version = subprocess.run([NODE, "--version"], capture_output=True, text=True).stdout
        assert version.strip() in node["detail"]
    for later in ("Node permission model", "seccomp"):
        assert rows[later]["status"] in (doctor.NOT_USED_YET, doctor.UNAVAILABLE)
    assert rows["Landlock"]["status"] == (
        doctor.ACTIVE if landlock.abi_version() > 0 else doctor.UNAVAILABLE
    )
    assert result.message.endswith("unavailable here.")


def test_doctor_reads_landlock_and_seccomp_from_the_kernel(tmp_path: Path) -> None:
    active = doctor.landlock(abi=7)
    assert active.status == doctor.ACTIVE and "ABI 7" in active.detail
    assert doctor.landlock(abi=0).status == doctor.UNAVAILABLE
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nSeccomp:\t2\nSeccomp_filters:\t1\n")
    filtered = doctor.seccomp(status)
    assert filtered.status == doctor.NOT_USED_YET
    assert "already runs under a filter" in filtered.detail
    status.write_text("Name:\tpython\n")
    assert doctor.seccomp(status).status == doctor.UNAVAILABLE
    assert "exempts root" in doctor.nproc_limit(euid=0).detail
    assert doctor.nproc_limit(euid=0).status == doctor.UNAVAILABLE
    assert doctor.nproc_limit(euid=1000).status == doctor.ACTIVE
    assert doctor.pids_cgroup(None).status == doctor.UNAVAILABLE
    assert "late" in doctor.process_watchdog(None).detail


# -- new ------------------------------------------------------------------------------------


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_new_plugin_passes_check_runs_and_passes_its_own_test(
    runtime: str, workspace: Path, plugin_engine: MakeEngine
) -> None:
    name = f"hello-{runtime}"
    made = run_command(plugin_engine(), "plugin.new", name=name, runtime=runtime)
    assert made.ok, made.message
    folder = workspace / "plugins" / name
    entry = "main.py" if runtime == "python" else "main.js"
    assert made.data["folder"] == str(folder)
    assert sorted(made.data["files"]) == sorted(["logomesh-plugin.toml", entry, "test_plugin.py"])
    assert f"logomesh run {name}.hello" in made.message

    engine = plugin_engine()  # a fresh engine discovers it
    spec = engine.registry.get(f"{name}.hello")
    assert str(spec.risk) == "read" and spec.examples and spec.provider == f"plugin {name}"
    checked = run_command(engine, "plugin.check", path=str(folder))
    assert checked.ok, checked.message
    report = checked.data
    assert report["passed"], report
    assert report["runtime"] == runtime and report["started"]
    [hello] = report["commands"]
    assert hello["served"] and hello["result"] == "ok" and hello["latency_ms"] is not None
    assert json.loads(hello["message"]) == {"greeting": "Hello, world!"}
    assert hello["schema"]["properties"]["name"]["type"] == "string"
    assert report["missing_commands"] == [] and report["undeclared_tools"] == []
    assert not processes_in(folder)  # the check stopped what it started

    greeted = run_command(engine, f"{name}.hello", name="Ada")
    assert greeted.ok, greeted.message
    assert greeted.data == {"greeting": "Hello, Ada!"}
    blank = run_command(engine, f"{name}.hello", name=" ")
    assert blank.error is not None and "Name someone" in blank.message

    own_test = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_plugin.py"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert own_test.returncode == 0, own_test.stdout + own_test.stderr
    assert "3 passed" in own_test.stdout


def test_new_refuses_an_existing_name_a_bad_name_and_a_folder_outside(
    workspace: Path, plugin_engine: MakeEngine
) -> None:
    engine = plugin_engine()
    assert run_command(engine, "plugin.new", name="twice").ok
    again = run_command(plugin_engine(), "plugin.new", name="twice", runtime="node")
    assert again.error is not None and again.error.code == "plugin.exists"
    assert "already exists" in again.message
    (workspace / "plugins" / "taken").mkdir()  # a folder, not (yet) a plugin
    taken = run_command(engine, "plugin.new", name="taken")
    assert taken.error is not None and taken.error.code == "plugin.exists"
    assert list((workspace / "plugins" / "taken").iterdir()) == []  # untouched

    for bad in ("Bad", "9lives", "a_b", "a.b", "x" * 64, ""):
        refused = run_command(engine, "plugin.new", name=bad)
        assert refused.error is not None and refused.error.code == "command.invalid_arguments"
    outside = run_command(engine, "plugin.new", name="elsewhere", dir=str(workspace.parent))
    assert outside.error is not None and "outside the workspace" in outside.message
    assert not (workspace.parent / "elsewhere").exists()

    nested = run_command(engine, "plugin.new", name="nested", dir="tools")
    assert nested.ok and "add it to plugins.paths" in nested.message
    assert (workspace / "tools" / "nested" / "main.py").is_file()


# -- check ----------------------------------------------------------------------------------


def test_check_reports_a_broken_manifest(add_plugin: AddPlugin, plugin_engine: MakeEngine) -> None:
    folder = add_plugin(
        "bad",
        "print('never run')\n",
        manifest='name = "bad"\nversion = "1"\nruntime = "python"\nentry = "main.py"\ncolour = 1\n',
    )
    engine = plugin_engine()
    report = run_command(engine, "plugin.check", path=str(folder)).data
    assert not report["passed"] and not report["started"]
    assert "logomesh-plugin.toml:5: `colour`: unknown key" in report["manifest_error"]
    assert report["manifest_error"] in report["problems"]
    # The manifest file itself, a relative path, and a folder without a manifest.
    by_file = run_command(engine, "plugin.check", path=str(folder / "logomesh-plugin.toml")).data
    assert by_file["manifest_error"] == report["manifest_error"]
    relative = run_command(engine, "plugin.check", path="plugins/bad").data
    assert relative["manifest_error"] == report["manifest_error"]
    empty = run_command(engine, "plugin.check", path="plugins").data
    assert "No logomesh-plugin.toml in" in empty["manifest_error"]


MIXED_PLUGIN = """
    from logomesh_plugin import Plugin, ToolError

    plugin = Plugin("mixed", version="0.1.0")

    @plugin.tool("mixed.run", schema={"type": "object", "properties": {
        "text": {"type": "string"}, "n": {"type": "integer"}}, "required": ["text", "n"]})
    def run(args, ctx):
        return args["text"]

    @plugin.tool("mixed.extra")
    def extra(args, ctx):
        return "not declared"

    @plugin.tool("mixed.refuse")
    def refuse(args, ctx):
        raise ToolError("give me something")

    plugin.run()
"""


def test_check_reports_undeclared_tools_and_unserved_commands(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    folder = add_plugin(
        "mixed", MIXED_PLUGIN, commands=("mixed.run", "mixed.missing", "mixed.refuse")
    )
    engine = plugin_engine()
    result = run_command(engine, "plugin.check", path=str(folder))
    assert result.ok, result.message
    report = result.data
    assert not report["passed"] and report["started"]
    assert report["missing_commands"] == ["mixed.missing"]
    assert report["undeclared_tools"] == ["mixed.extra"]
    assert any("mixed.missing" in problem for problem in report["problems"])
    assert any("mixed.extra" in warning for warning in report["warnings"])
    rows = {row["command"]: row for row in report["commands"]}
    assert rows["mixed.missing"]["served"] is False
    assert rows["mixed.missing"]["result"] == "not served"
    assert rows["mixed.run"]["result"] == "needs arguments"
    assert rows["mixed.run"]["message"] == "needs arguments: text, n"
    assert rows["mixed.run"]["latency_ms"] is None  # not called
    assert rows["mixed.refuse"]["result"] == "error"
    assert rows["mixed.refuse"]["message"] == "give me something"
    assert any("give me something" in warning for warning in report["warnings"])
    assert "FAILED" in result.message and "mixed.missing" in result.message
    assert not processes_in(folder)


def test_check_of_a_plugin_that_crashes_or_never_starts(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    crashing = add_plugin(
        "crashy",
        """
        import os, sys
        from logomesh_plugin import Plugin

        plugin = Plugin("crashy")

        @plugin.tool("crashy.go")
        def go(args, ctx):
            print("going down", file=sys.stderr, flush=True)
            os._exit(7)

        plugin.run()
        """,
        commands=("crashy.go",),
    )
    dead = add_plugin("dead", "raise SystemExit('no such luck')\n", commands=("dead.run",))
    engine = plugin_engine(start_timeout_s=5)
    report = run_command(engine, "plugin.check", path=str(crashing)).data
    assert not report["passed"] and report["started"]
    assert report["commands"][0]["result"] == "error"
    assert "exited with status 7" in " ".join(report["problems"])
    assert "going down" in report["log"]
    started = time.monotonic()
    never = run_command(engine, "plugin.check", path=str(dead)).data
    assert time.monotonic() - started < 5
    assert not never["passed"] and not never["started"]
    assert "no such luck" in never["start_error"]


def test_check_reports_a_command_name_already_taken(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    add_plugin("echo", ECHO_PLUGIN, commands=("echo.say",))
    copy = add_plugin("greedy", ECHO_PLUGIN, commands=("echo.say", "audit.query"))
    engine = plugin_engine()
    mine = run_command(engine, "plugin.check", path="plugins/echo").data
    assert mine["passed"], mine  # its own registered commands are no clash
    report = run_command(engine, "plugin.check", path=str(copy)).data
    problems = " ".join(report["problems"])
    assert "echo.say already exists (from plugin echo)" in problems
    assert "audit.query already exists (from LogoMesh)" in problems


# -- the command line -------------------------------------------------------------------------


def cli(workspace: Path, test_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("LOGOMESH_")}
    return subprocess.run(
        [str(LOGOMESH), *args],
        cwd=workspace,
        env={**keep, **test_env, "COLUMNS": "200", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_cli(workspace: Path, test_env: dict[str, str], add_plugin: AddPlugin) -> None:
    made = cli(workspace, test_env, "plugin", "new", "greeter", "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["data"]["folder"] == str(workspace / "plugins" / "greeter")
    checked = cli(workspace, test_env, "plugin", "check", "plugins/greeter")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "greeter.hello" in checked.stdout and "passed" in checked.stdout
    add_plugin("mixed", MIXED_PLUGIN, commands=("mixed.run", "mixed.missing"))
    failing = cli(workspace, test_env, "plugin", "check", "plugins/mixed", "--json")
    assert failing.returncode == 1
    assert json.loads(failing.stdout)["data"]["missing_commands"] == ["mixed.missing"]
    # Checking runs a folder on request; starting the workspace's plugins needs its trust.
    assert cli(workspace, test_env, "trust").returncode == 0
    shown = cli(workspace, test_env, "plugin", "stats", "greeter", "--start")
    assert shown.returncode == 0, shown.stderr
    assert "greeter" in shown.stdout and "active" in shown.stdout
    doctor_rows: list[dict[str, Any]] = json.loads(
        cli(workspace, test_env, "plugin", "doctor", "--json").stdout
    )["data"]
    assert {row["protection"] for row in doctor_rows} >= {"seccomp", "Landlock"}
