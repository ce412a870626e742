"""How :class:`HttpConnection` fails against a remote MCP server that misbehaves.

Each server here is a loopback stand-in for a remote one (tests/plugins/http_standin.py),
because a real server shows these faults only by accident: it is scripted to be down, slow,
to refuse credentials, to forget the session, to fail, to drop or resume its SSE stream, to
change its session id or to send 20 MB. Each case checks the message a person would see:
it names the URL and the fix, never a credential, and fails only what it must.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import pytest

from logomesh.errors import (
    PluginProtocolError,
    RemoteAuthError,
    RemoteServerError,
    RemoteSessionExpiredError,
    RemoteUnreachableError,
)
from logomesh.plugins.connection import RpcError
from tests.plugins.http_client import TOKEN, call, connected, initialize
from tests.plugins.http_standin import (
    INITIALIZED,
    JSON,
    SSE,
    Reply,
    Seen,
    StandIn,
    json_reply,
    result,
    sse,
    sse_reply,
)

pytestmark = pytest.mark.timeout(60)


def mcp(on_call: Any, session: str = "session-1") -> Any:
    """A handler: a normal initialize (with a session id), 202 for what is not a request,
    and ``on_call(seen)`` for everything else."""

    def handle(seen: Seen) -> Reply:
        if seen.rpc_method == "initialize":
            return json_reply(result(seen.body["id"], INITIALIZED), **{"Mcp-Session-Id": session})
        if seen.method == "GET":
            return Reply(405)
        if seen.method == "DELETE" or "id" not in (seen.body or {}) or "method" not in seen.body:
            return Reply(202)
        reply: Reply = on_call(seen)
        return reply

    return handle


def no_secret(*texts: object) -> None:
    for text in texts:
        assert TOKEN not in str(text)


# -- no connection -------------------------------------------------------------------------


def test_a_server_that_is_down_is_named_with_its_url_and_the_fix() -> None:
    """Loopback stand-in: a port nothing listens on, as for a remote server that is down."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    url = f"http://127.0.0.1:{port}/mcp"
    with connected(url) as (connection, _):
        with pytest.raises(RemoteUnreachableError) as caught:
            initialize(connection)
        message = caught.value.user_message
        assert url in message and "connection refused" in message
        assert "is the server running" in message and "[[plugins.mcp]]" in message
        assert not connection.closed  # it may come back: only the call failed
        no_secret(message)


def test_a_secret_in_the_url_query_is_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    """Loopback stand-in for a remote server that takes its key in the query and answers 500 quoting
    the URL it was asked for."""

    def handle(seen: Seen) -> Reply:
        return Reply(500, {"Content-Type": "text/plain"}, f"failed: {seen.path}".encode())

    caplog.set_level(logging.DEBUG)  # every logger: httpx logs each URL at INFO
    with StandIn(handle) as server:
        with connected(f"{server.url}?key={TOKEN}", headers={}) as (connection, _):
            with pytest.raises(RemoteServerError) as caught:
                initialize(connection)
            assert connection.url == server.url
        assert server.seen[0].path == f"/mcp?key={TOKEN}"  # it was sent
    assert "HTTP 500" in caught.value.user_message and "[redacted]" in caught.value.user_message
    no_secret(caught.value.user_message, caplog.text)


