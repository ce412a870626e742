"""Restricted Mode: an adapter that declares a workspace untrusted (an editor's Workspace
Trust, ``load_settings(trusted=False)``) also gets the built-in commands that run the
workspace's own code refused, before anything of it runs, and recorded as a denial.

The proof is a marker file that the workspace's code writes when it runs: a ``conftest.py``
(pytest imports it), a ``.venv/bin/ruff`` (the project's own linter). A workspace that was
merely never ``logomesh trust``-ed keeps running them, as the CLI always did.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from logomesh.audit.query import AuditFilter
from logomesh.composition import build_engine
from logomesh.config import load_settings
from logomesh.engine import Engine
from tests.plugins.conftest import run_command as run

CONFTEST = "import pathlib\n(pathlib.Path(__file__).parent / 'conftest-ran').write_text('ran')\n"
TESTS = "def test_ok():\n    assert True\n"
PROJECT_RUFF = (
    f"#!{sys.executable}\nimport pathlib\n"
    "pathlib.Path('project-ruff-ran').write_text('ran')\nprint('[]')\n"
)


@pytest.fixture
def tested(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A pytest project whose conftest.py leaves a marker, with pytest on PATH."""
    (workspace / "pyproject.toml").write_text("[project]\nname = 'demo'\nversion = '0'\n")
    (workspace / "conftest.py").write_text(CONFTEST)
    (workspace / "test_demo.py").write_text(TESTS)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    return workspace


@pytest.fixture
def engine_for(workspace: Path, test_env: dict[str, str]) -> Iterator[Callable[..., Engine]]:
    engines: list[Engine] = []

    def build(trusted: bool | None) -> Engine:
        loaded = load_settings(workspace, environ=test_env, trusted=trusted)
        engines.append(build_engine(loaded.settings))
        return engines[-1]

    yield build
    for engine in engines:
        engine.close()


def test_a_restricted_engine_refuses_tests_run_before_pytest_starts(
    tested: Path, engine_for: Callable[..., Engine]
) -> None:
    engine = engine_for(trusted=False)
    assert run(engine, "status").data["workspace_restricted"] is True
    result = run(engine, "tests.run")
    assert result.error is not None and result.error.code == "workspace.restricted"
    assert str(result.outcome) == "denied"
    message = result.error.message
    assert "tests.run runs this workspace's code" in message and "conftest.py" in message
    assert "Manage Workspace Trust" in message and "logomesh trust" in message
    assert not (tested / "conftest-ran").exists()
    (record,) = engine.audit.store.query(AuditFilter(action="tests.run"))
    assert record.outcome == "denied"
    authorization = record.details["authorization"]
    assert authorization["allowed"] is False and "workspace" in authorization["reason"]
    listed = run(engine, "commands.list")
    names = {row["name"] for row in listed.data}
    assert "tests.run" not in names and "git.status" in names
    every = {row["name"]: row["allowed"] for row in run(engine, "commands.list", all=True).data}
    for refused in ("tests.run", "git.push", "plugin.load", "plugin.check"):
        assert every[refused] is False, refused
    for command in ("git.push", "plugin.load", "plugin.check"):
        refusal = run(engine, command, path="plugins/evil") if "plugin" in command else None
        error = (refusal or run(engine, command)).error
        assert error is not None and error.code == "workspace.restricted", command


@pytest.mark.parametrize("trusted", [None, True], ids=["never-trusted", "trusted"])
def test_an_unrestricted_engine_still_runs_the_tests(
    tested: Path, engine_for: Callable[..., Engine], trusted: bool | None
) -> None:
    """Never `logomesh trust`-ed is not restricted: the CLI's tests.run works as it did."""
    engine = engine_for(trusted=trusted)
    assert engine.settings.workspace_restricted is False
    result = run(engine, "tests.run")
    assert result.ok and result.data["passed"] is True, result.message
    assert (tested / "conftest-ran").exists()


def test_a_restricted_lint_uses_ruff_from_path_not_the_projects_copy(
    tested: Path, engine_for: Callable[..., Engine]
) -> None:
    (tested / "demo.py").write_text("import os\n")
    own = tested / ".venv" / "bin" / "ruff"
    own.parent.mkdir(parents=True)
    own.write_text(PROJECT_RUFF)
    own.chmod(own.stat().st_mode | stat.S_IXUSR)
    restricted = run(engine_for(trusted=False), "lint.check", path="demo.py")
    assert restricted.ok, restricted.message
    assert [d["code"] for d in restricted.data["diagnostics"]] == ["F401"]
    assert not (tested / "project-ruff-ran").exists()
    assert run(engine_for(trusted=None), "lint.check", path="demo.py").ok
    assert (tested / "project-ruff-ran").exists()  # unrestricted: the project's pinned copy


PIPELINE = """\
version: 1
name: unit
steps:
  - id: status
    uses: git.status
  - id: tests
    uses: tests.run
"""


def test_a_pipeline_that_runs_the_tests_is_refused_and_not_listed(
    tested: Path, engine_for: Callable[..., Engine]
) -> None:
    (tested / "pipelines").mkdir()
    (tested / "pipelines" / "unit.yaml").write_text(PIPELINE)
    engine = engine_for(trusted=False)
    assert "pipeline.unit" not in {row["name"] for row in run(engine, "commands.list").data}
    result = run(engine, "pipeline.unit", **{})
    assert result.error is not None and result.error.code == "workspace.restricted"
    assert "its step tests runs tests.run" in result.error.message
    assert not (tested / "conftest-ran").exists()


def test_a_restricted_git_read_runs_no_clean_filter_of_the_repository(
    workspace: Path, engine_for: Callable[..., Engine]
) -> None:
    """``filter.<driver>.clean`` (in .git/config, for what .gitattributes assigns to it)
    runs during git status and diff; restricted, every driver is switched off."""
    marker = workspace / ".git" / "filter-ran"

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(workspace), *args], check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (workspace / ".gitattributes").write_text("*.txt filter=evil.Driver\n")
    (workspace / "a.txt").write_text("hello\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "one")
    git("config", "filter.evil.Driver.clean", f"sh -c 'touch {marker}; cat'")
    git("config", "filter.evil.Driver.required", "true")
    (workspace / "a.txt").write_text("hello, world\n")
    restricted = engine_for(trusted=False)
    for command in ("git.status", "git.diff"):
        result = run(restricted, command)
        assert result.ok, f"{command}: {result.message}"
    assert run(restricted, "git.diff").data["files"][0]["path"] == "a.txt"
    assert not marker.exists()
    assert run(engine_for(trusted=None), "git.diff").ok
    assert marker.exists()  # not restricted: the repository's filters apply, as in git
