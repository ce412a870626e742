"""The example plugins in the repository's plugins/ folder, run as a user would run them:
copied into a workspace with a git history and a package.json, then driven through the CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Run
from tests.conftest import requires

REPO_PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
CliFn = Callable[..., Run]
pytestmark = requires(shutil.which("node") is not None, "node is not installed")


@pytest.fixture
def project(workspace: Path, cli: CliFn) -> Path:
    shutil.copytree(REPO_PLUGINS, workspace / "plugins", ignore=shutil.ignore_patterns("*.jsonl"))
    (workspace / "app.py").write_text("def main():\n    pass  # TODO(alice): handle errors\n")
    (workspace / "package.json").write_text(
        json.dumps({"name": "demo", "scripts": {"greet": "echo hi from npm"}})
    )
    git = ["git", "-c", "user.name=Alice", "-c", "user.email=alice@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=workspace, check=True)
    subprocess.run([*git, "add", "."], cwd=workspace, check=True)
    subprocess.run([*git, "commit", "-qm", "First commit"], cwd=workspace, check=True)
    trusted = cli("trust")  # the person has read the plugins they copied in
    assert trusted.code == 0, trusted.err
    return workspace


def test_every_example_plugin_is_active(project: Path, cli: CliFn) -> None:
    listed = cli("plugin", "list", "--json")
    assert listed.code == 0, listed.err
    states = {row["name"]: (row["state"], row["runtime"]) for row in listed.json()["data"]}
    assert states == {
        "todo-finder": ("active", "python"),
        "npm-scripts": ("active", "node"),
        "release-notes": ("active", "python"),
        "announcer": ("active", "node"),
    }


def test_the_examples_do_their_jobs(project: Path, cli: CliFn) -> None:
    todos = cli("run", "todos.find", "--json").json()["data"]["notes"]
    assert todos == [
        {"file": "app.py", "line": 2, "kind": "TODO", "assignee": "alice",
         "text": "handle errors", "author": "Alice", "age_days": todos[0]["age_days"]}
    ]  # fmt: skip
    scripts = cli("run", "scripts.list", "--json").json()["data"]["scripts"]
    assert scripts == {"greet": "echo hi from npm"}
    ran = cli("run", "scripts.run", "name=greet", "--json").json()
    assert ran["ok"] and "hi from npm" in ran["data"]["output"]


@pytest.fixture
def repository(workspace: Path, cli: CliFn) -> Path:
    """A workspace shaped like this repository: no package.json at the root, one in a
    sub-project, and one in a dependency folder that must never be suggested."""
    shutil.copytree(REPO_PLUGINS, workspace / "plugins", ignore=shutil.ignore_patterns("*.jsonl"))
    for folder, scripts in [
        ("editor", {"build": "echo built"}),
        ("tests/fixture", {"serve": "echo serving"}),
        ("editor/node_modules/dep", {"x": "y"}),
    ]:
        (workspace / folder).mkdir(parents=True)
        (workspace / folder / "package.json").write_text(json.dumps({"scripts": scripts}))
    trusted = cli("trust")
    assert trusted.code == 0, trusted.err
    return workspace


def test_scripts_list_without_a_root_package_json_names_the_folders_that_have_one(
    repository: Path, cli: CliFn
) -> None:
    missing = cli("run", "scripts.list")
    assert missing.code == 1
    message = " ".join(missing.err.split())
    assert f"No package.json in the workspace root ({repository})." in message
    assert "e.g. `scripts.list path=editor`" in message
    assert "(folders with a package.json: editor, tests/fixture)." in message
    assert "ENOENT" not in message and "node_modules" not in message


def test_scripts_list_and_run_in_the_folder_named_by_path(repository: Path, cli: CliFn) -> None:
    listed = cli("run", "scripts.list", "path=editor", "--json")
    assert listed.code == 0, listed.err
    assert listed.json()["data"]["scripts"] == {"build": "echo built"}
    ran = cli("run", "scripts.run", "name=build", "path=editor", "--json").json()
    assert ran["ok"] and "built" in ran["data"]["output"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["path=plugins"], "No package.json in plugins ({ws}/plugins). Name a folder that has"),
        (["path=nowhere"], "No folder nowhere in the workspace ({ws}/nowhere)."),
        (["path=../elsewhere"], "../elsewhere is outside the workspace ({ws}); path= names"),
    ],
)
def test_scripts_list_path_mistakes_say_what_was_read_and_how_to_fix_it(
    repository: Path, cli: CliFn, args: list[str], expected: str
) -> None:
    wrong = cli("run", "scripts.list", *args)
    assert wrong.code == 1
    assert expected.format(ws=repository) in " ".join(wrong.err.split())


def test_scripts_run_names_only_the_package_json_s_own_scripts(
    repository: Path, cli: CliFn
) -> None:
    """`constructor` is a key of every JavaScript object, never a script of this file."""
    wrong = cli("run", "scripts.run", "name=constructor", "path=editor")
    assert wrong.code == 1
    assert 'package.json has no script named "constructor"' in wrong.err


def test_cross_plugin_messaging_through_the_host(project: Path, cli: CliFn) -> None:
    """release-notes calls git.log (built-in) and todos.find (another plugin) and publishes
    release.drafted, which the Node announcer receives; all of it is in the audit trail."""
    drafted = cli("run", "release.notes", "--json").json()
    assert drafted["ok"], drafted["message"]
    draft = drafted["data"]["draft"]
    assert "First commit" in draft and "app.py:2 handle errors" in draft
    kept = project / "plugins" / "announcer" / "announcements.jsonl"
    assert kept.is_file()
    [announcement] = [json.loads(line) for line in kept.read_text().splitlines()]
    assert announcement["source"] == "release-notes" and announcement["draft"] == draft
    trail = cli("audit", "query", "--correlation-id", drafted["correlation_id"], "--json")
    actions = sorted(row["action"] for row in trail.json()["data"])
    assert actions == ["git.log", "plugin.call", "plugin.call", "release.notes", "todos.find"]