def test_a_server_that_accepts_no_connection_times_out_at_connect_timeout_s() -> None:
    """Loopback stand-in: a socket whose accept queue is full, so the client's SYN gets no
    answer: what a firewalled or overloaded remote host looks like."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    try:
        with connected(f"http://127.0.0.1:{port}/mcp", connect_timeout_s=0.5) as (conn, _):
            with pytest.raises(RemoteUnreachableError) as caught:
                initialize(conn)  # call()'s own 10 s wait would fail first if it hung
            assert "no connection within 0.5 s" in caught.value.user_message
    finally:
        for sock in (*fillers, listener):
            sock.close()


def test_a_slow_call_times_out_for_its_caller_and_blocks_no_other_call() -> None:
    """Loopback stand-in for a remote server whose tool takes 3 s while another answers at once."""

    def on_call(seen: Seen) -> Reply:
        request_id = seen.body["id"]
        if seen.body["params"].get("name") == "slow":
            return Reply(200, {"Content-Type": SSE}, [sse({"id": "1", "data": ""}), 3.0])
        return sse_reply({"id": "2", "data": result(request_id, {"fast": True})})

    with StandIn(mcp(on_call)) as server, connected(server.url) as (connection, _):
        initialize(connection)
        slow_id, slow = connection.request("tools/call", {"name": "slow"})
        # Answered within its own wait while the slow call is pending: not queued behind it.
        assert call(connection, "tools/call", {"name": "fast"}, timeout=2) == {"fast": True}
        with pytest.raises(FutureTimeout):
            slow.result(timeout=0.5)  # the caller's own per-call timeout
        connection.forget(slow_id)
        assert call(connection, "tools/call", {"name": "fast"}, timeout=2) == {"fast": True}


# -- HTTP statuses -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_say_how_to_set_the_header(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Loopback stand-in for a remote server that refuses the token (and echoes it back in
    its body)."""

    def handle(seen: Seen) -> Reply:
        body = f"invalid token: {seen.headers.get('authorization')}".encode()
        return Reply(status, {"Content-Type": "text/plain"}, body)

    caplog.set_level(logging.DEBUG)
    with StandIn(handle) as server, connected(server.url) as (connection, _):
        with pytest.raises(RemoteAuthError) as caught:
            initialize(connection)
        assert server.seen[0].headers["authorization"] == f"Bearer {TOKEN}"  # it was sent
    message = caught.value.user_message
    assert f"HTTP {status}" in message and server.url in message
    assert "headers = { Authorization = " in message and "${env:NAME}" in message
    assert "[[plugins.mcp]]" in message and "sent headers: Authorization" in message
    no_secret(message, caught.value, caplog.text)


def test_404_before_a_session_means_a_wrong_url() -> None:
    """Loopback stand-in for a remote web server with no MCP endpoint at the configured path."""
    not_found = Reply(404, {"Content-Type": "text/html"}, b"<h1>Not Found</h1>")
    with StandIn(lambda seen: not_found) as server, connected(server.url) as (connection, _):
        with pytest.raises(RemoteServerError) as caught:
            initialize(connection)
        assert not connection.closed
    assert type(caught.value) is RemoteServerError
    message = caught.value.user_message
    assert "HTTP 404" in message and "the url is wrong" in message and server.url in message


def test_404_for_the_session_is_a_distinct_expiry_that_closes_the_connection() -> None:
    """Loopback stand-in for a remote server that ended the session (restarted, or expired it)."""
    with StandIn(mcp(lambda seen: Reply(404))) as server, connected(server.url) as (conn, rec):
        initialize(conn)
        with pytest.raises(RemoteSessionExpiredError) as caught:
            call(conn, "tools/list")
        assert rec.closed_event.wait(2)
        assert conn.closed and isinstance(conn.close_error, RemoteSessionExpiredError)
        assert server.of("tools/list")[0].headers["mcp-session-id"] == "session-1"
        with pytest.raises(ConnectionError):
            call(conn, "tools/list")
    assert "ended the session" in caught.value.user_message
    assert "initialize again" in caught.value.user_message
    assert rec.closed == [conn.close_reason] and "ended the session" in str(conn.close_reason)


