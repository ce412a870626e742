"""The Python plugin helper (logomesh/plugins/sdk/python/logomesh_plugin/).

A raw driver speaks newline-delimited JSON-RPC to the example plugin in data/python_echo, in
the host's role; the official MCP Python SDK client then drives the same plugin.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.plugins.driver import Message, RawPeer

ROOT = Path(__file__).resolve().parents[2]
SDK_DIR = ROOT / "logomesh" / "plugins" / "sdk" / "python"
PLUGIN_DIR = Path(__file__).resolve().parent / "data" / "python_echo"


def plugin_env() -> dict[str, str]:
    """A clean environment: only the helper's directory on PYTHONPATH.

    Under ``make test`` coverage's own setting is passed on too, so these unsandboxed runs
    measure the helper; the host never passes it to a plugin (test_measured_host.py)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(SDK_DIR)}
    if "COVERAGE_PROCESS_CONFIG" in os.environ:
        env["COVERAGE_PROCESS_CONFIG"] = os.environ["COVERAGE_PROCESS_CONFIG"]
    return env


class RawPlugin(RawPeer):
    """The example plugin, driven by the raw peer; ``request`` returns the request's id."""

    def __init__(self) -> None:
        super().__init__([sys.executable, "main.py"], cwd=PLUGIN_DIR, env=plugin_env())

    request = RawPeer.send_request

    def call(self, name: str, arguments: Message | None = None, **params: Any) -> Message:
        rid = self.request("tools/call", {"name": name, "arguments": arguments or {}, **params})
        message, _ = self.response(rid)
        return message


@pytest.fixture
def plugin() -> Iterator[RawPlugin]:
    raw = RawPlugin()
    raw.handshake()
    yield raw
    if raw.proc.poll() is None:
        raw.close()
    assert raw.bad_lines == []


def text_of(response: Message) -> str:
    content = response["result"]["content"]
    assert len(content) == 1 and content[0]["type"] == "text"
    return str(content[0]["text"])


# --------------------------------------------------------------------------- handshake


def test_handshake_answers_the_offered_version_or_the_latest() -> None:
    raw = RawPlugin()
    try:
        result = raw.handshake("2025-06-18")["result"]
        assert result == {
            "protocolVersion": "2025-06-18",
            "capabilities": {
                "tools": {"listChanged": True},
                "experimental": {"logomesh": {"version": 1}},
            },
            "serverInfo": {"name": "python-echo", "version": "1.2.3"},
        }
        assert raw.handshake("1999-01-01")["result"]["protocolVersion"] == "2025-11-25"
        assert raw.handshake("2024-11-05")["result"]["protocolVersion"] == "2024-11-05"
        ping, before = raw.response(raw.request("ping"))
        assert ping["result"] == {}
        assert before == []  # notifications/initialized is not answered
    finally:
        assert raw.close() == 0


def test_tools_list_has_names_descriptions_and_schemas(plugin: RawPlugin) -> None:
    tools = {
        t["name"]: t for t in plugin.response(plugin.request("tools/list"))[0]["result"]["tools"]
    }
    assert tools["echo.structured"] == {
        "name": "echo.structured",
        "description": "Return the arguments as data",
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
    }
    assert tools["echo.text"]["inputSchema"] == {"type": "object"}  # the default schema
    assert tools["echo.list"]["description"] == "Return a list (one JSON text item)."  # docstring
    assert {"echo.noop", "echo.fail", "echo.crash", "echo.sample", "echo.call"} <= set(tools)


# ------------------------------------------------------------------------------ results


def test_a_dict_is_structured_content_plus_its_json_text(plugin: RawPlugin) -> None:
    result = plugin.call("echo.structured", {"text": "hi"})["result"]
    assert result["structuredContent"] == {"echo": {"text": "hi"}, "tool": "echo.structured"}
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]
    assert "isError" not in result


def test_a_str_is_one_text_item_in_utf8(plugin: RawPlugin) -> None:
    response = plugin.call("echo.text", {"name": "Zoë"})
    assert response["result"] == {"content": [{"type": "text", "text": "hello Zoë ✓"}]}


