"""tests.run, lint.check, format.check, search.code and files.* on real projects and tools."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from logomesh.commands.models import CommandResult
from logomesh.engine import Engine
from logomesh.events import CommandProgress

Run = Callable[..., CommandResult]

TESTS = """\
import pytest

def test_adds():
    assert 1 + 1 == 2

def test_also_passes():
    assert "a".upper() == "A"

def test_fails():
    assert 2 + 2 == 5

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass
"""


@pytest.mark.usefixtures("tools_on_path")
def test_tests_run_detects_pytest_and_reads_its_summary(
    workspace: Path, engine: Engine, run: Run
) -> None:
    """A failing suite is an ok command whose data says passed=False."""
    (workspace / "pyproject.toml").write_text("[project]\nname = 'demo'\nversion = '0'\n")
    (workspace / "test_demo.py").write_text(TESTS)
    progress: list[str] = []
    engine.events.subscribe(CommandProgress, lambda event: progress.append(event.message))
    result = run("tests.run")
    assert result.ok, result.message
    assert result.data["runner"] == "pytest"
    assert result.data["summary"] == {"passed": 2, "failed": 1, "skipped": 1, "errors": 0}
    assert result.data["passed"] is False and result.data["exit_code"] == 1
    assert "FAILED" in result.message and "2 passed, 1 failed" in result.message
    assert progress, "the run's output reached subscribers as progress"
    one = run("tests.run", path="test_demo.py::test_adds")
    assert one.data["passed"] is True
    assert one.data["summary"] == {"passed": 1, "failed": 0, "skipped": 0, "errors": 0}


NODE_TESTS = """\
const test = require("node:test");
const assert = require("node:assert");
test("adds", () => assert.equal(1 + 1, 2));
test("fails", () => assert.equal(2 + 2, 5));
test("later", { skip: true }, () => {});
"""

RUST_TESTS = """\
#[cfg(test)]
mod tests {
    #[test]
    fn adds() { assert_eq!(1 + 1, 2); }
    #[test]
    fn fails() { assert_eq!(2 + 2, 5); }
    #[test]
    #[ignore]
    fn later() {}
}
"""


@pytest.mark.skipif(shutil.which("npm") is None, reason="needs Node.js and npm")
def test_tests_run_detects_npm_and_reads_node_test_output(workspace: Path, run: Run) -> None:
    (workspace / "package.json").write_text(
        '{"name": "demo", "version": "1.0.0", "scripts": {"test": "node --test"}}'
    )
    (workspace / "math.test.js").write_text(NODE_TESTS)
    result = run("tests.run")
    assert result.ok, result.message
    assert result.data["runner"] == "npm" and result.data["passed"] is False
    assert result.data["summary"] == {"passed": 1, "failed": 1, "skipped": 1, "errors": 0}


@pytest.mark.skipif(shutil.which("cargo") is None, reason="needs Rust's cargo")
def test_tests_run_detects_cargo_and_reads_its_results(workspace: Path, run: Run) -> None:
    (workspace / "Cargo.toml").write_text(
        '[package]\nname = "demo"\nversion = "0.1.0"\nedition = "2021"\n'
    )
    (workspace / "src").mkdir()
    (workspace / "src" / "lib.rs").write_text(RUST_TESTS)
    result = run("tests.run")
    assert result.ok, result.message
    assert result.data["runner"] == "cargo" and result.data["exit_code"] != 0
    assert result.data["summary"] == {"passed": 1, "failed": 1, "skipped": 1, "errors": 0}


def test_tests_run_without_a_recognisable_project_says_how_to_choose(run: Run) -> None:
    result = run("tests.run")
    assert result.error is not None and result.error.code == "command.invalid_arguments"
    assert "runner=pytest" in result.error.message


@pytest.mark.usefixtures("tools_on_path")
def test_lint_check_reports_structured_diagnostics(workspace: Path, run: Run) -> None:
    (workspace / "pyproject.toml").write_text("[tool.ruff.lint]\nselect = ['F']\n")
    (workspace / "pkg").mkdir()
    (workspace / "pkg" / "mod.py").write_text("import os\n\n\ndef f():\n    return undefined\n")
    before = (workspace / "pkg" / "mod.py").read_text()
    result = run("lint.check")
    assert result.ok, result.message
    found = {(d["file"], d["line"], d["code"]) for d in result.data["diagnostics"]}
    assert found == {("pkg/mod.py", 1, "F401"), ("pkg/mod.py", 5, "F821")}
    assert result.data["tools"] == ["ruff"]
    assert "2 problems in 1 file" in result.message
    assert (workspace / "pkg" / "mod.py").read_text() == before  # a read command fixes nothing
    clean = run("lint.check", path="pyproject.toml")
    assert clean.ok and clean.data["count"] == 0


@pytest.mark.usefixtures("tools_on_path")
def test_lint_diagnostics_say_where_they_end_and_how_bad_they_are(
    workspace: Path, run: Run
) -> None:
    """Editors underline from the start to the end; a syntax error is an error."""
    (workspace / "mod.py").write_text("import os\n")
    (workspace / "broken.py").write_text("x = (\n")
    result = run("lint.check")
    assert result.ok, result.message
    by_file = {d["file"]: d for d in result.data["diagnostics"]}
    unused = by_file["mod.py"]
    assert (unused["line"], unused["column"], unused["end_line"], unused["end_column"]) == (
        1,
        8,
        1,
        10,
    )
    assert unused["severity"] == "warning"
    assert by_file["broken.py"]["severity"] == "error"


def test_a_missing_linter_is_a_tool_missing_error_with_a_fix(
    workspace: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    (workspace / "app.py").write_text("x = 1\n")
    result = run("lint.check")
    assert result.error is not None and result.error.code == "devshell.tool_missing"
    assert "`ruff` is not installed" in result.error.message
    assert "pip install ruff" in result.error.message
    assert "Traceback" not in result.error.message


@pytest.mark.usefixtures("tools_on_path")
def test_format_check_names_the_files_that_would_change(workspace: Path, run: Run) -> None:
    (workspace / "ugly.py").write_text("x=1\n")
    (workspace / "neat.py").write_text("y = 2\n")
    result = run("format.check")
    assert result.ok, result.message
    assert result.data["files"] == ["ugly.py"] and not result.data["formatted"]
    assert "+x = 1" in result.data["diff"]
    assert (workspace / "ugly.py").read_text() == "x=1\n"
    assert run("format.check", path="neat.py").data["formatted"] is True


@pytest.mark.usefixtures("no_pwned")
def test_search_treats_hostile_patterns_as_text(repo: Path, run: Run) -> None:
    hostile = ["-rf --output=pwned", "; touch pwned", "$(touch pwned)", "`touch pwned`"]
    (repo / "src" / "notes.txt").write_text("".join(f"{h}\n" for h in hostile) + "plain\n")
    for number, pattern in enumerate(hostile, start=1):
        result = run("search.code", pattern=pattern)
        assert result.ok, result.message
        expected = {"file": "src/notes.txt", "line": number, "text": pattern}
        assert result.data["results"] == [expected]


def test_search_finds_caps_and_filters_by_path(repo: Path, run: Run) -> None:
    (repo / "src" / "many.py").write_text("".join(f"hit_{i} = 'needle'\n" for i in range(30)))
    (repo / "other.py").write_text("needle\n")
    result = run("search.code", pattern="needle", max_results=5)
    assert result.ok and result.data["count"] == 5 and result.data["truncated"]
    under_src = run("search.code", pattern="needle", path="src")
    assert {r["file"] for r in under_src.data["results"]} == {"src/many.py"}
    regex = run("search.code", pattern="hit_[12]9 ", fixed=False)
    assert [r["line"] for r in regex.data["results"]] == [20, 30]
    assert run("search.code", pattern="absent-text").message.startswith("No matches")


def test_search_outside_a_repository_uses_git_grep_no_index(workspace: Path, run: Run) -> None:
    (workspace / "a.txt").write_text("alpha\nbeta\n")
    result = run("search.code", pattern="beta")
    assert result.data["results"] == [{"file": "a.txt", "line": 2, "text": "beta"}]


def test_files_read_returns_lines_and_refuses_binary_and_escapes(
    repo: Path, tmp_path: Path, run: Run
) -> None:
    (repo / "poem.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    whole = run("files.read", path="poem.txt")
    assert whole.ok and whole.data["total_lines"] == 10
    assert whole.data["text"].startswith("line 1\n")
    part = run("files.read", path="poem.txt", start=3, end=4)
    assert part.data["text"] == "line 3\nline 4\n"
    assert (part.data["start"], part.data["end"]) == (3, 4)
    assert "lines 3-4" in part.message
    (repo / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    binary = run("files.read", path="blob.bin")
    assert binary.error is not None and "binary" in binary.error.message
    (tmp_path / "secret.txt").write_text("keep out\n")
    (repo / "link").symlink_to(tmp_path / "secret.txt")
    for path in ("../secret.txt", str(tmp_path / "secret.txt"), "link", "/etc/passwd"):
        refused = run("files.read", path=path)
        assert refused.error is not None and "outside the workspace" in refused.error.message
        assert "keep out" not in (refused.message or "")
    backwards = run("files.read", path="poem.txt", start=5, end=2)
    assert backwards.error is not None and backwards.error.code == "command.invalid_arguments"


def test_files_read_decodes_non_utf8_with_replacement(workspace: Path, run: Run) -> None:
    (workspace / "latin1.txt").write_bytes(b"caf\xe9\n")
    assert run("files.read", path="latin1.txt").data["text"] == "caf\ufffd\n"


def test_files_list_uses_git_and_filters_by_glob(repo: Path, run: Run) -> None:
    (repo / "src" / "extra.py").write_text("")
    (repo / "ignored.log").write_text("")
    (repo / ".gitignore").write_text(".logomesh/\n*.log\n")
    result = run("files.list")
    assert result.ok and result.data["source"] == "git"
    assert result.data["files"] == [".gitignore", "src/app.py", "src/extra.py"]
    assert run("files.list", pattern="*.py").data["files"] == ["src/app.py", "src/extra.py"]
    assert run("files.list", path="src", pattern="extra*").data["files"] == ["src/extra.py"]


def test_files_list_walks_a_plain_directory_skipping_noise(workspace: Path, run: Run) -> None:
    noise = ("node_modules/x/index.js", ".venv/bin/python", "__pycache__/a.pyc")
    for name in ("a.py", "docs/b.md", *noise):
        (workspace / name).parent.mkdir(parents=True, exist_ok=True)
        (workspace / name).write_text("")
    result = run("files.list")
    assert result.data["source"] == "walk"
    assert result.data["files"] == ["a.py", "docs/b.md"]