def test_500_shows_an_excerpt_and_the_connection_stays_usable() -> None:
    """Loopback stand-in for a remote server whose handler crashed once (and leaks the token
    in it)."""
    failures = iter([True])

    def on_call(seen: Seen) -> Reply:
        if next(failures, False):
            body = f"Traceback: KeyError: 'rows' (auth={TOKEN})\n" + "x" * 5000
            return Reply(500, {"Content-Type": "text/plain"}, body.encode())
        return json_reply(result(seen.body["id"], {"tools": []}))

    with StandIn(mcp(on_call)) as server, connected(server.url) as (connection, _):
        initialize(connection)
        with pytest.raises(RemoteServerError) as caught:
            call(connection, "tools/list")
        assert call(connection, "tools/list") == {"tools": []}
    message = caught.value.user_message
    assert "HTTP 500" in message and "KeyError: 'rows'" in message and "[redacted]" in message
    assert len(message) < 800 and "its logs" in message
    no_secret(message)


# -- SSE streams ---------------------------------------------------------------------------


def test_a_dropped_stream_is_resumed_with_last_event_id_after_retry() -> None:
    """Loopback stand-in for a remote server that closes the POST's SSE stream after event
    ``e-7`` (as the 2025-11-25 spec lets it, to poll) and replays the rest to a GET with
    Last-Event-ID."""
    calls: list[Any] = []

    def on_call(seen: Seen) -> Reply:
        calls.append(seen.body["id"])
        progress = {"jsonrpc": "2.0", "method": "notifications/progress"}
        progress["params"] = {"progressToken": "t", "progress": 1}
        return sse_reply({"id": "e-6", "data": ""}, {"id": "e-7", "retry": 400, "data": progress})

    def handle(seen: Seen) -> Reply:
        if seen.method == "GET" and seen.headers.get("last-event-id") == "e-7":
            return sse_reply({"id": "e-8", "data": result(calls[0], {"resumed": True})})
        return mcp(on_call)(seen)

    with StandIn(handle) as server, connected(server.url) as (connection, rec):
        initialize(connection)
        assert call(connection, "tools/call", {"name": "long"}) == {"resumed": True}
        [resume] = [s for s in server.seen if "last-event-id" in s.headers]
        post = server.of("tools/call")[0]
        assert resume.method == "GET" and resume.headers["last-event-id"] == "e-7"
        assert resume.headers["mcp-session-id"] == "session-1"
        assert resume.headers["mcp-protocol-version"] == "2025-11-25"
        assert resume.at - post.at >= 0.4  # it waited the server's retry (400 ms)
        assert ("notifications/progress", {"progressToken": "t", "progress": 1}) in rec.told


def test_a_dropped_stream_without_an_event_id_fails_only_that_call() -> None:
    """Loopback stand-in for a remote server that crashes mid-answer, having sent no event id."""
    first = iter([True])

    def on_call(seen: Seen) -> Reply:
        if next(first, False):
            return sse_reply({"data": {"jsonrpc": "2.0", "method": "notifications/message"}})
        return json_reply(result(seen.body["id"], {"tools": []}))

    with StandIn(mcp(on_call)) as server, connected(server.url) as (connection, _):
        initialize(connection)
        with pytest.raises(RemoteServerError) as caught:
            call(connection, "tools/call", {"name": "x"})
        assert call(connection, "tools/list") == {"tools": []}  # the connection is fine
    message = caught.value.user_message
    assert "closed the event stream before it answered tools/call" in message
    assert "no event id to resume from" in message and server.url in message


def test_a_stream_the_server_will_not_resume_fails_with_its_answer() -> None:
    """Loopback stand-in for a remote server that drops the stream after an id but answers
    405 to GET."""

    def on_call(seen: Seen) -> Reply:
        return sse_reply({"id": "a1", "retry": 50, "data": ""})

    with StandIn(mcp(on_call)) as server, connected(server.url) as (connection, _):
        initialize(connection)
        with pytest.raises(RemoteServerError) as caught:
            call(connection, "tools/call", {"name": "x"})
    message = caught.value.user_message
    assert "could not resume it" in message and "HTTP 405" in message
    assert [s.headers.get("last-event-id") for s in server.seen if s.method == "GET"][-1] == "a1"