def test_a_list_is_a_json_text_item_and_none_is_empty_text(plugin: RawPlugin) -> None:
    listed = plugin.call("echo.list")["result"]
    assert "structuredContent" not in listed  # MCP allows only an object there
    assert json.loads(text_of({"result": listed})) == [1, "two", {"three": 3}]
    assert plugin.call("echo.none")["result"] == {"content": [{"type": "text", "text": ""}]}


def test_tool_error_and_exception_become_error_results(plugin: RawPlugin) -> None:
    failed = plugin.call("echo.fail")["result"]
    assert failed == {
        "content": [{"type": "text", "text": "the file is not there"}],
        "isError": True,
    }
    crashed = plugin.call("echo.crash")["result"]
    assert crashed["isError"] is True
    assert text_of({"result": crashed}) == (
        "internal error in echo.crash: ZeroDivisionError: division by zero"
    )
    assert plugin.call("echo.noop")["result"]["content"][0]["text"] == "ok"  # still serving
    assert plugin.close() == 0
    assert b"Traceback" in plugin.stderr and b"ZeroDivisionError" in plugin.stderr


def test_unknown_tool_and_bad_arguments_are_invalid_params(plugin: RawPlugin) -> None:
    unknown = plugin.call("no.such.tool")
    assert unknown["error"]["code"] == -32602
    assert "no.such.tool" in unknown["error"]["message"]
    rid = plugin.request("tools/call", {"name": "echo.text", "arguments": [1, 2]})
    assert plugin.response(rid)[0]["error"]["code"] == -32602


def test_nothing_but_protocol_reaches_stdout(plugin: RawPlugin) -> None:
    """print(), sys.stdout and a subprocess's stdout all land on stderr; a child reads EOF."""
    result = plugin.call("echo.noisy")["result"]
    assert result["structuredContent"] == {"child_stdin": ""}
    assert plugin.close() == 0
    assert plugin.bad_lines == []
    for noise in (b"print() from a tool", b"sys.stdout.write", b"a subprocess writing"):
        assert noise in plugin.stderr


# ------------------------------------------------------------- progress, cancellation


def test_progress_uses_the_calls_progress_token(plugin: RawPlugin) -> None:
    rid = plugin.request(
        "tools/call",
        {"name": "echo.progress", "arguments": {"steps": 3}, "_meta": {"progressToken": "tok-1"}},
    )
    response, before = plugin.response(rid)
    assert response["result"]["structuredContent"] == {"steps": 3}
    assert [m["method"] for m in before] == ["notifications/progress"] * 3
    assert [m["params"] for m in before] == [
        {"progressToken": "tok-1", "progress": n, "total": 3, "message": f"step {n}"}
        for n in (1, 2, 3)
    ]
    # Without a token, ctx.progress is a no-op.
    _, before = plugin.response(plugin.request("tools/call", {"name": "echo.progress"}))
    assert before == []


def is_log(text: str) -> Callable[[Message], bool]:
    def pred(m: Message) -> bool:
        return m.get("method") == "notifications/message" and text in str(m["params"]["data"])

    return pred


def test_cancellation_sets_ctx_cancelled_and_suppresses_the_response(plugin: RawPlugin) -> None:
    rid = plugin.request("tools/call", {"name": "echo.wait_cancel"})
    started, _ = plugin.until(is_log("waiting for cancellation"))
    assert started["params"] == {
        "level": "info",
        "logger": "python-echo",
        "data": "waiting for cancellation",
    }
    # While the tool runs, the reader keeps answering.
    assert plugin.response(plugin.request("ping"))[0]["result"] == {}
    plugin.notify("notifications/cancelled", {"requestId": rid, "reason": "user pressed ^C"})
    plugin.until(is_log("stopped, cancelled=True"))
    assert all(m.get("id") != rid for m in plugin.sync())  # MCP: no response once cancelled


