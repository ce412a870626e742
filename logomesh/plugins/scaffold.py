"""``logomesh plugin new``: a working plugin folder to start from.

The folder holds a manifest declaring one command, ``<name>.hello`` (read risk, with
examples for natural language), the program serving it on the Python or Node helper, and
``test_plugin.py``: a pytest file that starts the plugin the way the host does (the helper on
``PYTHONPATH`` or ``NODE_PATH``, a near-empty environment), speaks the protocol to it line by
line and checks the answers. ``logomesh plugin check <folder>`` then validates it as a whole.

An existing folder is never touched, and a name the manifest would refuse is refused here
first, with the rule it breaks.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from logomesh.errors import InvalidArgumentsError, PluginError
from logomesh.plugins.manifest import MANIFEST_FILE

# The manifest's own rule for `name` (see Manifest.name).
NAME_RULE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


class ScaffoldRuntime(StrEnum):
    PYTHON = "python"
    NODE = "node"


@dataclass(frozen=True, slots=True)
class Scaffolded:
    name: str
    runtime: ScaffoldRuntime
    folder: Path
    files: tuple[str, ...]

    @property
    def command(self) -> str:
        return f"{self.name}.hello"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "runtime": str(self.runtime),
            "folder": str(self.folder),
            "files": list(self.files),
            "command": self.command,
        }


def check_name(name: str) -> None:
    if not NAME_RULE.fullmatch(name):
        raise InvalidArgumentsError(
            f"{name!r} cannot name a plugin: use 1-63 lower-case letters, digits and '-', "
            "starting with a letter (for example `my-tool`)."
        )


def scaffold(name: str, runtime: ScaffoldRuntime, parent: Path) -> Scaffolded:
    """Create ``parent/name`` with a manifest, a program and a test; refuse an existing one."""
    check_name(name)
    folder = parent / name
    if folder.exists():
        raise PluginError(
            f"{folder} already exists; nothing was written. Pick another name, or remove it first.",
            code="plugin.exists",
        )
    entry = "main.py" if runtime is ScaffoldRuntime.PYTHON else "main.js"
    files = {
        MANIFEST_FILE: _manifest(name, runtime, entry),
        entry: _program(name, runtime),
        "test_plugin.py": _test(name, runtime, entry),
    }
    try:
        folder.mkdir(parents=True)
    except FileExistsError as exc:  # created in the meantime
        raise PluginError(
            f"{folder} already exists; nothing was written.", code="plugin.exists"
        ) from exc
    except OSError as exc:
        raise PluginError(f"Cannot create {folder}: {exc}.") from exc
    try:
        for file_name, text in files.items():
            (folder / file_name).write_text(text, encoding="utf-8")
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)  # no half-written plugin left behind
        raise PluginError(f"Cannot write the plugin into {folder}: {exc}.") from exc
    return Scaffolded(name, runtime, folder, tuple(files))


# -- templates ------------------------------------------------------------------------------
# Placeholders are __NAME__ and __ENTRY__: the programs are full of braces of their own.


def _fill(template: str, name: str, entry: str = "") -> str:
    return template.replace("__NAME__", name).replace("__ENTRY__", entry).lstrip("\n")


def _manifest(name: str, runtime: ScaffoldRuntime, entry: str) -> str:
    return _fill(
        f"""
# The plugin's manifest: see docs/plugins.md for every key.
name = "__NAME__"
version = "0.1.0"
runtime = "{runtime}"
entry = "__ENTRY__"
description = "A new LogoMesh plugin: describe what __NAME__ does."

[[contributes.commands]]
name = "__NAME__.hello"
summary = "Say hello (replace with what __NAME__ does)"
risk = "read"
examples = ["say hello with __NAME__", "greet someone using __NAME__"]

[permissions]
# Everything is denied unless granted here: workspace ("none", "read", "write"),
# network, llm, call (commands it may run), publish and subscribe (events).
workspace = "none"

[limits]
memory_mb = 256
call_timeout_s = 30
""",
        name,
        entry,
    )


_PYTHON_PROGRAM = '''
"""The __NAME__ plugin: an MCP server on stdio, written with LogoMesh's Python helper.

The host puts the helper (logomesh_plugin) on PYTHONPATH. Run `pytest` in this folder to
test it, `logomesh plugin check .` to validate it, and `logomesh run __NAME__.hello` to use it.
"""

from __future__ import annotations

from logomesh_plugin import Plugin, ToolContext, ToolError

plugin = Plugin("__NAME__", version="0.1.0")


@plugin.tool(
    "__NAME__.hello",
    description="Say hello to someone",
    schema={
        "type": "object",
        "properties": {"name": {"type": "string", "description": "Who to greet (default: world)"}},
    },
)
def hello(args: dict, ctx: ToolContext) -> dict:
    who = args.get("name", "world")
    if not who.strip():
        raise ToolError("Name someone to greet, or leave `name` out.")
    return {"greeting": f"Hello, {who}!"}


if __name__ == "__main__":
    plugin.run()
'''

_NODE_PROGRAM = """
// The __NAME__ plugin: an MCP server on stdio, written with LogoMesh's Node helper.
// The host sets NODE_PATH so that require("logomesh-plugin") finds it. Run `pytest` in this
// folder to test it, `logomesh plugin check .` to validate it, and
// `logomesh run __NAME__.hello` to use it.
"use strict";

