"""A real editor, end to end: the Neovim 0.7 set-up of docs/editors.md in headless Neovim.

The Lua block that docs/editors.md marks as tested becomes ``init.lua`` unchanged, so the
set-up a reader copies is the one that ran; the ``logomesh`` it starts (``logomesh lsp``)
is this checkout's. A driver (the only Lua the test adds) plays the person: it waits until
the set-up's client has initialised, runs commands through the set-up's ``logomesh.run``,
clicks Cancel when the server asks, writes what came back as JSON and quits with ``:qa!``,
which leaves Neovim to stop the server the way it does when a person quits. The audit
record is then read by an engine in this process, from the same workspace and config dir.

Neovim comes from the machine's packages (Debian 12: ``apt-get install neovim``, 0.7.2;
``.ci/run`` installs it). Without it the test is skipped, or fails where
``LOGOMESH_REQUIRE_SANDBOX=1`` says the machine must have everything (CI).
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor
from logomesh.engine import Engine
from tests.conftest import require_or_skip

DOC = Path(__file__).resolve().parents[2] / "docs" / "editors.md"
MARKER = "<!-- tested by tests/lsp/test_neovim.py"
# Everything the editor does here takes a few seconds; this bounds a hang.
DEADLINE_S = 120

DRIVER = r"""
-- The person at the editor: waits for LogoMesh, runs commands, writes the answers, quits.
local answers, buf = {}, vim.api.nvim_get_current_buf()

local function finish(note)
  answers.note = note
  local file = assert(io.open(vim.env.LOGOMESH_TEST_ANSWERS, 'w'))
  file:write(vim.json.encode(answers))
  file:close()
  vim.cmd('qa!')
end

local id = logomesh.clients[logomesh.root(buf) or '']
if not id then
  return finish('the set-up started no LogoMesh client for ' .. vim.api.nvim_buf_get_name(buf))
end

-- Initialised, or gone (a server that exits at once is not waited for).
local function settled()
  local client = vim.lsp.get_client_by_id(id)
  return client == nil or client.initialized == true
end

local function ask(key, name, arguments)
  local answered = false
  logomesh.run(name, arguments, function(err, result)
    answers[key] = { err = err, result = result }
    answered = true
  end, buf)
  return vim.wait(30000, function() return answered end, 20)
end

-- The person's click: Neovim's own handler would wait for a number typed at inputlist().
vim.lsp.handlers['window/showMessageRequest'] = function(_, params)
  answers.asked = params
  return { title = 'Cancel' }
end

if not (vim.wait(60000, settled, 20) and vim.lsp.get_client_by_id(id)) then
  return finish('the LogoMesh client did not initialise')
end
for _, step in ipairs({
  { 'log', 'git.log', { count = 1 } },
  { 'commands', 'commands', nil },
  { 'unknown', 'git.lgo', nil },
  { 'push', 'git.push', { remote = 'origin' } },
}) do
  if not ask(step[1], step[2], step[3]) then
    return finish('no answer to logomesh.' .. step[2])
  end
end
finish('done')
"""


def documented_setup() -> str:
    """The Lua block right after the marker in docs/editors.md."""
    text = DOC.read_text(encoding="utf-8")
    assert text.count(MARKER) == 1, f"{DOC} must mark exactly one block with {MARKER!r}"
    after = text.split(MARKER, 1)[1].split("\n", 1)[1]
    found = re.match(r"```lua\n(.*?)\n```\n", after, re.DOTALL)
    assert found, f"the block after {MARKER!r} in {DOC} must be a ```lua block"
    return found.group(1) + "\n"


def neovim_or_skip() -> str:
    nvim = shutil.which("nvim")
    if nvim is None:
        require_or_skip("Neovim is not installed (Debian: apt-get install neovim)")
    shown = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=30)
    version = re.search(r"NVIM v(\d+)\.(\d+)", shown.stdout)
    if version is None or (int(version[1]), int(version[2])) < (0, 7):
        require_or_skip(f"the set-up needs Neovim 0.7 or later, {nvim} is {shown.stdout[:20]!r}")
    return nvim


@pytest.fixture
def editor_env(lsp_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The tests' config and trust dirs, this checkout's ``logomesh`` first on PATH, and
    Neovim's own files (its LSP log: cache on 0.7, state later) under tmp_path."""
    # `python -m logomesh`, not the environment's console script: that one may have been
    # generated from another checkout of the same environment.
    scripts = tmp_path / "bin"
    scripts.mkdir()
    logomesh = scripts / "logomesh"
    logomesh.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m logomesh "$@"\n')
    logomesh.chmod(0o755)
    env = {
        **lsp_env,
        "PATH": os.pathsep.join([str(scripts), lsp_env.get("PATH", os.defpath)]),
        "XDG_CACHE_HOME": str(tmp_path / "nvim-cache"),
        "XDG_STATE_HOME": str(tmp_path / "nvim-state"),
        "XDG_DATA_HOME": str(tmp_path / "nvim-data"),
        "LOGOMESH_TEST_ANSWERS": str(tmp_path / "answers.json"),
    }
    return env


