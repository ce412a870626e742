"""``files.read`` and ``files.list``: the project's files, read in Python, inside the workspace.

Reading needs no child process, so these run in a worker thread rather than through the
runner; they share its path rules (:mod:`~logomesh.devshell.paths`). ``files.read`` refuses
binary files (a NUL byte in the first 8 KiB, git's own test) and anything that is not a
regular file (a FIFO would block forever), and returns at most :data:`MAX_READ_BYTES` of
text. ``files.list`` asks git for the files it would show (tracked plus untracked, not
ignored) and otherwise walks the tree, skipping VCS, dependency and cache directories.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from logomesh.commands.models import CommandContext, CommandOutput
from logomesh.commands.registry import command
from logomesh.commands.values import RiskLevel
from logomesh.devshell.arguments import PathText, SearchText
from logomesh.devshell.capture import complete_head
from logomesh.devshell.git import READ_ENV, find_repository, git_argv
from logomesh.devshell.invoke import ENGINE_BACKSTOP_S, resolve_path, run_tool, workspace_root
from logomesh.devshell.paths import WorkspacePath
from logomesh.errors import CommandError, InvalidArgumentsError
from logomesh.layout import STATE_DIR
from logomesh.plural import plural

MAX_READ_BYTES = 1024 * 1024
BINARY_SNIFF_BYTES = 8192
READ_PIECE_BYTES = 64 * 1024
MAX_LISTED = 1000
SKIPPED_DIRS = frozenset(
    {".git", STATE_DIR, "node_modules", ".venv", "venv", "__pycache__", ".mypy_cache",
     ".ruff_cache", ".pytest_cache", ".tox", "target", "dist", "build"}
)  # fmt: skip


class ReadArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: PathText = Field(description="the file to read")
    start: int | None = Field(default=None, ge=1, description="first line (1-based)")
    end: int | None = Field(default=None, ge=1, description="last line, included")

    @model_validator(mode="after")
    def _ordered(self) -> ReadArgs:
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"end ({self.end}) comes before start ({self.start})")
        return self


@dataclass(frozen=True, slots=True)
class Excerpt:
    text: str
    first: int
    last: int
    truncated: bool
    total_lines: int | None  # known when the file was read to its end


def read_lines(path: Path, start: int, end: int | None) -> Excerpt:
    """Lines ``start``..``end`` of a text file, at most MAX_READ_BYTES of them.

    Reads in bounded pieces, so a minified file whose one line is 100 MB costs no more
    memory than the cap.
    """
    kept: list[bytes] = []
    size = 0
    number = 1  # the line the next piece belongs to
    last_kept = start - 1
    open_line = False  # the last piece read did not end its line
    with path.open("rb") as stream:
        if b"\0" in stream.read(BINARY_SNIFF_BYTES):
            raise CommandError(f"{path.name} is a binary file; files.read shows text only.")
        stream.seek(0)
        while piece := stream.readline(READ_PIECE_BYTES):
            if end is not None and number > end:
                return Excerpt(_decode(kept), start, last_kept, False, None)
            if number >= start:
                if size + len(piece) > MAX_READ_BYTES:
                    return Excerpt(_decode(kept), start, last_kept, True, None)
                kept.append(piece)
                size += len(piece)
                last_kept = number
            open_line = not piece.endswith(b"\n")
            if not open_line:
                number += 1
    total = number if open_line else number - 1
    return Excerpt(_decode(kept), start, last_kept, False, total)


def _decode(lines: list[bytes]) -> str:
    return b"".join(lines).decode("utf-8", errors="replace")


@command(
    "files.read",
    summary="Show a text file of the project, or some of its lines",
    permission="devshell.read",
    risk=RiskLevel.READ,
    examples=(
        "show me README.md",
        "open src/app.py",
        "print the Makefile",
        "display setup.py",
        "show lines 10-40 of main.py",
        "what's in pyproject.toml",
        "show the contents of lib/util.py",
        "print the first 20 lines of setup.cfg",
    ),
    timeout_s=ENGINE_BACKSTOP_S,
)
async def files_read(ctx: CommandContext, args: ReadArgs) -> CommandOutput:
    target = resolve_path(ctx, args.path)
    if target.absolute.is_dir():
        raise InvalidArgumentsError(
            f"`path` = {args.path!r} is a directory; files.list shows what it holds."
        )
    if not target.absolute.is_file():
        raise InvalidArgumentsError(f"`path` = {args.path!r} is not a regular file.")
    excerpt = await asyncio.to_thread(read_lines, target.absolute, args.start or 1, args.end)
    if excerpt.last < excerpt.first:
        span = "no lines (the file is shorter)" if excerpt.first > 1 else "an empty file"
    else:
        span = f"lines {excerpt.first}-{excerpt.last}"
    of = f" of {excerpt.total_lines}" if excerpt.total_lines is not None else ""
    cut = (
        f" (stopped at {MAX_READ_BYTES // 1024} KiB; read on with start=)"
        if excerpt.truncated
        else ""
    )
    return CommandOutput(
        data={
            "path": target.relative,
            "start": excerpt.first,
            "end": excerpt.last,
            "total_lines": excerpt.total_lines,
            "truncated": excerpt.truncated,
            "text": excerpt.text,
        },
        message=f"{target.relative}: {span}{of}{cut}.",
        output=excerpt.text,
        target=target.relative,
    )


class ListArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: PathText | None = Field(default=None, description="a directory (default: everything)")
    pattern: SearchText | None = Field(
        default=None, description="a glob such as *.py or src/*_test.go"
    )


def walk_files(directory: WorkspacePath) -> list[str]:
    """Files under ``directory`` relative to the root, without the usual noise directories."""
    found: list[str] = []
    for current, dirs, files in os.walk(directory.absolute):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        base = Path(current).relative_to(directory.root)
        found.extend((base / name).as_posix() for name in sorted(files))
    return found


async def _git_files(ctx: CommandContext, directory: WorkspacePath) -> list[str]:
    argv = git_argv("ls-files", "-z", "--cached", "--others", "--exclude-standard")
    result = await run_tool(ctx, [*argv, "--", directory.arg], env=READ_ENV)
    listed = complete_head(result.stdout, "\0").split("\0")
    # Tracked files come first, then untracked ones; a person expects one sorted list.
    return sorted({path for path in listed if path})


def _matches(path: str, pattern: str | None) -> bool:
    if pattern is None:
        return True
    return fnmatchcase(path, pattern) or fnmatchcase(path.rsplit("/", 1)[-1], pattern)


@command(
    "files.list",
    summary="List the project's files (what git tracks, or a walk), optionally by glob",
    permission="devshell.read",
    risk=RiskLevel.READ,
    examples=(
        "list the files",
        "what files are in src",
        "show all python files",
        "find files named *.toml",
        "which test files are there",
        "ls",
        "show the folder tree of lib",
        "list files under docs",
    ),
    timeout_s=ENGINE_BACKSTOP_S,
)
async def files_list(ctx: CommandContext, args: ListArgs) -> CommandOutput:
    root = workspace_root(ctx)
    directory = resolve_path(ctx, args.path) if args.path else resolve_path(ctx, ".")
    if not directory.absolute.is_dir():
        raise InvalidArgumentsError(f"`path` = {args.path!r} is not a directory.")
    use_git = find_repository(root) is not None and shutil.which("git") is not None
    listed = (
        await _git_files(ctx, directory)
        if use_git
        else await asyncio.to_thread(walk_files, directory)
    )
    private = f"{STATE_DIR}/"
    matching = [p for p in listed if not p.startswith(private) and _matches(p, args.pattern)]
    files = matching[:MAX_LISTED]
    where = f" under {directory.relative}" if args.path else ""
    which = f" matching {args.pattern}" if args.pattern else ""
    more = f" (first {MAX_LISTED} of {len(matching)})" if len(matching) > MAX_LISTED else ""
    return CommandOutput(
        data={
            "path": directory.relative,
            "pattern": args.pattern,
            "source": "git" if use_git else "walk",
            "count": len(files),
            "truncated": len(matching) > MAX_LISTED,
            "files": files,
        },
        message=f"{plural(len(matching), 'file')}{where}{which}{more}.",
        output="\n".join(files),
        target=directory.relative,
    )