const { Plugin, ToolError } = require("logomesh-plugin");

const plugin = new Plugin("__NAME__", { version: "0.1.0" });

plugin.tool(
  "__NAME__.hello",
  {
    description: "Say hello to someone",
    schema: {
      type: "object",
      properties: { name: { type: "string", description: "Who to greet (default: world)" } },
    },
  },
  async (args, ctx) => {
    const who = args.name === undefined ? "world" : String(args.name);
    if (!who.trim()) throw new ToolError("Name someone to greet, or leave `name` out.");
    return { greeting: `Hello, ${who}!` };
  },
);

plugin.run();
"""


def _program(name: str, runtime: ScaffoldRuntime) -> str:
    return _fill(_PYTHON_PROGRAM if runtime is ScaffoldRuntime.PYTHON else _NODE_PROGRAM, name)


_PYTHON_LAUNCH = """
def launch() -> tuple[list[str], dict[str, str]]:
    \"\"\"The plugin's argv and environment, as the host builds them.\"\"\"
    env = {**base_env(), "PYTHONPATH": str(SDK_DIR / "python"), "PYTHONUNBUFFERED": "1"}
    return [sys.executable, "-s", str(HERE / "__ENTRY__")], env
"""

_NODE_LAUNCH = """
def launch() -> tuple[list[str], dict[str, str]]:
    \"\"\"The plugin's argv and environment, as the host builds them.\"\"\"
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH")
    return [node, str(HERE / "__ENTRY__")], {**base_env(), "NODE_PATH": str(SDK_DIR / "node")}
"""

_TEST = '''
"""Tests for the __NAME__ plugin: start it as LogoMesh does and speak the protocol to it.

Run `pytest` in this folder. The plugin gets the helper from LogoMesh's SDK folder and a
near-empty environment, like under the host; each message is one JSON line (see
docs/plugin-protocol.md).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from logomesh.plugins.sandbox import SDK_DIR

HERE = Path(__file__).resolve().parent
TIMEOUT_S = 10.0


def base_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(HERE), "LOGOMESH_PLUGIN": "__NAME__"}

__LAUNCH__
class Session:
    """The host's side of the pipe: JSON lines out, answers matched by id."""

    def __init__(self) -> None:
        argv, env = launch()
        self.process = subprocess.Popen(
            argv,
            cwd=HERE,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.inbox.put(json.loads(line))  # anything but JSON on stdout is a bug

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\\n")
        self.process.stdin.flush()

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        while True:
            try:
                message = self.inbox.get(timeout=TIMEOUT_S)
            except queue.Empty:
                pytest.fail(f"no answer to {method} in {TIMEOUT_S} s; stderr: {self.stderr()}")
            if message.get("id") == self.next_id and "method" not in message:
                assert "error" not in message, message["error"]
                result: dict[str, Any] = message["result"]
                return result

    def stderr(self) -> str:
        if self.process.poll() is None:
            return "(still running)"
        assert self.process.stderr is not None
        return self.process.stderr.read().decode(errors="replace")

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()  # the host's way to ask a plugin to stop
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def plugin() -> Iterator[Session]:
    session = Session()
    answer = session.request(
        "initialize",
        {
            "protocolVersion": "2025-11-25",
            "capabilities": {"experimental": {"logomesh": {"version": 1}}},
            "clientInfo": {"name": "test", "version": "0"},
        },
    )
    assert answer["protocolVersion"] == "2025-11-25"
    assert answer["serverInfo"]["name"] == "__NAME__"
    session.send({"method": "notifications/initialized"})
    yield session
    session.close()
    assert session.process.returncode == 0, session.stderr()


def call(session: Session, arguments: dict[str, Any]) -> tuple[Any, bool, str]:
    result = session.request("tools/call", {"name": "__NAME__.hello", "arguments": arguments})
    text = "\\n".join(item["text"] for item in result["content"] if item["type"] == "text")
    data = result.get("structuredContent")
    if data is None and not result.get("isError"):
        data = json.loads(text)
    return data, bool(result.get("isError")), text


def test_it_serves_hello(plugin: Session) -> None:
    tools = {tool["name"]: tool for tool in plugin.request("tools/list", {})["tools"]}
    assert "__NAME__.hello" in tools
    assert tools["__NAME__.hello"]["inputSchema"]["type"] == "object"


def test_hello_greets(plugin: Session) -> None:
    assert call(plugin, {"name": "Ada"})[0] == {"greeting": "Hello, Ada!"}
    assert call(plugin, {})[0] == {"greeting": "Hello, world!"}


def test_a_blank_name_is_a_failed_command(plugin: Session) -> None:
    _, failed, text = call(plugin, {"name": " "})
    assert failed and "Name someone" in text
'''


def _test(name: str, runtime: ScaffoldRuntime, entry: str) -> str:
    python = runtime is ScaffoldRuntime.PYTHON
    launch = _PYTHON_LAUNCH if python else _NODE_LAUNCH
    text = _TEST.replace("__LAUNCH__", "\n" + launch.strip("\n") + "\n\n")
    text = text.replace("import shutil\n" if python else "import sys\n", "")  # only one is used
    return _fill(text, name, entry)