def test_resuming_is_bounded_when_every_resumed_stream_ends_empty() -> None:
    """Loopback stand-in for a remote server that accepts each resume but never sends the answer."""

    def handle(seen: Seen) -> Reply:
        if seen.method == "GET" and "last-event-id" in seen.headers:
            return Reply(200, {"Content-Type": SSE}, b": nothing new\n\n")
        return mcp(lambda s: sse_reply({"id": "b1", "retry": 20, "data": ""}))(seen)

    with StandIn(handle) as server, connected(server.url, resume_attempts=3) as (conn, _):
        initialize(conn)
        with pytest.raises(RemoteServerError) as caught:
            call(conn, "tools/call", {"name": "x"})
    assert len([s for s in server.seen if "last-event-id" in s.headers]) == 3
    assert "gave up after 3 attempts to resume" in caught.value.user_message


# -- protocol breaks -----------------------------------------------------------------------


def test_a_changed_session_id_is_refused_as_a_protocol_error() -> None:
    """Loopback stand-in for a remote server (or something in between) that swaps the session id."""

    def on_call(seen: Seen) -> Reply:
        return json_reply(result(seen.body["id"], {"tools": []}), **{"Mcp-Session-Id": "other"})

    with StandIn(mcp(on_call)) as server, connected(server.url) as (connection, rec):
        initialize(connection)
        with pytest.raises(PluginProtocolError) as caught:
            call(connection, "tools/list")
        assert rec.closed_event.wait(2) and connection.closed
    assert "changed its Mcp-Session-Id" in caught.value.user_message
    assert "session-1" not in caught.value.user_message  # session ids are credentials too
    assert "changed its Mcp-Session-Id" in str(connection.close_reason)


@pytest.mark.parametrize("shape", ["json", "sse"])
def test_a_20_mb_answer_is_cut_off_at_the_limit_and_the_connection_stays(shape: str) -> None:
    """Loopback stand-in for a remote server whose tool returns 20 MB, sent as one JSON body
    (with its length) or streamed as one SSE event; reading stops at ``max_message_bytes``."""
    big = json.dumps(result(2, {"content": [{"type": "text", "text": "x" * 20_000_000}]}))
    big_reply = iter([True])

    def on_call(seen: Seen) -> Reply:
        if not next(big_reply, False):
            return json_reply(result(seen.body["id"], {"tools": []}))
        if shape == "json":
            return Reply(200, {"Content-Type": JSON, "Content-Length": str(len(big))}, big.encode())
        chunks = [f"data: {big}\n\n".encode()[i : i + 65536] for i in range(0, len(big), 65536)]
        return Reply(200, {"Content-Type": SSE}, chunks)

    with (
        StandIn(mcp(on_call)) as server,
        connected(server.url, max_message_bytes=1_000_000) as (conn, _),
    ):
        initialize(conn)
        with pytest.raises(PluginProtocolError) as caught:
            # A bound for a hang, not a speed: building and streaming the 20 MB took >10 s
            # on a loaded CI machine (2.7 s idle).
            call(conn, "tools/call", {"name": "big"}, timeout=60)
        assert call(conn, "tools/list") == {"tools": []}
        assert not conn.closed
        if shape == "sse":
            deadline = time.monotonic() + 5
            while not server.replies[-2].aborted and time.monotonic() < deadline:
                time.sleep(0.05)
            assert server.replies[-2].aborted  # the client hung up: it did not read 20 MB
    message = caught.value.user_message
    assert "over the 1,000,000-byte limit" in message and "plugins.max_message_bytes" in message


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        (JSON, b"<html>oops</html>", "is not JSON"),
        (JSON, b'{"ok": true}', "not a JSON-RPC 2.0 message"),
        ("text/html", b"<html>login</html>", "not application/json or text/event-stream"),
        (SSE, b"data: {not json\n\n", "is not JSON"),
    ],
)
def test_a_body_that_is_not_json_rpc_fails_that_call(
    content_type: str, body: bytes, expected: str
) -> None:
    """Loopback stand-in for a remote server (or a proxy or login page in front of it)
    answering junk."""
    junk = iter([True])

    def on_call(seen: Seen) -> Reply:
        if next(junk, False):
            return Reply(200, {"Content-Type": content_type}, body)
        return json_reply(result(seen.body["id"], {"tools": []}))

    with StandIn(mcp(on_call)) as server, connected(server.url) as (connection, _):
        initialize(connection)
        with pytest.raises(PluginProtocolError) as caught:
            call(connection, "tools/list")
        assert call(connection, "tools/list") == {"tools": []}
    assert expected in caught.value.user_message and server.url in caught.value.user_message


