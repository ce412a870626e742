"""``lint.check`` and ``format.check``: the project's linter and formatter, read-only.

Python projects are checked with ruff (``--no-fix``, so a ``fix = true`` in the project's
configuration cannot make a read command write files), JavaScript projects with the eslint
in ``node_modules/.bin``. Both report structured diagnostics; the project's own copies of
the tools are preferred (see :func:`~logomesh.devshell.tools.project_tool`), which means a
check runs code the project ships, as opening it in an editor with its linter would. In a
workspace the editor has not trusted (Restricted Mode) they are not: ruff runs from PATH
(ruff itself runs no project code: its configuration is data, with no plugins), and the
project's eslint, whose configuration is JavaScript, is not run.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from logomesh.commands.models import CommandContext, CommandOutput
from logomesh.commands.registry import command
from logomesh.commands.values import RiskLevel
from logomesh.devshell.arguments import PathText
from logomesh.devshell.invoke import ENGINE_BACKSTOP_S, resolve_path, run_tool, workspace_root
from logomesh.devshell.runner import RunResult
from logomesh.devshell.tools import project_tool
from logomesh.errors import CommandError
from logomesh.plural import plural

PARSED_HEAD_BYTES = 8 * 1024 * 1024
PYTHON_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", "ruff.toml", ".ruff.toml")
RUFF_SYNTAX_CODES = frozenset({"invalid-syntax", "syntax-error", "E999"})


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem; lines and columns count from 1, columns in characters (code points).

    The end is where the tool says the problem ends (an editor underlines up to it);
    ``severity`` is ``error`` for what stops the code from running (a syntax error, an
    eslint error) and ``warning`` for the rest, as ruff's own language server reports.
    """

    file: str
    line: int
    column: int
    code: str
    message: str
    tool: str
    end_line: int | None = None
    end_column: int | None = None
    severity: str = "warning"


class CheckArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: PathText | None = Field(default=None, description="only this file or directory")


def _target(ctx: CommandContext, path: str | None) -> str:
    return resolve_path(ctx, path).arg if path else "."


def _relative(root: Path, filename: str) -> str:
    path = Path(filename)
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else filename


def _json(result: RunResult, tool: str) -> Any:
    if result.truncated_bytes:
        raise CommandError(
            f"{tool} reported more than DevShell reads ({result.truncated_bytes:,} bytes cut); "
            "check a smaller path."
        )
    try:
        return json.loads(result.stdout or "[]")
    except ValueError:
        raise CommandError(f"{tool} did not report JSON: {result.last_lines()}") from None


async def _ruff_check(ctx: CommandContext, root: Path, target: str) -> list[Diagnostic]:
    restricted = ctx.engine.settings.workspace_restricted
    ruff = project_tool(root, "ruff", restricted=restricted)
    argv = [ruff, "check", "--output-format", "json", "--no-fix"]
    result = await run_tool(
        ctx, [*argv, "--", target], head_bytes=PARSED_HEAD_BYTES, ok_codes=(0, 1)
    )
    return [_ruff_diagnostic(root, item) for item in _json(result, "ruff")]


def _ruff_diagnostic(root: Path, item: dict[str, Any]) -> Diagnostic:
    # ruff names a syntax error "invalid-syntax" (0.12 and later) or gives no code (older).
    code = item.get("code") or "syntax-error"
    end = item.get("end_location") or {}
    return Diagnostic(
        file=_relative(root, item["filename"]),
        line=item["location"]["row"],
        column=item["location"]["column"],
        code=code,
        message=item["message"],
        tool="ruff",
        end_line=end.get("row"),
        end_column=end.get("column"),
        severity="error" if code in RUFF_SYNTAX_CODES else "warning",
    )


async def _eslint(ctx: CommandContext, root: Path, eslint: Path, target: str) -> list[Diagnostic]:
    argv = [str(eslint), "--format", "json", "--", target]
    result = await run_tool(ctx, argv, head_bytes=PARSED_HEAD_BYTES, ok_codes=(0, 1))
    return [
        Diagnostic(
            file=_relative(root, report["filePath"]),
            line=message.get("line", 0),
            column=message.get("column", 0),
            code=message.get("ruleId") or "error",
            message=message["message"],
            tool="eslint",
            end_line=message.get("endLine"),
            end_column=message.get("endColumn"),
            # eslint: 2 is an error, 1 a warning; a fatal parse error has no rule.
            severity="error" if message.get("severity") == 2 or message.get("fatal") else "warning",
        )
        for report in _json(result, "eslint")
        for message in report.get("messages", [])
    ]