def test_cancellation_unblocks_a_pending_ctx_call(plugin: RawPlugin) -> None:
    rid = plugin.request("tools/call", {"name": "echo.call_blocked"})
    outgoing, _ = plugin.until(lambda m: m.get("method") == "logomesh/call")
    plugin.notify("notifications/cancelled", {"requestId": rid})
    ended, before = plugin.until(is_log("call ended"))
    assert "(code -32800)" in ended["params"]["data"]
    later = before + plugin.sync()
    forwarded = [m for m in later if m.get("method") == "notifications/cancelled"]
    assert forwarded and forwarded[0]["params"]["requestId"] == outgoing["id"]
    assert all(m.get("id") != rid for m in later)


def test_workers_are_reused_and_calls_run_concurrently(plugin: RawPlugin) -> None:
    names = {plugin.call("echo.thread")["result"]["structuredContent"]["thread"] for _ in range(5)}
    assert len(names) == 1  # sequential calls reuse the idle worker
    blocker = plugin.request("tools/call", {"name": "echo.wait_cancel"})
    plugin.until(is_log("waiting for cancellation"))
    second = plugin.call("echo.thread")["result"]["structuredContent"]["thread"]
    assert second not in names  # the busy worker does not hold up another call
    plugin.notify("notifications/cancelled", {"requestId": blocker})
    plugin.until(is_log("stopped"))


# --------------------------------------------------------------------- host <-> plugin


def test_ctx_call_is_a_logomesh_call_request_to_the_host(plugin: RawPlugin) -> None:
    rid = plugin.request(
        "tools/call",
        {"name": "echo.call", "arguments": {"command": "todo.scan", "arguments": {"n": 2}}},
    )
    outgoing, _ = plugin.until(lambda m: m.get("method") == "logomesh/call")
    assert outgoing["params"] == {"command": "todo.scan", "arguments": {"n": 2}}
    answer = {"ok": True, "outcome": "success", "data": {"found": 2}, "message": "", "error": None}
    plugin.reply(outgoing["id"], answer)
    response, _ = plugin.response(rid)
    assert response["result"]["structuredContent"] == {"answer": answer}

    # A JSON-RPC error from the host raises ToolError: the tool fails with that message.
    rid = plugin.request("tools/call", {"name": "echo.call", "arguments": {"command": "x.y"}})
    outgoing, _ = plugin.until(lambda m: m.get("method") == "logomesh/call")
    denied = "permission denied: the manifest must request permissions.call 'x.y'"
    plugin.reply_error(outgoing["id"], -32001, denied)
    response, _ = plugin.response(rid)
    assert response["result"] == {"content": [{"type": "text", "text": denied}], "isError": True}


def test_ctx_sample_is_a_sampling_request_to_the_host(plugin: RawPlugin) -> None:
    rid = plugin.request("tools/call", {"name": "echo.sample", "arguments": {"prompt": "6 x 7?"}})
    outgoing, _ = plugin.until(lambda m: m.get("method") == "sampling/createMessage")
    assert outgoing["params"] == {
        "messages": [{"role": "user", "content": {"type": "text", "text": "6 x 7?"}}],
        "maxTokens": 64,
        "systemPrompt": "be brief",
        "temperature": 0.2,
    }
    answer = {
        "role": "assistant",
        "content": {"type": "text", "text": "42"},
        "model": "fake",
        "stopReason": "endTurn",
    }
    plugin.reply(outgoing["id"], answer)
    assert plugin.response(rid)[0]["result"] == {"content": [{"type": "text", "text": "42"}]}


def test_logomesh_event_reaches_the_on_handler(plugin: RawPlugin) -> None:
    plugin.notify(
        "logomesh/event", {"event": "build.finished", "data": {"ok": True}, "source": "ci"}
    )
    published, _ = plugin.until(lambda m: m.get("method") == "logomesh/publish")
    assert published["params"] == {
        "event": "echo.saw_build",
        "data": {"data": {"ok": True}, "source": "ci"},
    }
    plugin.notify("logomesh/event", {"event": "nobody.listens", "data": {}, "source": "ci"})
    assert plugin.sync() == []


