"""`logomesh do` and natural language in the shell, through the real console script."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pexpect

from tests.cli.conftest import LOGOMESH, Run
from tests.cli.test_shell import ANSI, PROMPT

CliFn = Callable[..., Run]


def test_dry_run_json_is_one_proposal_object(cli: CliFn) -> None:
    """--dry-run --json: command, arguments, confidence, alternatives; nothing runs."""
    result = cli("do", "--dry-run", "--json", "what did alice do in the last 2 hours")
    assert result.code == 0, result.err
    proposal = result.json()
    assert proposal["command"] == "audit.query"
    assert proposal["arguments"] == {"actor": "alice", "since": "2h"}
    assert 0.5 <= proposal["confidence"] <= 1.0
    assert isinstance(proposal["alternatives"], list) and proposal["alternatives"]
    assert proposal["decision"] == "dry_run" and proposal["result"] is None
    assert "Loading" not in result.err


def test_no_match_is_null_with_alternatives_and_exit_2(cli: CliFn) -> None:
    result = cli("do", "--json", "order a large pizza with extra cheese")
    assert result.code == 2
    proposal = result.json()
    assert proposal["command"] is None
    assert proposal["alternatives"]


def test_read_request_runs_and_prints_the_result(cli: CliFn) -> None:
    result = cli("do", "who am i")
    assert result.code == 0, result.err
    assert "You are" in result.out
    assert "whoami" in result.err  # the interpretation is said on stderr


def test_shell_accepts_natural_language(workspace: Path, cli_env: dict[str, str]) -> None:
    """A line that is not a command name is interpreted; a read proposal runs."""
    child = pexpect.spawn(
        str(LOGOMESH), ["shell"], cwd=str(workspace), env=cli_env, encoding="utf-8",
        timeout=90, dimensions=(50, 200),
    )  # fmt: skip
    try:
        child.expect(PROMPT)
        child.sendline("what are my permissions")
        child.expect(PROMPT)
        output = ANSI.sub("", child.before)
        assert "whoami" in output and "You are" in output
    finally:
        child.close(force=True)


def test_what_changed_since_main_lists_the_commits_since_main(cli: CliFn, workspace: Path) -> None:
    """The README's flagship example, in a repository with a branch one commit past main:
    it runs at once (read risk) and answers with that commit, not the working tree."""

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=workspace, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("-c", "user.name=Ada", "-c", "user.email=ada@example.com", "commit", "-q",
        "--allow-empty", "-m", "Start")  # fmt: skip
    git("checkout", "-q", "-b", "feature")
    (workspace / "app.py").write_text("print('hi')\n", encoding="utf-8")
    git("add", "app.py")
    git("-c", "user.name=Ada", "-c", "user.email=ada@example.com", "commit", "-q",
        "-m", "Add the app")  # fmt: skip
    result = cli("do", "what changed since main?")
    assert result.code == 0, result.err
    assert "git.log ref=main..HEAD" in result.err and "read risk" in result.err
    assert "Add the app" in result.out and "Start" not in result.out
    assert "1 commit on HEAD since main: 1 file changed, +1 -0." in result.out
    assert "since.from" not in result.out  # the message says it; --json has the numbers
