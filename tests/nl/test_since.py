""" "What changed since main?" in a real repository: the commits since main, not the status.

A person asking what changed since a branch or tag means the work done after it: the
commits of ``main..HEAD``, and the files they changed together. The request goes through the
real embedding model, the extraction and ``git`` in a repository with a ``main`` branch, a
feature branch with two commits after it, and a commit made on ``main`` meanwhile (which is
not a change of the feature branch).
"""

from __future__ import annotations

import asyncio
import getpass
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from logomesh.commands.values import Actor, Source
from logomesh.composition import build_engine
from logomesh.config import load_settings
from logomesh.engine import Engine
from logomesh.nl.embedder import Embedder
from logomesh.nl.flow import Decision, execute_text

OWNER = Actor(Source.CLI, getpass.getuser())


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True)


def _commit(repo: Path, name: str, text: str, message: str) -> None:
    (repo / name).write_text(text, encoding="utf-8")
    _git(repo, "add", "--", name)
    _git(repo, "commit", "-q", "-m", message)


@pytest.fixture(scope="module")
def repo_engine(
    shared_embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    repo = tmp_path_factory.mktemp("repo")
    _git(repo, "init", "-q", "-b", "main")
    for key, value in (("user.name", "Ada"), ("user.email", "ada@example.com")):
        _git(repo, "config", key, value)
    _git(repo, "config", "commit.gpgsign", "false")
    _commit(repo, ".gitignore", ".logomesh/\n", "Ignore LogoMesh state")
    _git(repo, "tag", "v1.2")
    _git(repo, "branch", "release")
    _git(repo, "checkout", "-q", "-b", "feature")
    _commit(repo, "app.py", "print('hello')\n", "Add the app")
    _commit(repo, "app.py", "print('hello, world')\n", "Greet the world")
    _git(repo, "checkout", "-q", "main")
    _commit(repo, "NEWS.md", "news\n", "News on main meanwhile")
    _git(repo, "checkout", "-q", "feature")
    home = tmp_path_factory.mktemp("home")
    environ = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / "config")}
    engine = build_engine(load_settings(repo, environ=environ).settings, embedder=shared_embedder)
    yield engine
    engine.close()


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("what changed since main?", "main..HEAD"),
        ("what's changed since main", "main..HEAD"),
        ("what changed since the release branch", "release..HEAD"),
        ("changes since v1.2", "v1.2..HEAD"),
        ("commits since main", "main..HEAD"),
    ],
)
def test_changes_since_a_ref_propose_the_log_of_that_range(
    repo_engine: Engine, text: str, ref: str
) -> None:
    proposal = repo_engine.interpreter.interpret(text)
    assert (proposal.command, proposal.arguments) == ("git.log", {"ref": ref}), proposal


def test_what_changed_since_main_runs_at_once_and_says_what_changed(repo_engine: Engine) -> None:
    """Read risk, above the threshold: it runs without asking, and the answer is the two
    feature commits and the one file they changed, not main's own commit."""
    outcome = asyncio.run(execute_text(repo_engine, "what changed since main?", OWNER))
    assert outcome.decision is Decision.RUN
    result = outcome.result
    assert result is not None and result.ok, outcome.to_dict()
    assert result.command == "git.log" and outcome.to_dict()["arguments"] == {"ref": "main..HEAD"}
    subjects = [commit["subject"] for commit in result.data["commits"]]
    assert subjects == ["Greet the world", "Add the app"]
    assert result.data["since"]["files_changed"] == 1
    assert result.message == "2 commits on HEAD since main: 1 file changed, +1 -0."


@pytest.mark.parametrize(
    ("text", "command", "arguments"),
    [
        ("show the diff against main", "git.diff", {"ref": "main"}),
        ("what changed", "git.status", {}),
        ("list failed commands since yesterday", "audit.query", {"outcome": "error"}),
    ],
)
def test_requests_without_since_a_ref_keep_their_meaning(
    repo_engine: Engine, text: str, command: str, arguments: dict[str, str]
) -> None:
    """A diff against main, the working tree's changes, and an age after "since" are not
    questions about commits since a ref."""
    proposal = repo_engine.interpreter.interpret(text)
    assert proposal.command == command, proposal
    assert proposal.arguments == arguments or arguments.items() <= proposal.arguments.items()
    assert ".." not in str(proposal.arguments.get("ref", ""))