class Session:
    """One headless Neovim run, and everything needed to explain a failure."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.env = env
        self.returncode: int | None = None
        self.output = ""

    def run(self, nvim: str, init: Path, file: Path, driver: Path) -> None:
        argv = [
            nvim, "--headless", "--clean",
            "--cmd", "lua vim.lsp.set_log_level('debug')",
            "-u", str(init), str(file), "-c", f"luafile {driver}",
        ]  # fmt: skip
        # Its own session, so a hang is ended with the server Neovim started.
        process = subprocess.Popen(
            argv,
            cwd=file.parent,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            out, _ = process.communicate(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, _ = process.communicate()
            self.output = out.decode(errors="replace")
            pytest.fail(f"Neovim did not finish in {DEADLINE_S} s\n{self.explain()}")
        self.returncode = process.returncode
        self.output = out.decode(errors="replace")

    def answers(self) -> dict[str, Any]:
        path = Path(self.env["LOGOMESH_TEST_ANSWERS"])
        assert path.exists(), f"the driver wrote no answers\n{self.explain()}"
        answers: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return answers

    def explain(self) -> str:
        """Neovim's output and its LSP log (the server's stderr included), for a failure."""
        logs = sorted(self.tmp_path.glob("nvim-*/**/lsp.log"))
        shown = [f"exit code {self.returncode}; Neovim's output:\n{self.output[-4000:]}"]
        for log in logs:
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
            cut = [line if len(line) <= 600 else line[:600] + " ..." for line in lines[-150:]]
            shown.append(f"{log} (last 150 lines):\n" + "\n".join(cut))
        return "\n\n".join(shown) if logs else shown[0] + "\n\n(no lsp.log was written)"


def processes_in(folder: Path) -> list[int]:
    """Processes whose working directory is ``folder`` (the server Neovim started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(os.readlink(entry / "cwd")) == folder:
                    found.append(int(entry.name))
            except OSError:
                continue  # gone, or not ours to read
    return found


@pytest.mark.slow
def test_neovim_runs_commands_through_the_documented_setup(
    project: Path,
    editor_env: dict[str, str],
    tmp_path: Path,
    make_engine: Callable[..., Engine],
    owner: Actor,
) -> None:
    nvim = neovim_or_skip()
    init = tmp_path / "init.lua"
    init.write_text(documented_setup(), encoding="utf-8")
    driver = tmp_path / "driver.lua"
    driver.write_text(DRIVER, encoding="utf-8")
    source = project / "example.py"
    source.write_text("print('hello')\n", encoding="utf-8")
    session = Session(tmp_path, editor_env)

    started = time.monotonic()
    session.run(nvim, init, source, driver)
    took = time.monotonic() - started
    answers = session.answers()
    assert answers["note"] == "done", session.explain()
    assert session.returncode == 0, session.explain()

    log = answers["log"]
    assert "err" not in log, f"{log}\n{session.explain()}"
    assert log["result"]["ok"] is True and log["result"]["outcome"] == "ok"
    assert log["result"]["data"]["commits"][0]["subject"] == "first"

    listed = {entry["name"]: entry for entry in answers["commands"]["result"]}
    assert listed["git.log"]["lsp_command"] == "logomesh.git.log"
    assert "count" in listed["git.log"]["schema"]["properties"]

    # The engine's error reaches the editor as a JSON-RPC error, code and message intact.
    unknown = answers["unknown"]
    assert "result" not in unknown, unknown
    assert unknown["err"]["code"] == -32602
    assert unknown["err"]["data"]["code"] == "command.unknown"
    assert "git.log" in unknown["err"]["message"]

    # A danger command asks first, through Neovim's window/showMessageRequest; Cancel
    # reaches the editor as a failed request (Neovim drops RequestCancelled answers unseen).
    asked = answers["asked"]
    assert [action["title"] for action in asked["actions"]] == ["Run", "Cancel"]
    assert "git.push" in asked["message"] and "danger" in asked["message"]
    push = answers["push"]
    assert "result" not in push, push
    assert push["err"]["code"] == -32803, push
    assert push["err"]["data"]["code"] == "command.cancelled"
    assert "not confirmed" in push["err"]["message"]

    # Quitting Neovim stopped the server (it ran in the project folder).
    deadline = time.monotonic() + 15
    while processes_in(project) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not processes_in(project), f"the server outlived Neovim\n{session.explain()}"

    engine = make_engine()
    query = CommandRequest("audit.query", owner, {"action": "git.log", "limit": 10})
    records = run_sync(engine, query).data
    mine = [r for r in records if r["id"] == log["result"]["audit_id"]]
    assert mine, f"no audit record {log['result']['audit_id']} in {records}"
    assert mine[0]["source"] == "lsp" and mine[0]["actor"] == getpass.getuser()
    assert mine[0]["outcome"] == "ok"
    print(f"headless Neovim session: {took:.1f} s")
