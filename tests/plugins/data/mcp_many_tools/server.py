"""A plain MCP server (standard library only) with many tools that, as server-everything
does, says its tool list changed as soon as the session is initialized: the host lists the
tools for its start and again for the notification, at the same moment.
"""

import json
import sys

COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 300
SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}}
TOOLS = [
    {"name": f"tool-{i}", "description": f"tool {i}", "inputSchema": SCHEMA} for i in range(COUNT)
]


def send(message):
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", **message}) + "\n")
    sys.stdout.flush()


def answer(method, params):
    if method == "initialize":
        return {
            "protocolVersion": params["protocolVersion"],
            "capabilities": {"tools": {"listChanged": True}},
            "serverInfo": {"name": "many", "version": "1"},
        }
    if method == "tools/list":
        return {"tools": TOOLS}
    if method == "tools/call":
        text = json.dumps({"tool": params["name"], "n": params.get("arguments", {}).get("n")})
        return {"content": [{"type": "text", "text": text}]}
    return {}


for line in sys.stdin:
    message = json.loads(line)
    method = message.get("method")
    if method == "notifications/initialized":
        send({"method": "notifications/tools/list_changed"})
    elif "id" in message and method:
        send({"id": message["id"], "result": answer(method, message.get("params") or {})})
