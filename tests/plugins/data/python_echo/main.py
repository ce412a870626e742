"""An example plugin built on logomesh_plugin, driven by tests/plugins/test_python_helper.py."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

from logomesh_plugin import Plugin, ToolContext, ToolError

plugin = Plugin("python-echo", version="1.2.3")


@plugin.tool(
    "echo.structured",
    description="Return the arguments as data",
    schema={"type": "object", "properties": {"text": {"type": "string"}}},
)
def structured(args: dict[str, Any], ctx: ToolContext) -> object:
    return {"echo": args, "tool": ctx.tool}


@plugin.tool("echo.text", description="Say hello")
def text(args: dict[str, Any], ctx: ToolContext) -> object:
    return f"hello {args.get('name', 'world')} ✓"


@plugin.tool("echo.list")
def as_list(args: dict[str, Any], ctx: ToolContext) -> object:
    """Return a list (one JSON text item)."""
    return [1, "two", {"three": 3}]


@plugin.tool("echo.none")
def nothing(args: dict[str, Any], ctx: ToolContext) -> object:
    return None


@plugin.tool("echo.noop")
def noop(args: dict[str, Any], ctx: ToolContext) -> object:
    return "ok"


@plugin.tool("echo.thread")
def thread_name(args: dict[str, Any], ctx: ToolContext) -> object:
    return {"thread": threading.current_thread().name, "threads": threading.active_count()}


@plugin.tool("echo.fail")
def fail(args: dict[str, Any], ctx: ToolContext) -> object:
    raise ToolError("the file is not there")


@plugin.tool("echo.crash")
def crash(args: dict[str, Any], ctx: ToolContext) -> object:
    return 1 / 0


@plugin.tool("echo.noisy")
def noisy(args: dict[str, Any], ctx: ToolContext) -> object:
    """Writes to stdout three ways: none of it may reach the protocol stream."""
    print("print() from a tool")
    sys.stdout.write("sys.stdout.write from a tool\n")
    subprocess.run(["echo", "a subprocess writing to its stdout"], check=True)
    child = subprocess.run(["cat"], stdout=subprocess.PIPE, check=True)
    return {"child_stdin": child.stdout.decode()}


@plugin.tool("echo.progress")
def progress(args: dict[str, Any], ctx: ToolContext) -> object:
    steps = int(args.get("steps", 3))
    for step in range(1, steps + 1):
        ctx.progress(step, total=steps, message=f"step {step}")
    return {"steps": steps}


@plugin.tool("echo.wait_cancel")
def wait_cancel(args: dict[str, Any], ctx: ToolContext) -> object:
    ctx.log("info", "waiting for cancellation")
    deadline = time.monotonic() + 5
    while not ctx.cancelled and time.monotonic() < deadline:
        time.sleep(0.005)
    ctx.log("info", f"stopped, cancelled={ctx.cancelled}")
    return "done"


@plugin.tool("echo.call")
def call(args: dict[str, Any], ctx: ToolContext) -> object:
    answer = ctx.call(args["command"], args.get("arguments", {}))
    return {"answer": answer}


@plugin.tool("echo.call_blocked")
def call_blocked(args: dict[str, Any], ctx: ToolContext) -> object:
    """ctx.call that the host never answers: cancellation must unblock it."""
    try:
        ctx.call("never.answered")
    except ToolError as exc:
        ctx.log("info", f"call ended: {exc.message} (code {exc.code})")
        raise
    return "unreachable"


@plugin.tool("echo.sample")
def sample(args: dict[str, Any], ctx: ToolContext) -> object:
    return ctx.sample(args["prompt"], max_tokens=64, system="be brief", temperature=0.2)


@plugin.tool("echo.add_tool")
def add_tool(args: dict[str, Any], ctx: ToolContext) -> object:
    name = args["name"]
    plugin.add_tool(name, lambda a, c: f"dynamic {name}", "A tool added at run time")
    plugin.notify_tools_changed()
    return "added"


@plugin.on("build.finished")
def on_build(data: dict[str, Any], source: str) -> None:
    plugin.publish("echo.saw_build", {"data": data, "source": source})


if __name__ == "__main__":
    plugin.run()
