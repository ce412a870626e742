"""Remote MCP servers mounted by URL (``[[plugins.mcp]] url = ...``), through ``Engine.execute``:
the same commands, argument validation, audit, progress, timeouts and cancellation as a
local server, with the ``network`` permission implied and shown, and headers read from the
environment and never written to the audit trail or the logs.

The real server is the official SDK's over Streamable HTTP on loopback (the ``sdk_url``
fixture of test_http_transport.py). The failures a real server shows only by accident (an
expired session, a slow answer, refused credentials) come from the loopback stand-in of
http_standin.py, which speaks just enough of the protocol to produce them.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from benchmarks import mcp_servers
from logomesh.audit.query import AuditFilter
from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest
from logomesh.engine import Engine
from logomesh.events import CommandProgress
from tests.conftest import require_or_skip
from tests.plugins.conftest import ME, run_command, wait_until
from tests.plugins.http_standin import INITIALIZED, Reply, Seen, StandIn, json_reply, result
from tests.plugins.test_http_transport import sdk_url  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

MakeEngine = Callable[..., Engine]
TOKEN = "remote-t0ken-never-shown"


def remote(url: str, **overrides: Any) -> dict[str, Any]:
    return {"name": "remote", "url": url, "expose": "all", "default_risk": "read", **overrides}


def test_a_remote_server_serves_commands_like_a_local_one(
    plugin_engine: MakeEngine,
    sdk_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("REMOTE_TOKEN", TOKEN)
    headers = {"Authorization": "Bearer ${env:REMOTE_TOKEN}"}
    engine = plugin_engine(mcp=[remote(sdk_url, headers=headers)])

    rows = {row["name"]: row for row in run_command(engine, "plugin.list").data}
    row = rows["remote"]
    assert row["state"] == "active", row["error"]
    assert row["transport"] == "http" and row["url"] == sdk_url
    assert row["network"] is True  # implied by the url, and shown
    assert row["protocol_version"] == "2025-11-25" and row["pid"] is None

    added = run_command(engine, "remote.add", a=2, b=40)
    assert added.ok, added.message
    assert added.data == {"result": 42}
    wrong = run_command(engine, "remote.add", a="two", b=40)
    assert wrong.error is not None and wrong.error.code == "command.invalid_arguments"
    [record] = engine.audit.store.query(AuditFilter(action="remote.add", outcome="ok"))
    assert record.details["plugin"] == "remote"

    seen: list[CommandProgress] = []
    engine.events.subscribe(CommandProgress, seen.append)
    counted = run_command(engine, "remote.count", to=3)
    assert counted.ok and counted.data == {"counted": 3}
    # Published from the plugin's reader thread, the events reach subscribers on the bus's
    # own loop, in order, but possibly just after the result: wait for them, not for a time.
    deadline = time.monotonic() + 10
    while len(seen) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [e.fraction for e in seen] == [1 / 3, 2 / 3, 1.0]

    # The server drops its stream mid-call; the call resumes with Last-Event-ID and ends.
    polled = run_command(engine, "remote.poll")
    assert polled.ok, polled.message
    assert polled.data == {"result": "finished after a reconnect"}

    everything = str([r.to_dict() for r in engine.audit.store.query(AuditFilter())])
    assert TOKEN not in everything and TOKEN not in caplog.text

    engine.plugins.stop("remote")
    assert not engine.plugins.plugins["remote"].process.running  # type: ignore[union-attr]


def test_a_server_that_is_down_fails_its_command_with_the_url(plugin_engine: MakeEngine) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}/mcp"
    keyed = f"{url}?key=query-secret-value"  # a key in the query is never shown
    engine = plugin_engine(mcp=[remote(keyed, contributes={"commands": [{"name": "add"}]})])
    result_ = run_command(engine, "remote.add", a=1, b=2)
    assert result_.error is not None
    assert url in result_.message and "query-secret-value" not in result_.message
    [record] = engine.audit.store.query(AuditFilter(action="remote.add"))
    assert record.outcome == "error"
    [row] = [r for r in engine.plugins.describe() if r["name"] == "remote"]
    assert row["state"] in ("failed", "disabled") and url in row["error"]
    assert row["url"] == f"{url}?…"
    assert "query-secret-value" not in str(row)


def test_a_missing_header_variable_is_named_and_its_value_never_shown(
    plugin_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOT_SET_TOKEN", raising=False)
    table = remote("http://127.0.0.1:9/mcp", headers={"X-Key": "${env:NOT_SET_TOKEN}"})
    engine = plugin_engine(mcp=[{**table, "contributes": {"commands": [{"name": "add"}]}}])
    failed = run_command(engine, "remote.add", a=1, b=2)
    assert failed.error is not None
    assert "X-Key needs the environment variable NOT_SET_TOKEN" in failed.message


def test_a_url_with_network_false_is_refused(plugin_engine: MakeEngine) -> None:
    table = remote("http://127.0.0.1:9/mcp", permissions={"network": False})
    engine = plugin_engine(mcp=[table])
    [row] = [r for r in engine.plugins.describe() if r["name"] == "remote"]
    assert row["state"] == "failed" and "Remove `network = false`" in row["error"]


class SlowServer:
    """A stand-in whose ``slow`` tool never answers, and which forgets its session on
    request (a 404 for the session id), as servers that restart do."""

    def __init__(self) -> None:
        self.sessions = 0
        self.forget = False

    def __call__(self, seen: Seen) -> Reply:
        body = seen.body if isinstance(seen.body, dict) else {}
        method = body.get("method")
        if seen.method == "GET":
            return Reply(405)
        if seen.method == "DELETE":
            return Reply(200)
        session = f"session-{self.sessions}"
        if self.forget and method != "initialize":
            self.forget = False
            return Reply(404, {"Content-Type": "application/json"}, b"{}")
        if method == "initialize":
            self.sessions += 1
            session = f"session-{self.sessions}"
            return json_reply(result(body["id"], INITIALIZED), **{"Mcp-Session-Id": session})
        if "id" not in body or "method" not in body:
            return Reply(202)
        if method == "tools/list":
            tools = [{"name": n, "inputSchema": {"type": "object"}} for n in ("slow", "fast")]
            return json_reply(result(body["id"], {"tools": tools}))
        if body["params"]["name"] == "slow":
            return Reply(200, {"Content-Type": "text/event-stream"}, [b": wait\n\n", 30.0])
        return json_reply(result(body["id"], {"content": [{"type": "text", "text": "quick"}]}))


def test_a_slow_remote_call_times_out_and_is_cancelled_at_the_server(
    plugin_engine: MakeEngine,
) -> None:
    server = SlowServer()
    with StandIn(server) as standin:
        engine = plugin_engine(mcp=[remote(standin.url)])
        run_command(engine, "plugin.list")

        async def slow_then_fast() -> tuple[Any, Any]:
            slow = asyncio.ensure_future(
                engine.execute(CommandRequest("remote.slow", ME, {}, timeout_s=0.5))
            )
            fast = await engine.execute(CommandRequest("remote.fast", ME, {}))
            return await slow, fast

        slow, fast = asyncio.run(slow_then_fast())
        assert fast.ok and fast.message == "quick"  # not held up by the slow one
        assert slow.error is not None and slow.error.code == "command.timeout"
        wait_until(lambda: bool(standin.of("notifications/cancelled")))
        [cancel] = standin.of("notifications/cancelled")
        [call] = [s for s in standin.of("tools/call") if s.body["params"]["name"] == "slow"]
        assert cancel.body["params"]["requestId"] == call.body["id"]
        assert cancel.headers["mcp-session-id"] == "session-1"


def test_an_expired_session_is_replaced_by_a_new_one(plugin_engine: MakeEngine) -> None:
    server = SlowServer()
    with StandIn(server) as standin:
        engine = plugin_engine(mcp=[remote(standin.url)], restart_backoff_s=0)
        assert run_command(engine, "remote.fast").ok
        server.forget = True
        expired = run_command(engine, "remote.fast")
        assert expired.error is not None and "session" in expired.message
        wait_until(lambda: server.sessions == 2)  # the host started a new session
        wait_until(lambda: engine.plugins.plugins["remote"].state == "active")
        again = run_command(engine, "remote.fast")
        assert again.ok, again.message
        assert standin.of("tools/call")[-1].headers["mcp-session-id"] == "session-2"


@pytest.fixture
def everything_url() -> Iterator[str]:
    """The reference server-everything (npm) on its own Streamable HTTP transport."""
    for path in (mcp_servers.NODE, mcp_servers.EVERYTHING):
        if not path.is_file():
            require_or_skip(f"{path} is not installed; run `make tools`")
    with mcp_servers.everything_over_http() as url:
        yield url


def test_server_everything_over_streamable_http(
    plugin_engine: MakeEngine,
    everything_url: str,
) -> None:
    engine = plugin_engine(mcp=[remote(everything_url, name="everything")])
    echoed = run_command(engine, "everything.echo", message="over http")
    assert echoed.ok, echoed.message
    assert "over http" in echoed.message
    summed = run_command(engine, "everything.get-sum", a=2, b=3)
    assert summed.ok and "5" in summed.message
    wrong = run_command(engine, "everything.get-sum", a="two", b=3)
    assert wrong.error is not None and wrong.error.code == "command.invalid_arguments"

    seen: list[CommandProgress] = []
    engine.events.subscribe(CommandProgress, seen.append)
    long = run_command(engine, "everything.trigger-long-running-operation", duration=1, steps=4)
    assert long.ok, long.message
    assert [e.fraction for e in seen] == [0.25, 0.5, 0.75, 1.0]

    timed_out = run_sync(
        engine,
        CommandRequest(
            "everything.trigger-long-running-operation",
            ME,
            {"duration": 30, "steps": 30},
            timeout_s=1,
        ),
    )
    assert timed_out.error is not None and timed_out.error.code == "command.timeout"
    # The session goes on: the next call is answered at once.
    assert run_command(engine, "everything.echo", message="still here").ok
    records = engine.audit.store.query(
        AuditFilter(action="everything.trigger-long-running-operation")
    )
    assert [r.outcome for r in records] == ["error", "ok"]  # newest first
    assert records[0].error is not None and "timeout" in str(records[0].error)
    assert records[0].details["plugin"] == "everything"


def test_refused_credentials_and_a_server_error_reach_the_user_with_the_fix(
    plugin_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loopback stand-in: 401 for the wrong token, and a 500 for one call only."""
    monkeypatch.setenv("REMOTE_TOKEN", TOKEN)
    server = SlowServer()

    def guarded(seen: Seen) -> Reply:
        sent = seen.headers.get("authorization", "")
        if sent != f"Bearer {TOKEN}":  # echoes what it got, as careless servers do
            return Reply(401, {"Content-Type": "text/plain"}, f"bad token: {sent}".encode())
        if seen.body and seen.body.get("params", {}).get("name") == "fast" and server.forget:
            server.forget = False
            return Reply(500, {"Content-Type": "text/plain"}, b"database is down")
        return server(seen)

    with StandIn(guarded) as standin:
        wrong = {"Authorization": "Bearer ${env:WRONG_TOKEN}"}
        monkeypatch.setenv("WRONG_TOKEN", "not-the-right-one")
        refused = plugin_engine(mcp=[remote(standin.url, name="refused", headers=wrong)])
        failed = run_command(refused, "refused.fast")
        assert failed.error is not None
        assert "refused the credentials" in failed.message
        assert "Authorization" in failed.message and "${env:NAME}" in failed.message
        assert TOKEN not in failed.message and "not-the-right-one" not in failed.message

        right = {"Authorization": "Bearer ${env:REMOTE_TOKEN}"}
        engine = plugin_engine(mcp=[remote(standin.url, headers=right)])
        assert run_command(engine, "remote.fast").ok
        server.forget = True  # the next call fails with a 500
        broken = run_command(engine, "remote.fast")
        assert broken.error is not None and "HTTP 500" in broken.message
        assert "database is down" in broken.message
        assert run_command(engine, "remote.fast").ok  # the session is still usable
        trail = str([r.to_dict() for r in engine.audit.store.query(AuditFilter())])
        assert TOKEN not in trail
