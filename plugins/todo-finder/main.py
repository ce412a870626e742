"""todo-finder: TODO, FIXME and XXX notes in the workspace, with their author and age.

Files come from `git ls-files` (so ignored and generated files are skipped); author and age
come from `git blame --line-porcelain`, one run per file that has notes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

from logomesh_plugin import Plugin, ToolContext, ToolError

plugin = Plugin("todo-finder", version="1.0.0")
# A note is a marker inside a comment: after #, //, /*, *, -- or <!--.
# "TODO(alice): text" names who should do it: kept as `assignee`, apart from git's author.
NOTE = re.compile(r"(?:#|//|/\*|^\s*\*|--|<!--)\s*(TODO|FIXME|XXX)\b(?:\(([^)]*)\))?:?\s*(.*)")
SCHEMA = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "Folder or file, relative to the workspace."},
        "limit": {"type": "integer", "description": "At most this many notes, oldest first."},
    },
}


def workspace() -> Path:
    root = os.environ.get("LOGOMESH_WORKSPACE")
    if not root:
        raise ToolError("todo-finder needs workspace read access (permissions.workspace).")
    return Path(root)


def git(root: Path, *args: str) -> str:
    program = shutil.which("git")
    if program is None:
        raise ToolError("todo-finder needs git on PATH.")
    done = subprocess.run(
        [program, *args], cwd=root, capture_output=True, text=True, errors="replace", check=False
    )
    if done.returncode != 0:
        raise ToolError(f"git {args[0]} failed: {done.stderr.strip()[:200]}")
    return done.stdout


def blame(root: Path, path: str) -> dict[int, tuple[str, int]]:
    """Line number -> (author, commit time); uncommitted lines are 'you', now."""
    lines: dict[int, tuple[str, int]] = {}
    author, stamp, line_no = "unknown", int(time.time()), 0
    try:
        output = git(root, "blame", "--line-porcelain", "--", path)
    except ToolError:
        return lines
    for row in output.splitlines():
        head = row.split(" ")
        if len(head) >= 3 and len(head[0]) == 40:
            line_no = int(head[2])
        elif row.startswith("author "):
            author = row[7:]
        elif row.startswith("author-time "):
            stamp = int(row[12:])
        elif row.startswith("\t"):
            who = "you (not committed)" if author == "Not Committed Yet" else author
            lines[line_no] = (who, stamp)
    return lines


@plugin.tool("todos.find", description="TODO/FIXME/XXX notes with author and age", schema=SCHEMA)
def find(args: dict, ctx: ToolContext) -> dict:
    root = workspace()
    scope = args.get("path") or "."
    files = [f for f in git(root, "ls-files", "--", scope).splitlines() if f]
    notes = []
    now = time.time()
    for index, name in enumerate(files):
        if ctx.cancelled:
            break
        if index % 50 == 0:
            ctx.progress(index, total=len(files), message=f"scanning {name}")
        try:
            text = (root / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        found = [(n, m) for n, line in enumerate(text.splitlines(), 1) if (m := NOTE.search(line))]
        if not found:
            continue
        authors = blame(root, name)
        for line_no, match in found:
            author, stamp = authors.get(line_no, ("unknown", int(now)))
            notes.append(
                {
                    "file": name,
                    "line": line_no,
                    "kind": match.group(1),
                    "assignee": (match.group(2) or "").strip() or None,
                    "text": match.group(3).strip()[:200],
                    "author": author,
                    "age_days": round((now - stamp) / 86400, 1),
                }
            )
    notes.sort(key=lambda note: -note["age_days"])
    limit = args.get("limit")
    shown = notes[: int(limit)] if limit else notes
    for note in shown[:20]:
        ctx.publish("todo.found", note)
    summary = f"{_count(len(notes), 'note')} in {_count(len(files), 'file')}" + (
        f" (showing the {len(shown)} oldest)" if len(shown) < len(notes) else ""
    )
    return {"summary": summary, "notes": shown}


def _count(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


if __name__ == "__main__":
    plugin.run()
