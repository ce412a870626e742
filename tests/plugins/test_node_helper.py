"""The Node.js plugin helper (logomesh/plugins/sdk/node/logomesh-plugin.js).

A raw driver speaks newline-delimited JSON-RPC to the example plugin in data/node_echo, in
the host's role; the official MCP Python SDK client then drives the same plugin.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.conftest import requires
from tests.plugins.driver import TIMEOUT, Message, RawPeer

NODE = shutil.which("node")
pytestmark = requires(NODE is not None, "node is not on PATH")

ROOT = Path(__file__).resolve().parents[2]
SDK_DIR = ROOT / "logomesh" / "plugins" / "sdk" / "node"
PLUGIN_DIR = Path(__file__).resolve().parent / "data" / "node_echo"


def plugin_env() -> dict[str, str]:
    env = {**os.environ, "NODE_PATH": str(SDK_DIR)}
    # Node parses this whole bundle before running anything (about 50 ms per start).
    env.pop("NODE_EXTRA_CA_CERTS", None)
    return env


class RawPlugin(RawPeer):
    """The example plugin, driven by the raw peer; ``request`` waits for the response."""

    client_version = "0.1.0"

    def __init__(self) -> None:
        assert NODE is not None
        super().__init__([NODE, "main.js"], cwd=PLUGIN_DIR, env=plugin_env())

    initialize = RawPeer.handshake

    def request(self, method: str, params: Message | None = None) -> Message:
        """Send a request and return its response (the whole message)."""
        response, _ = self.response(self.send_request(method, params or {}))
        return response

    def call(self, name: str, arguments: Message | None = None) -> Message:
        response = self.request("tools/call", {"name": name, "arguments": arguments or {}})
        result: Message = response["result"]
        return result


@pytest.fixture
def raw() -> Iterator[RawPlugin]:
    plugin = RawPlugin()
    yield plugin
    plugin.close()
    assert plugin.bad_lines == []  # anything but JSON on stdout is a failure


@pytest.fixture
def ready(raw: RawPlugin) -> RawPlugin:
    raw.initialize()
    return raw


def text_of(result: Message) -> str:
    assert len(result["content"]) == 1
    item = result["content"][0]
    assert item["type"] == "text"
    return str(item["text"])


def is_method(method: str) -> Callable[[Message], bool]:
    return lambda m: m.get("method") == method


# --- handshake ---------------------------------------------------------------------------


def test_initialize_answers_the_offered_version(raw: RawPlugin) -> None:
    response = raw.initialize("2025-11-25")
    assert response["jsonrpc"] == "2.0"
    assert response["result"] == {
        "protocolVersion": "2025-11-25",
        "capabilities": {
            "tools": {"listChanged": True},
            "experimental": {"logomesh": {"version": 1}},
        },
        "serverInfo": {"name": "echo", "version": "1.2.3"},
    }
    assert raw.request("ping")["result"] == {}


@pytest.mark.parametrize(
    ("offered", "answered"),
    [
        ("2024-11-05", "2024-11-05"),
        ("2025-03-26", "2025-03-26"),
        ("2025-06-18", "2025-06-18"),
        ("2026-07-28", "2025-11-25"),
        ("1999-01-01", "2025-11-25"),
    ],
)
def test_initialize_falls_back_to_its_latest_version(
    raw: RawPlugin, offered: str, answered: str
) -> None:
    assert raw.initialize(offered)["result"]["protocolVersion"] == answered


def test_unknown_method_malformed_lines_and_eof(raw: RawPlugin) -> None:
    raw.initialize()
    response = raw.request("server/discover")
    assert response["error"]["code"] == -32601
    assert "server/discover" in response["error"]["message"]

    raw.notify("notifications/whatever", {})  # ignored
    raw.write(b'{"jsonrpc": "2.0", "id": 7, "method": \n')
    error = raw.next()
    assert error["id"] is None
    assert error["error"]["code"] == -32700
    raw.write(b"[1, 2]\n")
    assert raw.next()["error"]["code"] == -32600
    assert raw.next_is_pong()  # still serving

    assert raw.close() == 0
    assert raw.inbox.get(timeout=TIMEOUT) is None  # stdout closed, nothing else was written


def test_partial_chunks_crlf_and_multibyte_characters(ready: RawPlugin) -> None:
    line = json.dumps(
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "echo.text", "arguments": {"text": "héllo → 世界"}},
        },
        ensure_ascii=False,
    ).encode()
    line += b"\r\n"
    for i in range(0, len(line), 3):  # three bytes at a time: characters are cut in half
        ready.write(line[i : i + 3])
        time.sleep(0.001)
    # Two messages in one write.
    ready.write(
        b'{"jsonrpc":"2.0","id":2,"method":"ping"}\n{"jsonrpc":"2.0","id":3,"method":"ping"}\n'
    )
    first = ready.expect(lambda m: m.get("id") == 1)
    assert text_of(first["result"]) == "héllo → 世界"
    assert ready.expect(lambda m: m.get("id") == 2)["result"] == {}
    assert ready.expect(lambda m: m.get("id") == 3)["result"] == {}


# --- tools -------------------------------------------------------------------------------


def test_tools_list(ready: RawPlugin) -> None:
    tools = {t["name"]: t for t in ready.request("tools/list")["result"]["tools"]}
    assert "echo.text" in tools
    assert "echo.wait" in tools
    assert tools["echo.text"] == {
        "name": "echo.text",
        "description": "Echo text",
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
    }
    assert tools["echo.data"]["inputSchema"] == {"type": "object"}


def test_text_structured_array_and_empty_results(ready: RawPlugin) -> None:
    result = ready.call("echo.text", {"text": "hi"})
    assert result == {"content": [{"type": "text", "text": "hi"}]}

    result = ready.call("echo.data", {"a": [1, 2], "b": "x"})
    assert result["structuredContent"] == {"echo": {"a": [1, 2], "b": "x"}}
    assert json.loads(text_of(result)) == result["structuredContent"]
    assert "isError" not in result

    # MCP's structuredContent is an object: an array travels as its JSON text only.
    result = ready.call("echo.list")
    assert json.loads(text_of(result)) == [1, "two", {"three": 3}]
    assert "structuredContent" not in result

    assert ready.call("echo.nothing") == {"content": [{"type": "text", "text": ""}]}


def test_no_structured_content_before_2025_06_18(raw: RawPlugin) -> None:
    raw.initialize("2025-03-26")
    result = raw.call("echo.data", {"a": 1})
    assert "structuredContent" not in result
    assert json.loads(text_of(result)) == {"echo": {"a": 1}}


def test_console_log_goes_to_stderr(ready: RawPlugin) -> None:
    ready.call("echo.text", {"text": "x"})
    assert ready.close() == 0
    assert b"this goes to stderr, not stdout" in ready.stderr
    assert all(b"goes to stderr" not in line for line in ready.stdout_lines)


def test_unknown_tool(ready: RawPlugin) -> None:
    response = ready.request("tools/call", {"name": "echo.missing", "arguments": {}})
    assert response["error"]["code"] == -32602
    assert "echo.missing" in response["error"]["message"]


def test_tool_error_and_thrown_error(ready: RawPlugin) -> None:
    result = ready.call("echo.fail", {"message": "no scripts here"})
    assert result == {"content": [{"type": "text", "text": "no scripts here"}], "isError": True}

    result = ready.call("echo.crash")
    assert result["isError"] is True
    assert text_of(result) == "internal error in echo.crash: boom"
    assert ready.call("echo.text", {"text": "still here"})["content"][0]["text"] == "still here"
    assert ready.close() == 0
    assert b"Error: boom" in ready.stderr
    assert b"main.js" in ready.stderr  # the stack


def test_progress_with_a_token(ready: RawPlugin) -> None:
    ready.send_request(
        "tools/call",
        {
            "name": "echo.progress",
            "arguments": {"steps": 3},
            "_meta": {"progressToken": "tok-1"},
        },
        rid=1,
    )
    seen: list[Message] = []
    while True:
        message = ready.next()
        if message.get("id") == 1:
            break
        assert message["method"] == "notifications/progress"
        seen.append(message["params"])
    assert text_of(message["result"]) == "did 3 steps"
    assert seen == [
        {"progressToken": "tok-1", "progress": i, "total": 3, "message": f"step {i}"}
        for i in (1, 2, 3)
    ]


def test_progress_without_a_token_sends_nothing(ready: RawPlugin) -> None:
    ready.send_request("tools/call", {"name": "echo.progress"}, rid=1)
    assert "result" in ready.next()  # the answer is the very next message


def test_cancellation(ready: RawPlugin) -> None:
    ready.send_request("tools/call", {"name": "echo.wait"}, rid="w1")
    waiting = ready.expect(is_method("logomesh/publish"))
    assert waiting["params"] == {"event": "echo.waiting", "data": {"id": "w1"}}
    # Calls run concurrently: others are answered while echo.wait awaits.
    assert text_of(ready.call("echo.text", {"text": "meanwhile"})) == "meanwhile"

    ready.notify("notifications/cancelled", {"requestId": "w1", "reason": "timed out"})
    stopped = ready.next()
    assert stopped["method"] == "logomesh/publish"
    assert stopped["params"] == {
        "event": "echo.cancelled",
        "data": {"cancelled": True, "reason": "timed out"},
    }
    # A cancelled request gets no response: the next message answers the ping.
    assert ready.next_is_pong()


def test_call_answered_by_the_host(ready: RawPlugin) -> None:
    ready.send_request(
        "tools/call",
        {
            "name": "echo.call",
            "arguments": {"command": "todo.list", "arguments": {"x": 1}},
        },
        rid=1,
    )
    request = ready.next()
    assert request["method"] == "logomesh/call"
    assert request["params"] == {"command": "todo.list", "arguments": {"x": 1}}
    outcome = {
        "ok": True,
        "outcome": "ok",
        "data": {"todos": 2},
        "message": "2 todos",
        "error": None,
    }
    ready.reply(request["id"], outcome)
    result = ready.next()
    assert result["id"] == 1
    assert result["result"]["structuredContent"] == {"got": outcome}


def test_call_rejected_by_the_host(ready: RawPlugin) -> None:
    ready.send_request(
        "tools/call", {"name": "echo.call", "arguments": {"command": "shell.run"}}, rid=1
    )
    request = ready.next()
    assert request["params"] == {"command": "shell.run", "arguments": {}}
    message = "permission denied: the manifest must request permissions.call 'shell.run'"
    ready.reply_error(request["id"], -32001, message)
    result = ready.next()["result"]
    assert result == {"content": [{"type": "text", "text": message}], "isError": True}


def test_sample_answered_by_the_host(ready: RawPlugin) -> None:
    ready.send_request(
        "tools/call", {"name": "echo.sample", "arguments": {"prompt": "say hi"}}, rid=1
    )
    request = ready.next()
    assert request["method"] == "sampling/createMessage"
    assert request["params"] == {
        "messages": [{"role": "user", "content": {"type": "text", "text": "say hi"}}],
        "maxTokens": 16,
        "systemPrompt": "be brief",
        "temperature": 0,
    }
    ready.reply(
        request["id"],
        {
            "role": "assistant",
            "content": {"type": "text", "text": "hi"},
            "model": "gemma-3-270m",
            "stopReason": "endTurn",
        },
    )
    assert text_of(ready.next()["result"]) == "model said: hi"


def test_cancelling_a_call_abandons_its_host_request(ready: RawPlugin) -> None:
    ready.send_request(
        "tools/call", {"name": "echo.call", "arguments": {"command": "slow.thing"}}, rid=1
    )
    request = ready.next()
    assert request["method"] == "logomesh/call"
    ready.notify("notifications/cancelled", {"requestId": 1})
    cancelled = ready.next()
    assert cancelled["method"] == "notifications/cancelled"
    assert cancelled["params"]["requestId"] == request["id"]
    # A late answer is dropped; no response for the cancelled call.
    ready.reply(request["id"], {"ok": True})
    assert ready.next_is_pong()


def test_event_delivery(ready: RawPlugin) -> None:
    ready.notify(
        "logomesh/event", {"event": "build.finished", "data": {"ok": True}, "source": "builder"}
    )
    published = ready.next()
    assert published == {
        "jsonrpc": "2.0",
        "method": "logomesh/publish",
        "params": {"event": "echo.seen", "data": {"data": {"ok": True}, "source": "builder"}},
    }
    # An event with no handler is ignored.
    ready.notify("logomesh/event", {"event": "x.y", "data": {}, "source": "s"})
    assert ready.next_is_pong()


def test_log_and_tools_changed(ready: RawPlugin) -> None:
    ready.send_request(
        "tools/call",
        {"name": "echo.log", "arguments": {"level": "warning", "text": "careful"}},
        rid=1,
    )
    log = ready.next()
    assert log["method"] == "notifications/message"
    assert log["params"] == {"level": "warning", "logger": "echo", "data": "careful"}
    ready.next()

    result = ready.call("echo.log", {"level": "loud", "text": "x"})  # not an MCP level
    assert result["isError"] is True
    assert "unknown log level" in text_of(result)

    ready.send_request("tools/call", {"name": "echo.grow"}, rid=2)
    assert ready.next() == {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}
    assert text_of(ready.next()["result"]) == "grown"
    names = {t["name"] for t in ready.request("tools/list")["result"]["tools"]}
    assert "echo.extra" in names
    assert text_of(ready.call("echo.extra")) == "extra"


def test_call_timeout_abandons_the_request(ready: RawPlugin) -> None:
    ready.send_request(
        "tools/call",
        {"name": "echo.call", "arguments": {"command": "slow.thing", "timeout": 0.2}},
        rid=1,
    )
    request = ready.next()
    assert request["method"] == "logomesh/call"
    cancelled = ready.next()
    assert cancelled["method"] == "notifications/cancelled"
    assert cancelled["params"]["requestId"] == request["id"]
    result = ready.next()
    assert result["id"] == 1
    assert result["result"]["isError"] is True
    assert text_of(result["result"]) == "logomesh/call timed out after 0.2 s"


def test_async_event_handler_calls_the_host(ready: RawPlugin) -> None:
    ready.notify("logomesh/event", {"event": "ask.host", "data": {"q": 1}, "source": "other"})
    ready.notify("logomesh/event", {"event": "build.finished", "data": None, "source": "builder"})
    request = ready.next()
    assert request["method"] == "logomesh/call"
    assert request["params"] == {"command": "host.answer", "arguments": {"q": 1}}
    # Events are handled one at a time: build.finished waits for ask.host to finish.
    assert ready.inbox.empty()
    ready.reply(request["id"], {"ok": True, "data": 42})
    assert ready.next()["params"] == {"event": "echo.answered", "data": {"ok": True, "data": 42}}
    assert ready.next()["params"] == {
        "event": "echo.seen",
        "data": {"data": {}, "source": "builder"},
    }


def test_invalid_requests(ready: RawPlugin) -> None:
    response = ready.request("tools/call", {"name": "echo.text", "arguments": [1]})
    assert response["error"]["code"] == -32602
    ready.send({"jsonrpc": "2.0", "id": 5, "method": "ping", "params": [1]})
    assert ready.next() == {
        "jsonrpc": "2.0",
        "id": 5,
        "error": {"code": -32602, "message": "Invalid params: expected an object"},
    }
    ready.send({"jsonrpc": "2.0", "id": True, "method": "ping"})
    assert ready.next()["error"]["code"] == -32600
    ready.send({"jsonrpc": "2.0", "id": 6})
    assert ready.next()["error"]["code"] == -32600
    assert ready.next_is_pong()


def test_eof_lets_running_tools_finish(ready: RawPlugin) -> None:
    ready.send_request("tools/call", {"name": "echo.wait"}, rid=9)
    assert ready.next()["params"]["event"] == "echo.waiting"
    started = time.monotonic()
    assert ready.proc.stdin is not None
    ready.proc.stdin.close()
    stopped = ready.next()
    assert stopped["params"] == {
        "event": "echo.cancelled",
        "data": {"cancelled": True, "reason": "the host closed the connection"},
    }
    # Not cancelled by the host, so the call is still answered before the plugin exits.
    assert ready.next() == {
        "jsonrpc": "2.0",
        "id": 9,
        "result": {"content": [{"type": "text", "text": "stopped"}]},
    }
    assert ready.close() == 0
    assert time.monotonic() - started < 0.9  # no need to wait out the grace period


def test_eof_grace_period_ends_a_stubborn_tool(ready: RawPlugin) -> None:
    ready.send_request("tools/call", {"name": "echo.sleep"}, rid=9)
    assert ready.next_is_pong()  # the unawaited rejection did not end the plugin
    started = time.monotonic()
    assert ready.proc.stdin is not None
    ready.proc.stdin.close()
    assert ready.close() == 0
    assert 0.9 < time.monotonic() - started < 3
    assert ready.inbox.get(timeout=TIMEOUT) is None  # no answer: it was cut off
    assert b"a promise nobody awaits" in ready.stderr


# --- the official MCP Python SDK as the client --------------------------------------------


def test_official_python_sdk_client(tmp_path: Path) -> None:
    import mcp_types as types
    from mcp.client import Client
    from mcp.client.stdio import StdioServerParameters, stdio_client

    assert NODE is not None
    server = StdioServerParameters(
        command=NODE,
        args=[str(PLUGIN_DIR / "main.js")],
        env={"NODE_PATH": str(SDK_DIR)},
    )
    updates: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    async def sampling(
        context: Any, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        prompt = params.messages[0].content
        assert isinstance(prompt, types.TextContent)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=prompt.text.upper()),
            model="fake",
            stop_reason="endTurn",
        )

    def first_text(result: types.CallToolResult) -> str:
        assert isinstance(result.content[0], types.TextContent)
        return result.content[0].text

    async def main() -> None:
        with (tmp_path / "stderr.log").open("w") as errlog:
            # mode="auto" (the default) probes server/discover first; the plugin's -32601
            # sends it back to the initialize handshake.
            async with Client(
                stdio_client(server, errlog=errlog), sampling_callback=sampling
            ) as client:
                assert client.session.initialize_result is not None
                assert client.protocol_version == "2025-11-25"
                assert client.server_info is not None
                assert client.server_info.name == "echo"

                tools = {t.name: t for t in (await client.list_tools()).tools}
                assert tools["echo.text"].input_schema["properties"] == {"text": {"type": "string"}}

                result = await client.call_tool("echo.text", {"text": "from python"})
                assert not result.is_error
                assert first_text(result) == "from python"

                result = await client.call_tool("echo.data", {"n": 5})
                assert result.structured_content == {"echo": {"n": 5}}

                result = await client.call_tool("echo.fail", {"message": "nope"})
                assert result.is_error

                result = await client.call_tool(
                    "echo.progress", {"steps": 2}, progress_callback=on_progress
                )
                assert first_text(result) == "did 2 steps"

                result = await client.call_tool("echo.sample", {"prompt": "hello"})
                assert first_text(result) == "model said: HELLO"

    anyio.run(main)
    assert updates == [(1, 2, "step 1"), (2, 2, "step 2")]
