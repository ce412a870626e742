"""Issue 18, items 7, 9 and 10: results read as tables and text, piped output is never
wrapped, counts are in the singular when there is one, hints name the CLI's words.

The real console script, piped (no terminal), in a real git repository; some cases drop
the COLUMNS the ``cli`` fixture sets, because a user's pipe has none.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import LOGOMESH, Run

CliFn = Callable[..., Run]
REPO_PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
# Longer than any terminal: piped, it must stay on one line, whole.
LONG_SUBJECT = "validated: " + " ".join(f"word{n}" for n in range(40))


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(workspace: Path) -> Path:
    _git(workspace, "init", "-q", "-b", "main")
    _git(workspace, "config", "user.name", "Ada Lovelace")
    _git(workspace, "config", "user.email", "ada@example.com")
    _git(workspace, "config", "commit.gpgsign", "false")
    (workspace / ".gitignore").write_text(".logomesh/\n")
    (workspace / "app.py").write_text("def main():\n    pass  # TODO(alice): handle errors\n")
    _git(workspace, "add", ".")
    _git(workspace, "commit", "-q", "-m", "First commit")
    (workspace / "notes.txt").write_text("x\n")
    _git(workspace, "add", "notes.txt")
    _git(workspace, "commit", "-q", "-m", LONG_SUBJECT)
    return workspace


@pytest.fixture
def piped(workspace: Path, cli_env: dict[str, str]) -> CliFn:
    """The console script with stdout a pipe and no COLUMNS, as in `logomesh ... | grep`."""
    env = {k: v for k, v in cli_env.items() if k != "COLUMNS"}

    def _run(*args: str, columns: str | None = None) -> Run:
        proc = subprocess.run(
            [str(LOGOMESH), *args],
            cwd=workspace,
            env={**env, **({"COLUMNS": columns} if columns else {})},
            capture_output=True,
            text=True,
            timeout=120,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    return _run


def test_git_log_piped_is_a_table_of_whole_lines(repo: Path, piped: CliFn) -> None:
    """Commits are rows under named columns, not JSON in a cell; a subject longer than 80
    columns stays whole on its line, and no line ends in rich's padding."""
    run = piped("run", "git.log")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0].split() == ["short", "date", "author", "subject"]
    assert "{" not in run.out and "[" not in run.out
    (row,) = [line for line in lines if LONG_SUBJECT in line]
    assert row.endswith(LONG_SUBJECT) and "Ada Lovelace" in row
    assert all(line == line.rstrip() for line in lines)
    assert lines[-1] == "2 commits."


def test_one_commit_is_singular(repo: Path, piped: CliFn) -> None:
    run = piped("run", "git.log", "count=1")
    assert run.out.splitlines()[-1] == "1 commit."


def test_columns_set_by_the_user_still_wins(repo: Path, piped: CliFn) -> None:
    """COLUMNS=50 on a pipe: every line fits, the subject is cut with an ellipsis."""
    run = piped("run", "git.log", columns="50")
    assert run.code == 0, run.err
    assert max(len(line) for line in run.out.splitlines()) <= 50
    assert "…" in run.out


def test_status_shows_changes_as_a_table_and_names_as_a_list(repo: Path, piped: CliFn) -> None:
    (repo / "app.py").write_text("changed\n")
    (repo / "new.txt").write_text("new\n")
    (repo / "other.txt").write_text("other\n")
    run = piped("run", "git.status")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert "clean       no" in lines
    assert "untracked   new.txt, other.txt" in lines
    assert "conflicted  none" in lines
    heading = lines.index("changes:")
    assert lines[heading + 1].split() == ["path", "staged", "unstaged"]
    assert lines[heading + 2].split() == ["app.py", ".", "M"]
    assert "{" not in run.out


def test_json_keeps_every_field_for_scripts(repo: Path, piped: CliFn) -> None:
    commits = piped("run", "git.log", "--json").json()["data"]["commits"]
    assert [c["subject"] for c in commits] == [LONG_SUBJECT, "First commit"]
    assert len(commits[0]["sha"]) == 40 and commits[0]["email"] == "ada@example.com"


def test_a_file_is_shown_as_text(repo: Path, piped: CliFn) -> None:
    run = piped("run", "files.read", "path=app.py")
    assert run.code == 0, run.err
    assert "text:\ndef main():\n    pass  # TODO(alice): handle errors\n" in run.out
    assert "\\n" not in run.out


def test_a_plugins_structured_result_is_a_table(repo: Path, cli: CliFn, piped: CliFn) -> None:
    """todos.find is an MCP tool of a Python plugin: its structuredContent's list of notes
    reads as a table, and its summary counts in the singular."""
    shutil.copytree(REPO_PLUGINS / "todo-finder", repo / "plugins" / "todo-finder")
    assert cli("trust").code == 0
    run = piped("run", "todos.find")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0].split() == ["file", "line", "kind", "assignee", "author", "age_days", "text"]
    assert lines[1].split()[:5] == ["app.py", "2", "TODO", "alice", "Ada"]
    assert lines[1].endswith("handle errors")
    assert lines[-1].startswith("1 note in ") and lines[-1].endswith(" files")


def test_an_unknown_command_points_at_the_clis_list(piped: CliFn) -> None:
    run = piped("run", "stauts")
    assert run.code == 2
    assert "Unknown command 'stauts'. Did you mean status" in run.err
    assert "Run `logomesh commands` to list them." in run.err
    assert "help" not in run.err


def test_long_messages_are_not_wrapped_when_piped(piped: CliFn) -> None:
    run = piped("status")
    assert run.code == 0, run.err
    (message,) = [line for line in run.out.splitlines() if line.startswith("LogoMesh ")]
    assert message.endswith(".") and "audit record" in message
