"""``tests.run``: run the project's test suite with the runner the workspace uses.

A test run executes the project's own code, so the command is ``write`` risk (with
``devshell.write``) even though it changes nothing on purpose, and a workspace the editor has
not trusted (Restricted Mode) refuses it (``runs_project_code``).

A failing suite is not a failing command. The command's job is to run the tests and report;
it did, so the outcome is ``ok`` and the verdict is data: ``passed`` (true only when the
runner exited 0), ``summary`` (the counts) and ``exit_code``. The command itself fails only
when the tests could not be run at all: no runner found, the tool missing, the deadline
passed.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from logomesh.commands.models import CommandContext, CommandOutput
from logomesh.commands.registry import command
from logomesh.commands.values import RiskLevel
from logomesh.devshell.arguments import PathText
from logomesh.devshell.invoke import ENGINE_BACKSTOP_S, resolve_path, run_tool, workspace_root
from logomesh.devshell.paths import WorkspacePath
from logomesh.devshell.summaries import parse_summary
from logomesh.errors import InvalidArgumentsError

Runner = Literal["pytest", "npm", "go", "cargo"]

# Said when a restricted workspace refuses the command (logomesh.security.policy).
RUNS_PROJECT_CODE = (
    "pytest imports its conftest.py and test modules (npm test runs its package.json "
    "script, go and cargo build and run its code)"
)
PYTEST_MARKERS = ("pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini", "setup.py", "conftest.py")


class TestsArgs(BaseModel):
    __test__ = False

    model_config = ConfigDict(extra="forbid")
    path: PathText | None = Field(
        default=None,
        description="a test file, directory or pytest node id (tests/test_x.py::test_y)",
    )
    runner: Literal["auto", "pytest", "npm", "go", "cargo"] = Field(
        default="auto", description="auto: pytest, npm, go or cargo, from the project's files"
    )


def detect_runner(root: Path) -> Runner | None:
    """The test runner a project uses, from the files at its root."""
    if any((root / marker).is_file() for marker in PYTEST_MARKERS):
        return "pytest"
    if _has_npm_test_script(root / "package.json"):
        return "npm"
    if (root / "go.mod").is_file():
        return "go"
    if (root / "Cargo.toml").is_file():
        return "cargo"
    if any(root.glob("test_*.py")) or any(root.glob("*_test.py")) or (root / "tests").is_dir():
        return "pytest"
    return None


def _has_npm_test_script(package: Path) -> bool:
    try:
        scripts = json.loads(package.read_text(encoding="utf-8")).get("scripts", {})
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(scripts, dict) and "test" in scripts


def runner_argv(runner: Runner, root: Path, target: WorkspacePath | None, node: str) -> list[str]:
    """The argv for ``runner``; ``node`` is a pytest ``::name`` suffix of the target."""
    if runner == "pytest":
        python = next(
            (str(p) for p in (root / ".venv/bin/python", root / "venv/bin/python") if p.is_file()),
            None,
        )
        base = [python, "-m", "pytest"] if python else ["pytest"]
        return [*base, "--color=no", *(["--", target.arg + node] if target else [])]
    if runner == "npm":
        return ["npm", "test", *(["--", target.arg] if target else [])]
    if runner == "go":
        if target is None:
            return ["go", "test", "-v", "./..."]
        package = target.absolute if target.absolute.is_dir() else target.absolute.parent
        relative = package.relative_to(root).as_posix()
        return ["go", "test", "-v", "./..." if relative == "." else f"./{relative}/..."]
    if target is None:
        return ["cargo", "test", "--color", "never"]
    manifest = target.absolute / "Cargo.toml" if target.absolute.is_dir() else target.absolute
    if manifest.name != "Cargo.toml" or not manifest.is_file():
        raise InvalidArgumentsError(
            "`path`: cargo selects tests by crate, not by file; give a directory with a "
            "Cargo.toml (or leave path out)."
        )
    return ["cargo", "test", "--color", "never", "--manifest-path", str(manifest)]


@command(
    "tests.run",
    summary="Run the project's tests (pytest, npm, go or cargo) and report passed/failed",
    permission="devshell.write",
    risk=RiskLevel.WRITE,
    examples=(
        "run the tests",
        "do the tests pass",
        "run pytest",
        "run the tests for lib/parser.py",
        "are the tests green",
        "run npm test",
        "check if my change broke any tests",
        "run the unit tests",
    ),
    timeout_s=ENGINE_BACKSTOP_S,
    runs_project_code=RUNS_PROJECT_CODE,
)
async def tests_run(ctx: CommandContext, args: TestsArgs) -> CommandOutput:
    root = workspace_root(ctx)
    runner = detect_runner(root) if args.runner == "auto" else args.runner
    if runner is None:
        raise InvalidArgumentsError(
            f"Could not tell which test runner {root} uses (no pyproject.toml, pytest.ini, "
            "package.json with a test script, go.mod or Cargo.toml). Pass runner=pytest, npm, "
            "go or cargo."
        )
    target, node = None, ""
    if args.path is not None:
        file_part, separator, rest = args.path.partition("::")
        target = resolve_path(ctx, file_part)
        node = separator + rest if runner == "pytest" else ""
    argv = runner_argv(runner, root, target, node)
    result = await run_tool(ctx, argv, ok_codes=None)
    summary = parse_summary(runner, result.output)
    passed = result.exit_code == 0
    counts = str(summary) if summary else "no summary found in the output"
    verdict = "passed" if passed else f"FAILED (exit status {result.exit_code})"
    return CommandOutput(
        data={
            "runner": runner,
            "argv": list(result.argv),
            "passed": passed,
            "exit_code": result.exit_code,
            "summary": asdict(summary) if summary else None,
            "duration_s": round(result.duration_s, 3),
            "truncated_bytes": result.truncated_bytes,
        },
        message=f"Tests {verdict}: {counts} ({runner}, {result.duration_s:.1f} s).",
        output=result.output,
        target=args.path,
    )
