"""One rule for pre-approval per entry point, through the real console script.

A typed command (`logomesh run X`, `db restore`) is confirmed in advance by `--yes` whatever
its risk; a proposal from words (`logomesh do`) by `--yes` only up to write risk, and a
danger-risk one only at a prompt. "Running `X`" is said only when X runs. The danger
command is a real `git push` to a bare repository beside the workspace, so "it ran" and
"it did not" are read from the remote, not from messages.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pexpect
import pytest

from tests.cli.conftest import LOGOMESH, Run
from tests.cli.test_shell import ANSI, PROMPT

CliFn = Callable[..., Run]
PUSH = "push my branch"
BACKUP = "back up the database"
QUESTION = r"\[y/N\]"


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def remote(workspace: Path, tmp_path: Path) -> Path:
    """The workspace as a git repository with one commit on main, and an empty bare remote."""
    bare = tmp_path / "remote.git"
    _git("init", "-q", "--bare", str(bare), cwd=tmp_path)
    _git("init", "-q", "-b", "main", cwd=workspace)
    _git("-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-q",
         "--allow-empty", "-m", "first", cwd=workspace)  # fmt: skip
    _git("remote", "add", "origin", str(bare), cwd=workspace)
    return bare


def _pushed(bare: Path) -> bool:
    heads = subprocess.run(
        ["git", "--git-dir", str(bare), "branch", "--list"], capture_output=True, text=True
    )
    return "main" in heads.stdout


def _backups(workspace: Path) -> list[Path]:
    folder = workspace / ".logomesh" / "backups"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def _spawn(workspace: Path, env: dict[str, str], *args: str) -> pexpect.spawn:
    return pexpect.spawn(
        str(LOGOMESH), list(args), cwd=str(workspace), env=env, encoding="utf-8",
        timeout=90, dimensions=(50, 200),
    )  # fmt: skip


def _finish(child: pexpect.spawn) -> tuple[str, int]:
    """Everything the child said until it ended, and its exit status."""
    child.expect(pexpect.EOF)
    child.close()
    return ANSI.sub("", child.before or ""), child.exitstatus


# -- without a terminal ------------------------------------------------------------------


def test_typed_danger_command_runs_with_yes_and_is_refused_without(
    cli: CliFn, remote: Path
) -> None:
    refused = cli("run", "git.push")
    assert refused.code == 4
    assert "Not run: git.push is a danger-risk command and needs confirmation" in refused.err
    assert "`--yes` on the command line" in refused.err
    assert not _pushed(remote)

    pushed = cli("run", "git.push", "--yes")
    assert pushed.code == 0, pushed.err
    assert "Pushed main to origin." in pushed.out
    assert _pushed(remote)


@pytest.mark.parametrize("flags", [(), ("--yes",)], ids=["plain", "yes"])
def test_proposed_danger_command_is_refused_without_a_terminal(
    cli: CliFn, remote: Path, flags: tuple[str, ...]
) -> None:
    """`do --yes "push my branch"`: refused, never "Running", and told the typed way."""
    result = cli("do", *flags, PUSH)
    assert result.code == 4, result.err
    assert "Running" not in result.err
    assert "Proposed `git.push` (danger risk" in result.err
    assert "`--yes` does not confirm it in advance" in result.err
    assert "type the command yourself: `logomesh run git.push --yes`" in result.err
    assert not _pushed(remote)


def test_proposed_write_command_runs_with_yes_and_is_refused_without(
    cli: CliFn, workspace: Path
) -> None:
    cli("init")
    refused = cli("do", BACKUP)
    assert refused.code == 4, refused.err
    assert "Running" not in refused.err
    assert "Proposed `db.backup` (write risk" in refused.err
    assert "confirm it in advance with `--yes`" in refused.err
    assert _backups(workspace) == []

    confirmed = cli("do", "--yes", BACKUP)
    assert confirmed.code == 0, confirmed.err
    assert "Running `db.backup` (write risk" in confirmed.err
    assert "confirmed in advance by --yes)" in confirmed.err
    assert len(_backups(workspace)) == 1


def test_proposed_read_command_runs_at_once_with_or_without_yes(cli: CliFn) -> None:
    for flags in ((), ("--yes",)):
        result = cli("do", *flags, "who am i")
        assert result.code == 0, result.err
        assert "Running `whoami` (read risk" in result.err and "You are" in result.out


def test_dry_run_json_of_a_danger_proposal_says_it_would_ask(cli: CliFn) -> None:
    """The proposal's message, as scripts and editors see it, never claims it runs."""
    proposal = cli("do", "--json", PUSH).json()
    assert proposal["decision"] == "confirm"
    assert proposal["message"].startswith("Proposed `git.push`")
    assert proposal["result"]["error"]["code"] == "command.cancelled"


# -- at a terminal -----------------------------------------------------------------------


@pytest.mark.parametrize("flags", [(), ("--yes",)], ids=["plain", "yes"])
def test_proposed_danger_command_declined_at_the_prompt_does_not_run(
    workspace: Path, cli_env: dict[str, str], remote: Path, flags: tuple[str, ...]
) -> None:
    child = _spawn(workspace, cli_env, "do", *flags, PUSH)
    child.expect(QUESTION)
    asked = ANSI.sub("", child.before)
    assert "Run git.push" in asked and "Running" not in asked
    if flags:
        assert "--yes does not confirm a danger-risk command proposed from your words" in asked
    child.sendline("n")
    said, status = _finish(child)
    assert status == 4
    assert "Running" not in said
    assert "git.push was not confirmed; nothing was done." in said
    assert not _pushed(remote)


def test_proposed_danger_command_confirmed_at_the_prompt_runs(
    workspace: Path, cli_env: dict[str, str], remote: Path
) -> None:
    child = _spawn(workspace, cli_env, "do", "--yes", PUSH)
    child.expect(QUESTION)
    child.sendline("y")
    said, status = _finish(child)
    assert status == 0, said
    assert "Running `git.push`…" in said and "Pushed main to origin." in said
    assert said.count("Running") == 1
    assert _pushed(remote)


@pytest.mark.parametrize("answer", ["y", "n"])
def test_typed_danger_command_asks_at_a_terminal(
    workspace: Path, cli_env: dict[str, str], remote: Path, answer: str
) -> None:
    child = _spawn(workspace, cli_env, "run", "git.push")
    child.expect(QUESTION)
    child.sendline(answer)
    said, status = _finish(child)
    assert (status, _pushed(remote)) == ((0, True) if answer == "y" else (4, False)), said


def test_proposed_write_command_asks_at_a_terminal_without_yes(
    workspace: Path, cli_env: dict[str, str], cli: CliFn
) -> None:
    cli("init")
    child = _spawn(workspace, cli_env, "do", BACKUP)
    child.expect(QUESTION)
    child.sendline("y")
    said, status = _finish(child)
    assert status == 0, said
    assert "Running `db.backup`…" in said and said.count("Running") == 1
    assert len(_backups(workspace)) == 1


def test_shell_says_running_only_after_a_yes(
    workspace: Path, cli_env: dict[str, str], remote: Path
) -> None:
    """The shell's words go through the same rule: a danger proposal asks; no means no."""
    child = _spawn(workspace, cli_env, "shell")
    try:
        child.expect(PROMPT)
        child.sendline(PUSH)
        child.expect(QUESTION)
        assert "Running" not in ANSI.sub("", child.before)
        child.sendline("n")
        child.expect(PROMPT)
        said = ANSI.sub("", child.before)
        assert "Running" not in said and "not confirmed" in said
        assert not _pushed(remote)
    finally:
        child.close(force=True)
