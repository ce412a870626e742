"""Every git command on a real repository, and what hostile arguments get: refused, or
passed as data after ``--``; never run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from logomesh.commands.models import CommandResult
from logomesh.commands.values import Outcome
from tests.devshell.conftest import commit_file, git

Run = Callable[..., CommandResult]


def test_status_reports_branch_changes_and_untracked_files(repo: Path, run: Run) -> None:
    clean = run("git.status")
    assert clean.ok, clean.message
    assert clean.data["clean"] and clean.data["branch"] == "main"
    assert "nothing to commit" in clean.message
    (repo / "src/app.py").write_text("def greet():\n    return 'hi'\n")
    (repo / "notes.txt").write_text("todo\n")
    (repo / "staged.py").write_text("y = 2\n")
    git(repo, "add", "staged.py")
    result = run("git.status")
    assert not result.data["clean"]
    changes = {c["path"]: (c["staged"], c["unstaged"]) for c in result.data["changes"]}
    assert changes == {"src/app.py": (".", "M"), "staged.py": ("A", ".")}
    assert result.data["untracked"] == ["notes.txt"]
    assert "2 changed, 1 untracked" in result.message


def test_diff_of_the_working_tree_staged_and_against_a_ref(repo: Path, run: Run) -> None:
    (repo / "src/app.py").write_text("def greet():\n    return 'hi'\n\n\nX = 1\n")
    result = run("git.diff")
    assert result.ok, result.message
    assert result.data["files"] == [
        {"path": "src/app.py", "added": 4, "deleted": 1, "old_path": None}
    ]
    assert "+X = 1" in result.data["diff"] and result.data["diff"].startswith("diff --git")
    assert run("git.diff", staged=True).data["files"] == []
    git(repo, "add", "src/app.py")
    assert run("git.diff", staged=True).data["insertions"] == 4
    against = run("git.diff", ref="HEAD~1", path="src/app.py")
    assert against.ok and against.data["files"][0]["path"] == "src/app.py"
    assert run("git.diff", path="README.md").message.startswith("No differences")


def test_diff_names_a_renamed_file_by_its_new_path_and_its_old_one(repo: Path, run: Run) -> None:
    """git's numstat writes a rename as ``src/{app.py => main.py}`` (or ``a => b``): the
    data gives the path the file has now, which other commands can be given, and the old."""
    commit_file(repo, "docs/guide.md", "# Guide\n" + "text\n" * 20, "Add a guide")
    commit_file(repo, "lib/util.py", "def util():\n    return 1\n" * 5, "Add a library")
    git(repo, "mv", "src/app.py", "src/main.py")  # src/{app.py => main.py}
    (repo / "docs/old").mkdir()
    git(repo, "mv", "docs/guide.md", "docs/old/guide.md")  # docs/{ => old}/guide.md
    git(repo, "mv", "lib", "pkg")  # {lib => pkg}/util.py
    git(repo, "mv", ".gitignore", "src/.gitignore")  # .gitignore => src/.gitignore
    result = run("git.diff", staged=True)
    assert result.ok, result.message
    renamed = {f["path"]: f["old_path"] for f in result.data["files"]}
    assert renamed == {
        "src/main.py": "src/app.py",
        "docs/old/guide.md": "docs/guide.md",
        "pkg/util.py": "lib/util.py",
        "src/.gitignore": ".gitignore",
    }


def test_log_lists_commits_newest_first_with_count_path_and_ref(repo: Path, run: Run) -> None:
    commit_file(repo, "README.md", "# Demo\n", "Write a README")
    result = run("git.log")
    assert result.ok, result.message
    subjects = [c["subject"] for c in result.data["commits"]]
    assert subjects == ["Write a README", "Add the app", "Ignore LogoMesh state"]
    assert result.data["commits"][0]["author"] == "Ada Lovelace"
    assert [c["subject"] for c in run("git.log", count=1).data["commits"]] == ["Write a README"]
    only_app = run("git.log", path="src/app.py").data["commits"]
    assert [c["subject"] for c in only_app] == ["Add the app"]
    assert len(run("git.log", ref="HEAD~1").data["commits"]) == 2
    bad = run("git.log", count=0)
    assert bad.error is not None and bad.error.code == "command.invalid_arguments"


def test_log_of_a_range_counts_every_commit_and_the_files_since_its_start(
    repo: Path, run: Run
) -> None:
    """``main..HEAD`` ("what changed since main"): all the commits, even past ``count``, and
    the files they changed since the branch left main, not main's own later changes."""
    git(repo, "checkout", "-q", "-b", "feature")
    commit_file(repo, "src/app.py", "def greet():\n    return 'hi'\n", "Say hi")
    commit_file(repo, "docs/intro.md", "# Intro\n", "Introduce the app")
    git(repo, "checkout", "-q", "main")
    commit_file(repo, "NEWS.md", "news\n", "News on main meanwhile")
    git(repo, "checkout", "-q", "feature")
    result = run("git.log", ref="main..HEAD", count=1)
    assert result.ok, result.message
    assert [c["subject"] for c in result.data["commits"]] == ["Introduce the app"]
    assert result.data["since"] == {
        "from": "main", "to": "HEAD", "commits": 2, "shown": 1,
        "files_changed": 2, "insertions": 2, "deletions": 1,
    }  # fmt: skip
    assert result.message == (
        "2 commits on HEAD since main (the latest 1 shown; raise count to see more): "
        "2 files changed, +2 -1."
    )
    nothing = run("git.log", ref="feature..HEAD")
    assert nothing.data["commits"] == [] and nothing.data["since"]["commits"] == 0
    assert (
        nothing.message
        == "No commits on HEAD since feature: HEAD has nothing that feature has not."
    )