# -- the rest of the exchange --------------------------------------------------------------


def test_a_server_request_on_the_stream_is_answered_and_an_rpc_error_is_sent_back() -> None:
    """Loopback stand-in for a remote server that asks the client for roots mid-call and
    waits for the answer (an error: the handler raises RpcError) before it finishes the
    call."""
    answered = threading.Event()

    def on_call(seen: Seen) -> Reply:
        ask = {"jsonrpc": "2.0", "id": "srv-1", "method": "roots/list", "params": {}}
        done = result(seen.body["id"], {"content": [], "asked": True})

        def body() -> Iterator[bytes]:
            yield sse({"data": ask})
            assert answered.wait(5)  # only then does the call finish
            yield sse({"data": done})

        return Reply(200, {"Content-Type": SSE}, body())

    def handle(seen: Seen) -> Reply:
        if isinstance(seen.body, dict) and seen.body.get("id") == "srv-1":
            answered.set()
        return mcp(on_call)(seen)

    with StandIn(handle) as server, connected(server.url) as (connection, rec):
        rec.answer = lambda method, params: (_ for _ in ()).throw(RpcError(-32601, "no roots"))
        initialize(connection)
        assert call(connection, "tools/call", {"name": "x"}) == {"content": [], "asked": True}
        [answer] = [s for s in server.seen if (s.body or {}).get("id") == "srv-1"]
    assert rec.asked == [("roots/list", {})]
    assert answer.body == {
        "jsonrpc": "2.0",
        "id": "srv-1",
        "error": {"code": -32601, "message": "no roots"},
    }
    assert answer.headers["mcp-session-id"] == "session-1"


def test_close_deletes_the_session_and_fails_what_is_pending() -> None:
    """Loopback stand-in for a remote server that never answers a call, then sees the DELETE."""

    def on_call(seen: Seen) -> Reply:
        return Reply(200, {"Content-Type": SSE}, [sse({"id": "1", "data": ""}), 2.0])

    with StandIn(mcp(on_call)) as server, connected(server.url) as (connection, rec):
        initialize(connection)
        _, pending = connection.request("tools/call", {"name": "x"})
        time.sleep(0.2)
        connection.close()
        with pytest.raises(ConnectionError):
            pending.result(timeout=2)
        [delete] = [s for s in server.seen if s.method == "DELETE"]
        assert delete.headers["mcp-session-id"] == "session-1"
        assert rec.closed == [None] and connection.closed


def test_notifications_reach_the_server_before_a_later_request() -> None:
    """Loopback stand-in for a remote server slow to accept ``notifications/initialized``;
    the request queued after it must still arrive after it (the spec's order of
    initialization)."""

    def handle(seen: Seen) -> Reply:
        if seen.rpc_method == "notifications/initialized":
            time.sleep(0.3)
        return mcp(lambda s: json_reply(result(s.body["id"], {"tools": []})))(seen)

    with StandIn(handle) as server, connected(server.url) as (connection, _):
        initialize(connection)  # queues notifications/initialized, does not wait for it
        assert call(connection, "tools/list") == {"tools": []}
        posts = [s for s in server.seen if s.method == "POST"]
    assert [s.rpc_method for s in posts] == [
        "initialize",
        "notifications/initialized",
        "tools/list",
    ]
    assert posts[2].at - posts[1].at >= 0.3  # sent once the notification was accepted
    assert "mcp-protocol-version" not in posts[0].headers
    assert all(s.headers["mcp-protocol-version"] == "2025-11-25" for s in posts[1:])
    assert all(s.headers["accept"] == "application/json, text/event-stream" for s in posts)