@command(
    "lint.check",
    summary="Lint the code (ruff for Python, the project's eslint for JavaScript)",
    permission="devshell.read",
    risk=RiskLevel.READ,
    examples=(
        "lint the code",
        "run the linter",
        "any lint errors",
        "lint lib/server.py",
        "check config.py for problems",
        "run ruff",
        "check the code style",
        "static analysis on the code",
    ),
    timeout_s=ENGINE_BACKSTOP_S,
)
async def lint_check(ctx: CommandContext, args: CheckArgs) -> CommandOutput:
    root = workspace_root(ctx)
    target = _target(ctx, args.path)
    eslint = root / "node_modules/.bin/eslint"
    has_eslint = eslint.is_file()
    # eslint is the project's own copy and runs its eslint.config.js: not in Restricted Mode.
    skip_eslint = has_eslint and ctx.engine.settings.workspace_restricted
    diagnostics: list[Diagnostic] = []
    tools: list[str] = []
    if not has_eslint or any((root / marker).is_file() for marker in PYTHON_MARKERS):
        diagnostics += await _ruff_check(ctx, root, target)
        tools.append("ruff")
    if has_eslint and not skip_eslint:
        diagnostics += await _eslint(ctx, root, eslint, target)
        tools.append("eslint")
    files = {d.file for d in diagnostics}
    by = " and ".join(tools) or "no linter ran"
    message = (
        f"{plural(len(diagnostics), 'problem')} in {plural(len(files), 'file')} ({by})."
        if diagnostics
        else f"No lint problems ({by})."
    )
    if skip_eslint:
        message += (
            " eslint was not run: it is the workspace's own copy and runs its configuration, "
            "and the workspace is not trusted (Restricted Mode)."
        )
    lines = [f"{d.file}:{d.line}:{d.column}: {d.code} {d.message}" for d in diagnostics]
    return CommandOutput(
        data={
            "tools": tools,
            "count": len(diagnostics),
            "diagnostics": [asdict(d) for d in diagnostics],
        },
        message=message,
        output="\n".join(lines) or message,
        target=args.path,
    )


def _files_in_diff(diff: str) -> list[str]:
    """Files named by ``--- X`` / ``+++ X`` header pairs (a removed line alone is not one)."""
    lines = diff.splitlines()
    return [
        line[4:]
        for line, following in pairwise(lines)
        if line.startswith("--- ") and following.startswith("+++ ") and following[4:] == line[4:]
    ]


@command(
    "format.check",
    summary="Check formatting without changing files: which files would be reformatted",
    permission="devshell.read",
    risk=RiskLevel.READ,
    examples=(
        "is the code formatted",
        "check formatting",
        "which files need formatting",
        "run ruff format --check",
        "would the formatter change anything",
        "show the formatting diff",
    ),
    timeout_s=ENGINE_BACKSTOP_S,
)
async def format_check(ctx: CommandContext, args: CheckArgs) -> CommandOutput:
    root = workspace_root(ctx)
    argv = [
        project_tool(root, "ruff", restricted=ctx.engine.settings.workspace_restricted),
        "format",
        "--check",
        "--diff",
        "--",
        _target(ctx, args.path),
    ]
    result = await run_tool(ctx, argv, ok_codes=(0, 1, 2))
    files = _files_in_diff(result.stdout)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    if result.exit_code == 2 and not errors:
        raise CommandError(f"ruff format failed: {result.last_lines()}")
    message = (
        f"{plural(len(files), 'file')} would be reformatted."
        if files
        else "All files are formatted."
    )
    if errors:
        message += f" {plural(len(errors), 'file')} could not be read: {errors[0]}"
    return CommandOutput(
        data={
            "formatted": not files and not errors,
            "files": files,
            "errors": errors,
            "diff": result.stdout,
        },
        message=message,
        output=result.output or message,
        target=args.path,
    )
