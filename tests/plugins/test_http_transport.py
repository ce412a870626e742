""":class:`HttpConnection` against the official MCP Python SDK server over Streamable HTTP.

The server (data/mcp_sdk_http_server/server.py) is the SDK's own ``MCPServer`` under uvicorn
on loopback, in a subprocess, with an event store so its streams can be resumed. The
connection is driven directly, as the host will drive it: initialize (the session id, the
agreed protocol version), tools/list, tools/call with progress, a sampling request from
the server answered by the client, a stream the server drops and the client resumes, and
DELETE on close. The failures are in test_http_failures.py.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.plugins.http_client import call, connected, initialize

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

SERVER = Path(__file__).resolve().parent / "data" / "mcp_sdk_http_server" / "server.py"


@pytest.fixture(scope="module")
def sdk_url() -> Iterator[str]:
    yield from serve()


@pytest.fixture(scope="module")
def sdk_json_url() -> Iterator[str]:
    yield from serve("--json-stateless")


def serve(*options: str) -> Iterator[str]:
    """Run the SDK server; yield its URL once it answers."""
    process = subprocess.Popen(
        [sys.executable, str(SERVER), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()  # "PORT <n>" once it is bound
    if not line.startswith("PORT "):
        process.kill()
        pytest.fail(f"the SDK server did not start: {line!r} {process.communicate()[1][-2000:]}")
    port = int(line.split()[1])
    url = f"http://127.0.0.1:{port}/mcp"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # uvicorn listens a moment after the port is bound
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=10)


def test_initialize_agrees_a_session_and_a_version(sdk_url: str) -> None:
    with connected(sdk_url) as (connection, _):
        answer = initialize(connection)
        assert answer["protocolVersion"] == "2025-11-25"
        assert answer["serverInfo"] == {"name": "sdk-http-server", "version": "1.0.0"}
        assert connection.session_id  # the SDK gives one; it is sent from now on
        listing = call(connection, "tools/list")
        assert {tool["name"] for tool in listing["tools"]} == {"add", "count", "ask", "poll"}
        added = call(connection, "tools/call", {"name": "add", "arguments": {"a": 2, "b": 40}})
        assert added["structuredContent"] == {"result": 42}


def test_progress_notifications_arrive_before_the_result(sdk_url: str) -> None:
    with connected(sdk_url) as (connection, rec):
        initialize(connection)
        params = {"name": "count", "arguments": {"to": 3}, "_meta": {"progressToken": "p-1"}}
        counted = call(connection, "tools/call", params)
        assert counted["structuredContent"] == {"counted": 3}
        progress = [p for method, p in rec.told if method == "notifications/progress"]
        assert [(p["progressToken"], p["progress"], p["total"]) for p in progress] == [
            ("p-1", 1, 3),
            ("p-1", 2, 3),
            ("p-1", 3, 3),
        ]
        assert progress[-1]["message"] == "counted 3"


def test_a_sampling_request_from_the_server_is_answered_by_the_client(sdk_url: str) -> None:
    def answer(method: str, params: dict[str, Any]) -> Any:
        assert threading.current_thread() is not threading.main_thread()
        question = params["messages"][0]["content"]["text"]
        return {
            "role": "assistant",
            "model": "tests",
            "content": {"type": "text", "text": f"42 ({question})"},
        }

    with connected(sdk_url) as (connection, rec):
        rec.answer = answer
        initialize(connection)
        asked = call(connection, "tools/call", {"name": "ask", "arguments": {"question": "why?"}})
    assert [method for method, _ in rec.asked] == ["sampling/createMessage"]
    assert asked["content"][0]["text"] == "the model said: 42 (why?)"


def test_a_stream_the_server_closes_is_resumed_after_its_retry(sdk_url: str) -> None:
    """The SDK's ``close_sse_stream`` drops the POST's stream mid-call (the 2025-11-25 polling
    pattern); the rest comes on a GET with Last-Event-ID, 300 ms (its retry) later."""
    with connected(sdk_url) as (connection, rec):
        initialize(connection)
        started = time.monotonic()
        params = {"name": "poll", "arguments": {}, "_meta": {"progressToken": "p-2"}}
        polled = call(connection, "tools/call", params)
        assert time.monotonic() - started >= 0.3
    assert polled["content"][0]["text"] == "finished after a reconnect"
    messages = [p.get("message") for method, p in rec.told if method == "notifications/progress"]
    assert messages == ["before the drop", "after the drop"]


def test_calls_run_side_by_side(sdk_url: str) -> None:
    with connected(sdk_url) as (connection, _):
        initialize(connection)
        futures = [
            connection.request("tools/call", {"name": "add", "arguments": {"a": n, "b": 1}})[1]
            for n in range(8)
        ]
        assert [f.result(timeout=10)["structuredContent"]["result"] for f in futures] == list(
            range(1, 9)
        )


def test_close_deletes_the_session_on_the_server(sdk_url: str) -> None:
    with connected(sdk_url) as (connection, rec):
        initialize(connection)
        session = connection.session_id
        connection.close()
        assert rec.closed == [None]
    assert session is not None
    gone = httpx.post(
        sdk_url,
        json={"jsonrpc": "2.0", "id": 9, "method": "tools/list"},
        headers={
            "Accept": "application/json, text/event-stream",
            "Mcp-Session-Id": session,
            "MCP-Protocol-Version": "2025-11-25",
        },
    )
    assert gone.status_code == 404  # the SDK forgot the session: DELETE reached it


def test_a_stateless_server_answering_in_json_works_too(sdk_json_url: str) -> None:
    """The other shape the spec allows: one JSON body per POST, and no session id."""
    with connected(sdk_json_url) as (connection, rec):
        answer = initialize(connection)
        assert answer["protocolVersion"] == "2025-11-25" and connection.session_id is None
        assert len(call(connection, "tools/list")["tools"]) == 4
        added = call(connection, "tools/call", {"name": "add", "arguments": {"a": 1, "b": 2}})
        assert added["structuredContent"] == {"result": 3}
        connection.close()
    assert rec.closed == [None]
