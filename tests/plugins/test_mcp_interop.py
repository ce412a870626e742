"""The host as an MCP client of a plain official-SDK server (``mcp`` 2.x), mounted under
``[[plugins.mcp]]``: handshake, tool schemas as argument models, structured and text
results, progress, tool errors, and the plugin's place in ``plugin.list``.

The server (data/mcp_sdk_server/server.py) is the SDK's own ``MCPServer`` on stdio; it runs
on this interpreter, whose site-packages hold ``mcp``, under the host's clean environment.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from logomesh.audit.query import AuditFilter
from logomesh.engine import Engine
from logomesh.events import CommandProgress
from tests.plugins.conftest import run_command

pytestmark = pytest.mark.slow  # importing the SDK takes about a second per server

MakeEngine = Callable[..., Engine]

SERVER = Path(__file__).resolve().parent / "data" / "mcp_sdk_server" / "server.py"
COMMANDS = {
    "sdk.add": "add two numbers",
    "sdk.greet": "greet someone",
    "sdk.count": "count with progress",
    "sdk.fail": "always fails",
}


def sdk_server(**overrides: Any) -> dict[str, Any]:
    """One ``[[plugins.mcp]]`` table for the SDK server."""
    commands = [{"name": name, "summary": summary} for name, summary in COMMANDS.items()]
    return {
        "name": "sdk-server",
        "command": [sys.executable, str(SERVER)],
        "contributes": {"commands": commands},
        "permissions": {},
        **overrides,
    }


def test_the_host_drives_an_official_sdk_server(plugin_engine: MakeEngine) -> None:
    engine = plugin_engine(mcp=[sdk_server()])
    assert engine.plugins.plugins["sdk-server"].state == "validated"

    added = run_command(engine, "sdk.add", a=2, b=40)
    assert added.ok, added.message
    assert added.data == {"result": 42}  # structuredContent
    plugin = engine.plugins.plugins["sdk-server"]
    assert plugin.process is not None
    assert plugin.process.server_info == {"name": "sdk-server", "version": "1.0.0"}
    [record] = engine.audit.store.query(AuditFilter(action="sdk.add"))
    assert record.outcome == "ok" and record.details["plugin"] == "sdk-server"
    assert record.details["plugin_version"] == "external"

    greeted = run_command(engine, "sdk.greet", name="Ada", excited=True)
    assert greeted.ok, greeted.message
    assert greeted.data == {"result": "Hello, Ada!"}
    assert run_command(engine, "sdk.greet", name="Bo").data == {"result": "Hello, Bo."}

    # The server's inputSchema is the command's argument model.
    wrong = run_command(engine, "sdk.add", a="two", b=40)
    assert wrong.error is not None and wrong.error.code == "command.invalid_arguments"
    assert "a" in wrong.message
    missing = run_command(engine, "sdk.add", a=1)
    assert missing.error is not None and missing.error.code == "command.invalid_arguments"
    assert "b" in missing.message
    unknown = run_command(engine, "sdk.add", a=1, b=2, c=3)
    assert unknown.error is not None and unknown.error.code == "command.invalid_arguments"

    # A tool error is a failed command whose message is the server's text.
    failed = run_command(engine, "sdk.fail", reason="no thanks")
    assert failed.error is not None and failed.error.code == "plugin.command_failed"
    assert "refusing: no thanks" in failed.message

    # The SDK's ctx.report_progress arrives as CommandProgress events.
    seen: list[CommandProgress] = []
    engine.events.subscribe(CommandProgress, seen.append)
    counted = run_command(engine, "sdk.count", to=4)
    assert counted.ok, counted.message
    assert counted.data == {"counted": 4}
    assert [(e.message, e.fraction) for e in seen] == [(f"counted {n}", n / 4) for n in range(1, 5)]

    rows = {row["name"]: row for row in run_command(engine, "plugin.list").data}
    row = rows["sdk-server"]
    assert row["state"] == "active" and row["runtime"] == "mcp" and row["source"] == "config"
    assert row["version"] == "external" and row["error"] is None
    assert sorted(row["commands"]) == sorted(COMMANDS)
    assert row["pid"] == plugin.process.pid

    engine.plugins.stop("sdk-server")
    assert plugin.state == "stopped" and not plugin.process.running


def test_a_server_that_is_not_there_fails_with_the_reason(plugin_engine: MakeEngine) -> None:
    missing = str(SERVER.with_name("no_such_server.py"))
    engine = plugin_engine(mcp=[sdk_server(command=[sys.executable, missing])], max_restarts=0)
    result = run_command(engine, "sdk.add", a=1, b=2)
    assert result.error is not None
    assert "no_such_server.py" in result.message
    rows = {row["name"]: row for row in engine.plugins.describe()}
    assert rows["sdk-server"]["state"] in ("failed", "disabled")
