"""release-notes: a draft from `git.log` (a built-in command) and `todos.find` (the
todo-finder plugin's command), both called through the host, then published as the
`release.drafted` event for whoever subscribes (the announcer plugin does)."""

from __future__ import annotations

from logomesh_plugin import Plugin, ToolContext, ToolError

plugin = Plugin("release-notes", version="1.0.0")
SCHEMA = {
    "type": "object",
    "properties": {"commits": {"type": "integer", "description": "How many commits (default 20)."}},
}


@plugin.tool("release.notes", description="Draft release notes", schema=SCHEMA)
def notes(args: dict, ctx: ToolContext) -> dict:
    log = ctx.call("git.log", {"count": int(args.get("commits") or 20)})
    if not log.get("ok"):
        raise ToolError(f"git.log failed: {log.get('message')}")
    commits = (log.get("data") or {}).get("commits", [])
    lines = ["## Changes", *(f"- {c['subject']} ({c['short']}, {c['author']})" for c in commits)]
    todos = ctx.call("todos.find", {"limit": 10})
    open_notes = (todos.get("data") or {}).get("notes", []) if todos.get("ok") else []
    if open_notes:
        still_open = (f"- {n['file']}:{n['line']} {n['text']}" for n in open_notes)
        lines += ["", "## Still open", *still_open]
    draft = "\n".join(lines)
    ctx.publish("release.drafted", {"commits": len(commits), "open_notes": len(open_notes),
                                    "draft": draft})  # fmt: skip
    summary = (
        f"Draft from {_count(len(commits), 'commit')}, {_count(len(open_notes), 'open note')}."
    )
    return {"summary": summary, "draft": draft}


def _count(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


if __name__ == "__main__":
    plugin.run()