def test_log_of_a_ref_that_does_not_exist_names_it(repo: Path, run: Run) -> None:
    """Only the missing side is named; when the remote has it (a clone without the local
    branch), the error says the ref that would work."""
    result = run("git.log", ref="release..HEAD")
    assert not result.ok and result.error is not None
    assert result.error.message == (
        "`ref=release..HEAD`: this repository has no branch, tag or commit 'release'. "
        "List the branches with `logomesh run git.branches` (tags: `git tag`)."
    )
    git(repo, "update-ref", "refs/remotes/origin/release", "HEAD")
    hinted = run("git.log", ref="release..HEAD")
    assert hinted.error is not None
    assert "Did you mean ref=origin/release..HEAD?" in hinted.error.message


def test_log_of_a_repository_without_commits(workspace: Path, run: Run) -> None:
    git(workspace, "init", "-q", "-b", "main")
    result = run("git.log")
    assert result.ok and result.data["commits"] == [] and result.message == "No commits yet."


def test_branches_and_current_branch(repo: Path, run: Run) -> None:
    git(repo, "branch", "feature/login")
    branches = run("git.branches")
    assert branches.ok, branches.message
    assert {b["name"] for b in branches.data["branches"]} == {"main", "feature/login"}
    assert branches.data["current"] == "main"
    current = run("git.current_branch")
    assert current.data["branch"] == "main" and not current.data["detached"]
    git(repo, "checkout", "-q", "--detach", "HEAD~1")
    detached = run("git.current_branch")
    assert detached.data["detached"] and detached.data["branch"] is None
    assert "detached" in detached.message


def test_show_a_commit_with_its_patch(repo: Path, run: Run) -> None:
    result = run("git.show")
    assert result.ok, result.message
    assert result.data["subject"] == "Add the app" and result.data["author"] == "Ada Lovelace"
    assert "+def greet():" in result.data["patch"]
    assert run("git.show", ref="HEAD~1").data["subject"] == "Ignore LogoMesh state"


def test_push_is_danger_confirmed_and_reaches_the_remote(
    repo: Path, tmp_path: Path, run: Run
) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    unconfirmed = run("git.push")
    assert unconfirmed.outcome is Outcome.CANCELLED  # danger: the engine asks first
    assert git(remote, "branch", "--list") == ""
    pushed = run("git.push", confirmed=True)
    assert pushed.ok, pushed.message
    assert pushed.data == {"remote": "origin", "branch": "main", "force": False}
    assert "main" in git(remote, "branch", "--list")


def test_commands_outside_a_repository_say_so(run: Run) -> None:
    result = run("git.status")
    assert result.error is not None and "not inside a git repository" in result.error.message


@pytest.mark.usefixtures("no_pwned")
@pytest.mark.parametrize(
    ("command", "arguments"),
    [
        ("git.log", {"ref": "--output=pwned"}),
        ("git.log", {"ref": "; touch pwned"}),
        ("git.diff", {"ref": "$(touch pwned)"}),
        ("git.show", {"ref": "`touch pwned`"}),
        ("git.show", {"ref": "HEAD|touch pwned"}),
        ("git.push", {"remote": "--receive-pack=touch pwned"}),
        ("git.push", {"remote": "ext::sh -c touch% pwned"}),
        ("git.push", {"branch": "--upload-pack=touch pwned"}),
        ("git.push", {"branch": "main; touch pwned"}),
    ],
)
def test_hostile_refs_and_remotes_are_refused(
    repo: Path, run: Run, command: str, arguments: dict[str, str]
) -> None:
    result = run(command, confirmed=True, **arguments)
    assert result.error is not None and result.error.code == "command.invalid_arguments"
    name = next(iter(arguments))
    assert f"`{name}`" in result.error.message
    assert not (repo / "pwned").exists()


@pytest.mark.usefixtures("no_pwned")
@pytest.mark.parametrize("path", ["--output=pwned", "$(touch pwned)", "; touch pwned"])
def test_a_hostile_path_is_only_a_path(repo: Path, run: Run, path: str) -> None:
    """Paths go after `--`: git looks for a file of that name, and finds none."""
    for command in ("git.diff", "git.log"):
        result = run(command, path=path)
        assert result.ok, result.message
        assert not (repo / "pwned").exists()


def test_paths_outside_the_workspace_are_refused(repo: Path, run: Run) -> None:
    for path in ("../x", "/etc/passwd"):
        result = run("git.log", path=path)
        assert result.error is not None and result.error.code == "command.invalid_arguments"
        assert "outside the workspace" in result.error.message