def test_tools_added_at_run_time_are_announced_and_served(plugin: RawPlugin) -> None:
    rid = plugin.request("tools/call", {"name": "echo.add_tool", "arguments": {"name": "dyn.x"}})
    response, before = plugin.response(rid)
    assert response["result"]["content"][0]["text"] == "added"
    assert [m["method"] for m in before] == ["notifications/tools/list_changed"]
    tools = plugin.response(plugin.request("tools/list"))[0]["result"]["tools"]
    assert "dyn.x" in [t["name"] for t in tools]
    assert text_of(plugin.call("dyn.x")) == "dynamic dyn.x"


# ------------------------------------------------------------------ protocol hygiene


def test_malformed_lines_and_unknown_methods(plugin: RawPlugin) -> None:
    plugin.write(b"{not json\n")
    parse_error = plugin.next()
    assert parse_error["id"] is None and parse_error["error"]["code"] == -32700
    plugin.write(b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\xff"}}\n')
    assert plugin.next()["error"]["code"] == -32700  # not UTF-8
    plugin.write(b"[1, 2]\n\n   \n")  # a batch is refused; blank lines are skipped
    assert plugin.next()["error"]["code"] == -32600
    for method in ("server/discover", "resources/list", "logging/setLevel"):
        response, _ = plugin.response(plugin.request(method))
        assert response["error"]["code"] == -32601
        assert method in response["error"]["message"]
    plugin.notify("notifications/roots/list_changed")  # unknown notifications are ignored
    # Stray responses (unknown or null id) are never answered: no error ping-pong.
    plugin.reply(999, {})
    plugin.reply_error(None, -32700, "?")
    plugin.notify("notifications/cancelled", {"requestId": 12345})  # nothing to cancel
    assert plugin.sync() == []


def test_eof_exits_zero_even_with_a_tool_running() -> None:
    raw = RawPlugin()
    raw.handshake()
    raw.request("tools/call", {"name": "echo.wait_cancel"})
    raw.until(is_log("waiting for cancellation"))
    started = time.monotonic()
    assert raw.close() == 0
    assert time.monotonic() - started < 2.0  # the running tool saw ctx.cancelled
    assert raw.bad_lines == []


def test_run_accepts_streams_for_in_process_use() -> None:
    """run(stdin=, stdout=) serves given binary streams and leaves the process's stdio alone."""
    import importlib
    import io

    sys.path.insert(0, str(SDK_DIR))
    try:
        helper = importlib.import_module("logomesh_plugin")
    finally:
        sys.path.remove(str(SDK_DIR))

    plugin = helper.Plugin("inline")
    plugin.add_tool("add", lambda args, ctx: {"sum": args["a"] + args["b"]})
    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "add", "arguments": {"a": 2, "b": 3}},
        },
    ]
    stdin = io.BytesIO(b"".join(json.dumps(m).encode() + b"\n" for m in lines))
    stdout = io.BytesIO()
    real_stdout = sys.stdout
    plugin.run(stdin=stdin, stdout=stdout)
    assert sys.stdout is real_stdout
    answers = {m["id"]: m for m in map(json.loads, stdout.getvalue().splitlines())}
    assert answers[1]["result"]["protocolVersion"] == "2025-11-25"  # none offered: the latest
    assert answers[2]["result"]["structuredContent"] == {"sum": 5}


# ----------------------------------------------------------------------- lightness