def test_the_get_stream_brings_what_the_server_sends_unasked() -> None:
    """Loopback stand-in for a remote server that announces a changed tool list on its GET
    stream."""
    changed = {"jsonrpc": "2.0", "method": "notifications/tools/list_changed"}

    def handle(seen: Seen) -> Reply:
        if seen.method == "GET":
            return Reply(200, {"Content-Type": SSE}, [sse({"id": "g1", "data": changed}), 5.0])
        return mcp(lambda s: Reply(500))(seen)

    with StandIn(handle) as server, connected(server.url) as (connection, rec):
        initialize(connection)
        deadline = time.monotonic() + 5
        while not rec.told and time.monotonic() < deadline:
            time.sleep(0.05)
        [get] = [s for s in server.seen if s.method == "GET"]
    assert rec.told == [("notifications/tools/list_changed", {})]
    assert get.headers["mcp-session-id"] == "session-1"
    assert get.headers["accept"] == "text/event-stream"


def test_a_json_rpc_error_answer_is_an_rpc_error() -> None:
    """Loopback stand-in for a remote server that refuses a call in JSON-RPC (not in HTTP)."""

    def on_call(seen: Seen) -> Reply:
        error = {"code": -32602, "message": f"bad arguments for {TOKEN}"}
        return json_reply({"jsonrpc": "2.0", "id": seen.body["id"], "error": error})

    with StandIn(mcp(on_call)) as server, connected(server.url) as (connection, _):
        initialize(connection)
        with pytest.raises(RpcError) as caught:
            call(connection, "tools/call", {"name": "x"})
    assert caught.value.code == -32602
    assert caught.value.message == "bad arguments for [redacted]"


def test_a_sessionless_server_without_a_get_stream_is_no_fault(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Loopback stand-in for a remote server with no session that answers the GET stream
    with 404 (as the conformance suite's mock server does) rather than 405."""

    def handle(seen: Seen) -> Reply:
        if seen.method == "GET":
            return Reply(404)
        if seen.rpc_method == "initialize":
            return json_reply(result(seen.body["id"], INITIALIZED))
        if "id" not in seen.body:
            return Reply(202)
        return json_reply(result(seen.body["id"], {"tools": []}))

    caplog.set_level(logging.DEBUG)
    with StandIn(handle) as server, connected(server.url) as (connection, _):
        initialize(connection)
        assert call(connection, "tools/list") == {"tools": []}
        deadline = time.monotonic() + 5
        while not any(s.method == "GET" for s in server.seen) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.1)
        assert not connection.closed
    assert [s.method for s in server.seen].count("GET") == 1  # asked once, then left alone
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_session_that_ends_while_a_stream_is_resumed_closes_the_connection() -> None:
    """Loopback stand-in for a remote server that restarts mid-call: the POST's stream
    drops after an event id, and the resuming GET gets 404 for the session."""

    def handle(seen: Seen) -> Reply:
        if seen.method == "GET" and "last-event-id" in seen.headers:
            return Reply(404)
        return mcp(lambda s: sse_reply({"id": "c1", "retry": 10, "data": ""}))(seen)

    with StandIn(handle) as server, connected(server.url) as (connection, rec):
        initialize(connection)
        with pytest.raises(RemoteSessionExpiredError) as caught:
            call(connection, "tools/call", {"name": "x"})
        assert rec.closed_event.wait(2) and connection.closed
    assert "ended the session" in caught.value.user_message
    assert isinstance(connection.close_error, RemoteSessionExpiredError)
