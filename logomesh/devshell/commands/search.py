"""``search.code``: find a pattern in the project's files, with ripgrep or ``git grep``.

The pattern is data, never an option: it goes to ripgrep as ``--regexp=PATTERN`` and to git
as ``-e PATTERN``, so ``-rf`` or ``--upload-pack=x`` is searched for like any other text.
``fixed`` (the default) searches for the literal text; ``fixed=false`` uses the tool's regular
expressions (Rust syntax for ripgrep, POSIX extended for git). ripgrep is used when it is
installed, since it is faster and honours ``.gitignore`` outside git too; otherwise
``git grep`` searches tracked and untracked files (or any directory, with ``--no-index``).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass

from pydantic import BaseModel, ConfigDict, Field

from logomesh.commands.models import CommandContext, CommandOutput
from logomesh.commands.registry import command
from logomesh.commands.values import RiskLevel
from logomesh.devshell.arguments import PathText, SearchText
from logomesh.devshell.capture import complete_head
from logomesh.devshell.git import find_repository, git_argv
from logomesh.devshell.invoke import ENGINE_BACKSTOP_S, resolve_path, run_tool, workspace_root
from logomesh.devshell.runner import RunResult
from logomesh.devshell.tools import missing_message
from logomesh.errors import ToolMissingError
from logomesh.plural import plural

PARSED_HEAD_BYTES = 4 * 1024 * 1024
MAX_TEXT_CHARS = 500


@dataclass(frozen=True, slots=True)
class Match:
    file: str
    line: int
    text: str


class SearchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pattern: SearchText = Field(description="the text (or, with fixed=false, regex) to find")
    path: PathText | None = Field(default=None, description="only under this file or directory")
    max_results: int = Field(default=100, ge=1, le=1000)
    fixed: bool = Field(default=True, description="literal text (false: a regular expression)")


def _ripgrep_argv(args: SearchArgs, target: str) -> list[str]:
    argv = ["rg", "--json", "--no-config", "--max-columns", str(MAX_TEXT_CHARS)]
    if args.fixed:
        argv.append("--fixed-strings")
    return [*argv, f"--regexp={args.pattern}", "--", target]


def _parse_ripgrep(result: RunResult) -> list[Match]:
    matches = []
    for line in complete_head(result.stdout, "\n").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("type") != "match":
            continue
        data = event["data"]
        path = data["path"].get("text", "").removeprefix("./")
        matches.append(Match(path, data["line_number"], data["lines"].get("text", "").rstrip("\n")))
    return matches


def _git_grep_argv(args: SearchArgs, target: str, in_repository: bool) -> list[str]:
    argv = git_argv("grep", "-n", "-I", "-z", "--no-color")
    argv += ["--untracked"] if in_repository else ["--no-index"]
    argv.append("--fixed-strings" if args.fixed else "--extended-regexp")
    return [*argv, "-e", args.pattern, "--", target]


def _parse_git_grep(result: RunResult) -> list[Match]:
    matches = []
    for line in complete_head(result.stdout, "\n").splitlines():
        parts = line.split("\0", 2)
        if len(parts) == 3 and parts[1].isdigit():
            matches.append(Match(parts[0].removeprefix("./"), int(parts[1]), parts[2]))
    return matches


@command(
    "search.code",
    summary="Search the project's files for text (ripgrep, or git grep)",
    permission="devshell.read",
    risk=RiskLevel.READ,
    examples=(
        "search for TODO",
        "show every usage of parse_args",
        "where is load_settings defined",
        "grep the code for 'timeout'",
        'search for "api_key" in lib',
        "find all uses of Engine.execute",
        "which files mention logomesh.toml",
        "search the code for FIXME",
    ),
    timeout_s=ENGINE_BACKSTOP_S,
)
async def search_code(ctx: CommandContext, args: SearchArgs) -> CommandOutput:
    root = workspace_root(ctx)
    target = resolve_path(ctx, args.path).arg if args.path else "."
    search_path = os.environ.get("PATH", os.defpath)
    if shutil.which("rg", path=search_path):
        tool = "rg"
        result = await run_tool(
            ctx, _ripgrep_argv(args, target), head_bytes=PARSED_HEAD_BYTES, ok_codes=(0, 1)
        )
        matches = _parse_ripgrep(result)
    elif shutil.which("git", path=search_path):
        tool = "git grep"
        argv = _git_grep_argv(args, target, find_repository(root) is not None)
        result = await run_tool(ctx, argv, head_bytes=PARSED_HEAD_BYTES, ok_codes=(0, 1))
        matches = _parse_git_grep(result)
    else:
        raise ToolMissingError(
            missing_message("rg", search_path) + " (or install git, whose grep also works)",
            tool="rg",
        )
    truncated = len(matches) > args.max_results or result.truncated_bytes > 0
    shown = [Match(m.file, m.line, m.text[:MAX_TEXT_CHARS]) for m in matches[: args.max_results]]
    files = {m.file for m in shown}
    what = f"{args.pattern!r}" + (f" under {args.path}" if args.path else "")
    if shown:
        more = " (more not shown; narrow the path or raise max_results)" if truncated else ""
        message = f"{plural(len(shown), 'match')} for {what} in {plural(len(files), 'file')}{more}."
    else:
        message = f"No matches for {what}."
    return CommandOutput(
        data={
            "pattern": args.pattern,
            "fixed": args.fixed,
            "tool": tool,
            "count": len(shown),
            "truncated": truncated,
            "results": [asdict(m) for m in shown],
        },
        message=message,
        output="\n".join(f"{m.file}:{m.line}: {m.text}" for m in shown) or message,
        target=args.path,
    )