def test_the_helper_imports_only_the_standard_library_quickly() -> None:
    code = (
        "import sys, time\n"
        "t = time.perf_counter()\n"
        "import logomesh_plugin\n"
        "ms = (time.perf_counter() - t) * 1000\n"
        "extra = sorted({m.split('.')[0] for m in sys.modules} - sys.stdlib_module_names"
        " - {'logomesh_plugin', '__main__'})\n"
        "print(f'{ms:.1f}', ','.join(extra), 'typing' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code],
        env=plugin_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split(" ")
    print(f"import logomesh_plugin (python -S): {out[0]} ms")
    assert out[1] == ""  # no third-party module, no logomesh
    assert out[2].strip() == "False"  # typing is for type checkers only
    assert float(out[0]) < 200  # ~5-15 ms in practice; generous for loaded CI machines


def test_idle_rss_and_trivial_call_round_trip(plugin: RawPlugin) -> None:
    status = Path(f"/proc/{plugin.proc.pid}/status")
    if status.exists():
        rss_kb = int(
            next(ln for ln in status.read_text().splitlines() if ln.startswith("VmRSS")).split()[1]
        )
        print(f"idle plugin VmRSS: {rss_kb / 1024:.1f} MB")
        assert rss_kb < 40 * 1024
    for _ in range(20):  # warm up
        plugin.call("echo.noop")
    samples = []
    for _ in range(200):
        started = time.perf_counter()
        plugin.call("echo.noop")
        samples.append(time.perf_counter() - started)
    median_ms = statistics.median(samples) * 1000
    print(f"tools/call round trip, median of 200: {median_ms:.3f} ms")
    assert median_ms < 10  # well under 1 ms in practice


# ------------------------------------------------------------- the official MCP client


def test_the_official_mcp_client_drives_the_plugin(tmp_path: Path) -> None:
    import mcp_types as types
    from mcp.client import Client, ClientRequestContext
    from mcp.client.stdio import StdioServerParameters, stdio_client

    # The plugin's stdin is also teed to a file, to see what the client sent.
    sent_log = tmp_path / "sent.jsonl"
    params = StdioServerParameters(
        command="sh",
        args=["-c", 'tee "$0" | exec "$1" main.py', str(sent_log), sys.executable],
        env=plugin_env(),
        cwd=PLUGIN_DIR,
    )
    prompts: list[str] = []
    progress: list[tuple[float, float | None, str | None]] = []

    async def sampling(
        context: ClientRequestContext, request: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        content = request.messages[0].content
        assert isinstance(content, types.TextContent)
        prompts.append(content.text)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text="forty-two"),
            model="fake",
            stop_reason="endTurn",
        )

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    async def main() -> dict[str, Any]:
        with (tmp_path / "stderr.txt").open("w") as errlog:
            # mode="auto" (the default) probes server/discover first; the helper's -32601
            # makes the client fall back to the initialize handshake.
            async with Client(stdio_client(params, errlog=errlog), sampling_callback=sampling) as c:
                tools = await c.list_tools()
                return {
                    "version": c.protocol_version,
                    "legacy": c.session.initialize_result is not None,
                    "server": c.server_info,
                    "tools": {t.name: t for t in tools.tools},
                    "structured": await c.call_tool("echo.structured", {"text": "hi"}),
                    "text": await c.call_tool("echo.text", {"name": "MCP"}),
                    "failed": await c.call_tool("echo.fail", {}),
                    "sampled": await c.call_tool("echo.sample", {"prompt": "6 x 7?"}),
                    "progress": await c.call_tool(
                        "echo.progress", {"steps": 2}, progress_callback=on_progress
                    ),
                }

    got = anyio.run(main)
    methods = [json.loads(line).get("method") for line in sent_log.read_text().splitlines()]
    assert methods[:3] == ["server/discover", "initialize", "notifications/initialized"]
    assert got["version"] == "2025-11-25" and got["legacy"] is True
    assert got["server"].name == "python-echo" and got["server"].version == "1.2.3"
    assert got["tools"]["echo.structured"].input_schema == {
        "type": "object",
        "properties": {"text": {"type": "string"}},
    }
    assert got["structured"].structured_content == {
        "echo": {"text": "hi"},
        "tool": "echo.structured",
    }
    assert got["structured"].is_error is False
    assert got["text"].content[0].text == "hello MCP ✓"
    assert got["failed"].is_error is True
    assert got["failed"].content[0].text == "the file is not there"
    assert got["sampled"].content[0].text == "forty-two" and prompts == ["6 x 7?"]
    assert got["progress"].structured_content == {"steps": 2}
    assert progress == [(1, 2, "step 1"), (2, 2, "step 2")]
