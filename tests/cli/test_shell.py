"""The interactive shell, driven through a real pseudo-terminal (pexpect)."""

from __future__ import annotations

import re
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
    assert "record(s)." in output


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
