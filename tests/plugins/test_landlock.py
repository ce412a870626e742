"""Landlock file system isolation: a plugin reads and writes only what its manifest grants.

Real plugins (Python and Node) try to read and write inside and outside their grants; the
kernel refuses what is not granted, and the example plugins keep working.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from logomesh.engine import Engine
from logomesh.plugins import landlock
from logomesh.plugins.manifest import parse_manifest
from logomesh.plugins.sandbox import LAUNCHER, launch_spec
from tests.conftest import require_or_skip, requires
from tests.plugins.conftest import run_command

pytestmark = requires(landlock.abi_version() > 0, "no Landlock here")

AddPlugin = Callable[..., Path]
MakeEngine = Callable[..., Engine]
NODE = shutil.which("node")

PROBE = """
    import os
    from logomesh_plugin import Plugin

    plugin = Plugin("probe", version="0.1.0")
    PATH = {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}

    def attempt(action):
        try:
            return {"ok": True, "value": action()}
        except OSError as exc:
            return {"ok": False, "error": type(exc).__name__}

    @plugin.tool("probe.read", schema=PATH)
    def read(args, ctx):
        return attempt(lambda: open(args["path"]).read())

    @plugin.tool("probe.write", schema=PATH)
    def write(args, ctx):
        def action():
            with open(args["path"], "w") as f:
                f.write("written")
            return "written"
        return attempt(action)

    @plugin.tool("probe.env")
    def env(args, ctx):
        return {"tmpdir": os.environ.get("TMPDIR"), "cwd": os.getcwd()}

    plugin.run()
"""
COMMANDS = ("probe.read", "probe.write", "probe.env")


@pytest.fixture
def secret(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file outside every grant, as ~/.config or another project would be."""
    path = tmp_path_factory.mktemp("elsewhere") / "credentials"
    path.write_text("hunter2", encoding="utf-8")
    return path


def probe(engine: Engine, command: str, path: Path | str) -> dict[str, object]:
    result = run_command(engine, command, path=str(path))
    assert result.ok, result.message
    assert isinstance(result.data, dict)
    return result.data


def add_probe(add_plugin: AddPlugin, workspace_access: str | None) -> Path:
    extra = f'[permissions]\nworkspace = "{workspace_access}"\n' if workspace_access else ""
    return add_plugin("probe", PROBE, commands=COMMANDS, extra=extra)


def test_without_workspace_access_a_plugin_reads_nothing_outside_its_grants(
    add_plugin: AddPlugin, plugin_engine: MakeEngine, workspace: Path, secret: Path
) -> None:
    folder = add_probe(add_plugin, None)
    (workspace / "notes.txt").write_text("private notes", encoding="utf-8")
    engine = plugin_engine()
    denied = {"ok": False, "error": "PermissionError"}
    assert probe(engine, "probe.read", workspace / "notes.txt") == denied
    assert probe(engine, "probe.read", secret) == denied
    assert probe(engine, "probe.write", workspace / "new.txt") == denied
    assert probe(engine, "probe.write", secret.parent / "dropped") == denied
    assert not (workspace / "new.txt").exists() and secret.read_text() == "hunter2"
    # Its own folder and its private TMPDIR are writable; the system stays readable.
    assert probe(engine, "probe.write", folder / "state.json")["ok"] is True
    assert (folder / "state.json").read_text() == "written"
    env = probe(engine, "probe.env", "")
    tmpdir = Path(str(env["tmpdir"]))
    assert tmpdir.is_dir() and not tmpdir.is_relative_to(workspace)
    assert probe(engine, "probe.write", tmpdir / "scratch")["ok"] is True
    assert probe(engine, "probe.read", tmpdir / "scratch")["value"] == "written"
    assert probe(engine, "probe.read", "/etc/passwd")["ok"] is True  # what programs need
    if Path("/etc/shadow").exists():  # but not all of /etc: as root, that includes this
        assert probe(engine, "probe.read", "/etc/shadow") == denied
    assert probe(engine, "probe.write", "/etc/logomesh-landlock-test") == denied
    assert probe(engine, "probe.write", "/dev/null")["ok"] is True


def test_workspace_read_grants_reading_but_not_writing(
    add_plugin: AddPlugin, plugin_engine: MakeEngine, workspace: Path, secret: Path
) -> None:
    add_probe(add_plugin, "read")
    (workspace / "notes.txt").write_text("shared notes", encoding="utf-8")
    engine = plugin_engine()
    assert probe(engine, "probe.read", workspace / "notes.txt") == {
        "ok": True,
        "value": "shared notes",
    }
    denied = {"ok": False, "error": "PermissionError"}
    assert probe(engine, "probe.write", workspace / "notes.txt") == denied
    assert probe(engine, "probe.write", workspace / "new.txt") == denied
    assert probe(engine, "probe.read", secret) == denied
    assert (workspace / "notes.txt").read_text() == "shared notes"


