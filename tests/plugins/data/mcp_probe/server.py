"""A plain MCP server on stdio with the standard library only, mounted under
``[[plugins.mcp]]`` to probe the sandbox the host starts it in: what it may read and write,
its working directory and its HOME. Every tool answers ``{"ok": ..., ...}`` as JSON text.
"""

import json
import os
import sys

PATH = {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}
TOOLS = [
    {"name": "probe.read", "description": "read a file", "inputSchema": PATH},
    {"name": "probe.write", "description": "write a file", "inputSchema": PATH},
    {"name": "probe.env", "description": "cwd and HOME", "inputSchema": {"type": "object"}},
]


def attempt(action):
    try:
        return {"ok": True, "value": action()}
    except OSError as exc:
        return {"ok": False, "error": type(exc).__name__}


def read(path):
    with open(path, encoding="utf-8") as file:
        return file.read()


def write(path):
    with open(path, "w", encoding="utf-8") as file:
        file.write("written")
    return "written"


def call(name, args):
    if name == "probe.read":
        return attempt(lambda: read(args["path"]))
    if name == "probe.write":
        return attempt(lambda: write(args["path"]))
    return {"ok": True, "cwd": os.getcwd(), "home": os.environ.get("HOME")}


def answer(message):
    method = message.get("method")
    if method == "initialize":
        return {
            "protocolVersion": message["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "probe", "version": "1"},
        }
    if method == "tools/list":
        return {"tools": TOOLS}
    if method == "tools/call":
        params = message["params"]
        result = call(params["name"], params.get("arguments") or {})
        return {"content": [{"type": "text", "text": json.dumps(result)}]}
    return {}


for line in sys.stdin:
    message = json.loads(line)
    if "id" in message and "method" in message:
        reply = {"jsonrpc": "2.0", "id": message["id"], "result": answer(message)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
