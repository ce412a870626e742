"""The host stops every process it started, including one a restart starts while the host
is shutting down (issue 10, item 7)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from logomesh.engine import Engine
from logomesh.errors import PluginError
from logomesh.plugins.cgroups import pids_cgroups_available
from tests.cli.conftest import Run
from tests.conftest import requires
from tests.plugins.conftest import plugin_script, run_command, wait_until

AddPlugin = Callable[..., Path]

# Exits at start the first `crashes` times, then sleeps: it never answers, nor reads its
# stdin, so nothing but the host's kill ends it.
CRASHES_THEN_SLEEPS = """
    import pathlib, sys, time
    here = pathlib.Path(__file__).parent
    starts = len(list(here.glob("start-*"))) + 1
    (here / f"start-{starts}").touch()
    if starts <= int((here / "crashes").read_text()):
        sys.exit(f"crash number {starts}")
    time.sleep(120)
"""


def processes_of(folder: Path) -> list[psutil.Process]:
    """Live processes whose command line names the plugin's folder (its entry script)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if process.info["status"] != psutil.STATUS_ZOMBIE and any(
            str(folder) in part for part in cmdline
        ):
            found.append(process)
    return found


def none_left(folder: Path, timeout_s: float = 10.0) -> list[int]:
    """Poll until no process of the plugin is alive; the pids left at the deadline, which
    are then killed (a failing test leaves nothing behind)."""
    deadline = time.monotonic() + timeout_s
    while (left := processes_of(folder)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for process in left:
        process.kill()
    return [process.pid for process in left]


@pytest.mark.parametrize("crashes", [1, 3])
def test_no_plugin_process_outlives_the_cli_when_a_restart_runs_into_its_exit(
    crashes: int, add_plugin: AddPlugin, cli: Callable[..., Run]
) -> None:
    folder = add_plugin("phoenix", CRASHES_THEN_SLEEPS, commands=("phoenix.ping",))
    assert cli("trust").code == 0
    # Restarts without delay: one is under way while the CLI finishes and exits.
    env = {"LOGOMESH_PLUGINS__RESTART_BACKOFF_S": "0"}
    for _ in range(2):
        for start in folder.glob("start-*"):
            start.unlink()
        (folder / "crashes").write_text(str(crashes))
        listed = cli("plugin", "list", "--json", env=env)
        assert listed.code == 0, listed.err
        assert [p["name"] for p in listed.json()["data"]] == ["phoenix"]
        left = none_left(folder)
        assert not left, f"plugin processes outlived the host: {left}"


def test_closing_the_engine_stops_a_restart_in_its_handshake_at_once(
    add_plugin: AddPlugin, plugin_engine: Callable[..., Engine]
) -> None:
    folder = add_plugin("phoenix", CRASHES_THEN_SLEEPS, commands=("phoenix.ping",))
    (folder / "crashes").write_text("1")
    engine = plugin_engine(restart_backoff_s=0, start_timeout_s=30)
    with pytest.raises(PluginError):
        engine.plugins.ensure_started("phoenix")
    wait_until(lambda: (folder / "start-2").exists() and bool(processes_of(folder)))
    began = time.monotonic()
    engine.close()
    assert time.monotonic() - began < 10  # not the 30 s the restart would wait for
    assert not none_left(folder)
    assert not (folder / "start-3").exists()


ESCAPES_ITS_GROUP = plugin_script(
    "escaper",
    """
    @plugin.tool("escaper.spawn")
    def spawn(args, ctx):
        # A child in a session of its own: killing the plugin's process group misses it.
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)",
                                  str(pathlib.Path(__file__).parent)], start_new_session=True)
        return {"pid": child.pid}
    """,
    head="import pathlib, subprocess, sys",
)


@requires(pids_cgroups_available(), "no pids cgroup here")
def test_a_child_that_left_the_plugins_process_group_is_stopped_with_it(
    add_plugin: AddPlugin, plugin_engine: Callable[..., Engine]
) -> None:
    folder = add_plugin("escaper", ESCAPES_ITS_GROUP, commands=("escaper.spawn",))
    engine = plugin_engine()
    spawned = run_command(engine, "escaper.spawn")
    assert spawned.ok, spawned.message
    child = psutil.Process(spawned.data["pid"])
    assert os.getsid(child.pid) != os.getsid(engine.plugins.plugins["escaper"].process.pid)
    engine.close()
    assert not none_left(folder)


def test_a_restart_pending_when_the_engine_closes_never_runs(
    add_plugin: AddPlugin, plugin_engine: Callable[..., Engine]
) -> None:
    folder = add_plugin("phoenix", CRASHES_THEN_SLEEPS, commands=("phoenix.ping",))
    (folder / "crashes").write_text("1")
    engine = plugin_engine(restart_backoff_s=0.3)
    with pytest.raises(PluginError):
        engine.plugins.ensure_started("phoenix")
    wait_until(lambda: engine.plugins.plugins["phoenix"].crashes == 1)  # a restart is due
    engine.close()
    # A negative can only be watched for a while: well past the restart's 0.3 s.
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        assert not (folder / "start-2").exists(), "the restart ran after close"
        time.sleep(0.05)
    assert not none_left(folder, timeout_s=0)
