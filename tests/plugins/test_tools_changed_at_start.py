"""A server that says its tool list changed while the host is still starting it (as
server-everything does, right after ``initialized``): the host binds its tools twice at
once, for the start and for the notification, and neither may trip over the other."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from logomesh.engine import Engine
from tests.plugins.conftest import run_command, wait_until

MakeEngine = Callable[..., Engine]
SERVER = Path(__file__).resolve().parent / "data" / "mcp_many_tools" / "server.py"
TOOLS = 300  # enough that the two bindings overlap on every run


def test_tools_changed_during_the_start_are_bound_once(
    plugin_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    failures: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: failures.append(args.exc_value))
    table = {
        "name": "many",
        "command": [sys.executable, str(SERVER), str(TOOLS)],
        "expose": "all",
        "default_risk": "read",
    }
    for _ in range(3):
        engine = plugin_engine(mcp=[table])
        engine.plugins.ensure_started("many")
        plugin = engine.plugins.plugins["many"]
        # The notification's own listing and binding run in a thread of their own.
        wait_until(lambda: not any("_refresh_tools" in t.name for t in threading.enumerate()))
        assert failures == []
        assert len(plugin.commands) == TOOLS
        result = run_command(engine, "many.tool-7", n=3)
        assert result.ok, result.message
        assert result.data == {"tool": "tool-7", "n": 3}
        engine.close()