def test_workspace_write_grants_writing(
    add_plugin: AddPlugin, plugin_engine: MakeEngine, workspace: Path, secret: Path
) -> None:
    add_probe(add_plugin, "write")
    engine = plugin_engine()
    assert probe(engine, "probe.write", workspace / "new.txt")["ok"] is True
    assert (workspace / "new.txt").read_text() == "written"
    assert probe(engine, "probe.read", secret) == {"ok": False, "error": "PermissionError"}


NODE_PROBE = """
    "use strict";
    const fs = require("fs");
    const os = require("os");
    const { Plugin } = require("logomesh-plugin");
    const plugin = new Plugin("nprobe", { version: "0.1.0" });
    const attempt = (action) => {
      try {
        return { ok: true, value: action() };
      } catch (err) {
        return { ok: false, error: err.code };
      }
    };
    const schema = { type: "object", properties: { path: { type: "string" } } };
    const write = (path) => {
      fs.writeFileSync(path, "written");
      return path;
    };
    plugin.tool("nprobe.read", { schema }, (a) => attempt(() => fs.readFileSync(a.path, "utf8")));
    plugin.tool("nprobe.write", { schema }, (a) => attempt(() => write(a.path)));
    plugin.tool("nprobe.tmp", { schema }, () => attempt(() => write(os.tmpdir() + "/x")));
    plugin.run();
"""


@requires(NODE is not None, "node is not on PATH")
def test_a_node_plugin_cannot_read_outside_its_grants(
    add_plugin: AddPlugin, plugin_engine: MakeEngine, workspace: Path, secret: Path
) -> None:
    folder = add_plugin(
        "nprobe",
        NODE_PROBE,
        commands=("nprobe.read", "nprobe.write", "nprobe.tmp"),
        runtime="node",
        entry="main.js",
    )
    (workspace / "notes.txt").write_text("private notes", encoding="utf-8")
    engine = plugin_engine()
    denied = {"ok": False, "error": "EACCES"}
    assert probe(engine, "nprobe.read", workspace / "notes.txt") == denied
    assert probe(engine, "nprobe.read", secret) == denied
    assert probe(engine, "nprobe.write", workspace / "new.txt") == denied
    assert probe(engine, "nprobe.write", folder / "announcements.jsonl")["ok"] is True
    tmp = probe(engine, "nprobe.tmp", "")
    assert tmp["ok"] is True and not Path(str(tmp["value"])).is_relative_to(workspace)


def test_restrict_blocks_tcp_and_files_in_a_child(tmp_path: Path) -> None:
    """The module alone, through the launcher: rules survive exec; TCP connect is refused."""
    if landlock.abi_version() < 4:
        require_or_skip("TCP rules need Landlock ABI 4")
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (tmp_path / "secret").write_text("s", encoding="utf-8")
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    child = textwrap.dedent(f"""
        import socket
        try:
            open({str(tmp_path / "secret")!r}).read(); print("read")
        except PermissionError: print("no read")
        open({str(allowed / "f")!r}, "w").write("x"); print("wrote")
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=2); print("connected")
        except OSError as exc: print("no connect", exc.errno == {errno.EACCES})
    """)
    read = [sys.base_prefix, sys.prefix, "/usr", "/lib", "/lib64", "/etc", "/proc", "/dev"]
    policy = json.dumps({"read": read, "write": [str(allowed)], "block_tcp": True})
    with listener:
        done = subprocess.run(
            [sys.executable, "-S", "-E", "-s", str(LAUNCHER), policy, sys.executable, "-c", child],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["no read", "wrote", "no connect True"]


def test_the_launch_spec_grants_what_the_manifest_says(tmp_path: Path) -> None:
    folder = tmp_path / "plugins" / "p"
    folder.mkdir(parents=True)
    (folder / "main.py").write_text("", encoding="utf-8")
    for access in ("none", "read", "write"):
        values = {
            "name": "p",
            "version": "1",
            "runtime": "python",
            "entry": "main.py",
            "permissions": {"workspace": access},
        }
        manifest = parse_manifest(values, folder / "logomesh-plugin.toml")
        spec = launch_spec(manifest, folder, tmp_path)
        assert any("Landlock" in item for item in spec.applied)
        assert not any("Landlock" in item for item in spec.missing)
        assert str(LAUNCHER) in spec.argv and os.path.isdir(spec.env["TMPDIR"])
        policy = spec.argv[spec.argv.index(str(LAUNCHER)) + 1]
        assert (f'"{tmp_path}"' in policy) == (access != "none")
