"""The interactive shell, driven through a real pseudo-terminal (pexpect)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pexpect
import pytest

from tests.cli.conftest import LOGOMESH

PROMPT = "logomesh> "
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def shell(workspace: Path, cli_env: dict[str, str]) -> pexpect.spawn:
    child = pexpect.spawn(
        str(LOGOMESH),
        ["shell"],
        cwd=str(workspace),
        env=cli_env,
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 200),
    )
    child.expect(PROMPT)
    yield child
    child.close(force=True)


def _send(child: pexpect.spawn, line: str) -> str:
    child.sendline(line)
    child.expect(PROMPT)
    return ANSI.sub("", child.before)


def test_runs_commands_and_explains_errors(shell: pexpect.spawn) -> None:
    """A command runs through the engine; an unknown one is explained, the shell survives."""
    assert "You are" in _send(shell, "whoami")
    assert "Unknown command 'audit.qurey'" in _send(shell, "audit.qurey limit=1")
    assert "key=value" in _send(shell, "audit.query limit")
    assert "check your quotes" in _send(shell, 'audit.query actor="unterminated')


def test_tab_completes_commands_and_argument_keys(shell: pexpect.spawn) -> None:
    """Tab completes a command name, then an argument key of that command."""
    shell.send("audit.qu\t")
    shell.expect("audit.query")
    shell.send(" lim\t")
    shell.expect("limit=")
    output = _send(shell, "1")
    assert re.search(r"\d+ records?\.", output)


def test_declining_a_danger_command_does_nothing(shell: pexpect.spawn) -> None:
    """db.restore asks first; answering no cancels it and says so."""
    shell.sendline("db.restore path=/nonexistent.db")
    shell.expect(r"\[y/N\]")
    output = _send(shell, "n")
    assert "not confirmed; nothing was done" in output


def test_help_and_history_persist(shell: pexpect.spawn, workspace: Path) -> None:
    """help lists commands and a command's arguments; history is saved on exit."""
    assert "audit.verify" in _send(shell, "help")
    assert "limit=" in _send(shell, "help audit.query")
    shell.sendline("exit")
    shell.expect(pexpect.EOF)
    history = (workspace / ".logomesh" / "shell_history").read_text()
    assert "help audit.query" in history


# -- leaving early (issue 10, item 10) --------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("delay_s", [0.0, 1.5, 4.0, 8.0])
def test_leaving_soon_after_launch_exits_cleanly(
    workspace: Path, cli_env: dict[str, str], delay_s: float
) -> None:
    """Quitting while the model still loads or embeds the phrasings exits 0, no SIGABRT.

    The shell warms the model and the command phrasings up in the background; a thread
    still inside torch when the interpreter finalises used to abort the process with
    ``terminate called without an active exception``. The delays cover: before the model
    is loaded, while it loads, and while the phrasings are embedded (seconds on 2 cores).
    """
    env = {
        **cli_env,
        "PYTHONPATH": str(ROOT),
        # The compiled model copy of the user's cache, as in real use: the shell is then
        # at the prompt while the phrasings are still being embedded.
        "LOGOMESH_NL__MODEL_CACHE_DIR": str(Path.home() / ".cache" / "logomesh" / "models"),
    }
    child = pexpect.spawn(
        sys.executable,
        ["-m", "logomesh", "shell"],
        cwd=str(workspace),
        env=env,
        encoding="utf-8",
        timeout=60,
    )
    try:
        child.expect(PROMPT)
        time.sleep(delay_s)
        child.sendeof()
        child.expect(pexpect.EOF)
        output = child.before
    finally:
        child.close(force=False)
    assert "terminate called" not in output
    assert (child.exitstatus, child.signalstatus) == (0, None), output


# -- the shell's own words, and records on a narrow terminal (issue 18, items 7 and 10) ------


def test_hints_and_help_speak_the_shells_words(shell: pexpect.spawn) -> None:
    """An unknown command points at `help`, not at the CLI; `help` lists the shell's
    words; an argument without a default reads "(optional)", never "(default None)"."""
    unknown = _send(shell, "audit.qurey limit=1")
    assert "Type `help` to list them." in unknown
    assert "logomesh commands" not in unknown
    listed = _send(shell, "help")
    assert "clear" in listed and "exit, quit" in listed
    query = _send(shell, "help audit.query")
    assert "actor=...  (optional)" in query
    assert "default None" not in query
    assert "Type `help` to list them." in _send(shell, "help audit.qurey")


def test_clear_clears_the_screen(shell: pexpect.spawn) -> None:
    """`clear` is the shell's word (it used to be read as natural language)."""
    shell.sendline("clear")
    shell.expect(PROMPT)
    assert "\x1b[2J" in shell.before or "\x1b[H" in shell.before
    assert "Did you mean" not in shell.before


def test_records_fit_a_narrow_terminal(workspace: Path, cli_env: dict[str, str]) -> None:
    """On a 60-column terminal, git.log's rows stay one line each, the subject cut with
    an ellipsis; the short hash is whole."""
    git = ["git", "-c", "user.name=Ada", "-c", "user.email=ada@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=workspace, check=True)
    subprocess.run(
        [*git, "commit", "-q", "--allow-empty", "-m", "a subject " + "long " * 30],
        cwd=workspace,
        check=True,
    )
    env = {k: v for k, v in cli_env.items() if k != "COLUMNS"}
    child = pexpect.spawn(
        str(LOGOMESH), ["shell"], cwd=str(workspace), env=env, encoding="utf-8",
        timeout=30, dimensions=(50, 60),
    )  # fmt: skip
    try:
        child.expect(PROMPT)
        output = _send(child, "git.log")
    finally:
        child.close(force=True)
    rows = [line for line in output.splitlines() if "a subject long" in line]
    assert len(rows) == 1 and rows[0].rstrip().endswith("…"), output
    assert len(rows[0].rstrip()) <= 60
    assert "{" not in output
