"""On PostgreSQL a waiting request is woken by the decision's NOTIFY, in whichever process
it waits: its poll is set to 60 s, so only the notification can wake it within the test's
(generous) deadline. And when its listening connection is killed, the feed reconnects and
the next decision still wakes it through the new connection."""

from __future__ import annotations

import asyncio
import getpass
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Source
from logomesh.engine import Engine
from logomesh.events import ApprovalRequested
from logomesh.storage.change_feed import PostgresFeed
from tests.approvals.conftest import actions, cli_async, guarded, ran
from tests.bots.waiting import wait_until
from tests.postgres import PgServer
from tests.speaking_process import speaking

OWNER = Actor(Source.CLI, getpass.getuser())
POLL_S = "60"  # longer than GENEROUS_S: a waiter woken in time was woken by NOTIFY
GENEROUS_S = 30.0
WOKEN = ["approval.requested", "approval.approved", "command.started", "test.guarded"]

pytestmark = pytest.mark.slow  # real other processes


def test_a_decision_in_this_process_wakes_a_request_waiting_in_another(
    pg_url: str, make_engine: Callable[..., Engine], workspace: Path, proc_env: dict[str, str]
) -> None:
    """The request waits in a subprocess; the test process approves through its own
    engine; the subprocess's command runs, long before its 60 s poll would have looked."""
    decider = make_engine(LOGOMESH_DATABASE__URL=pg_url)
    decider.ensure_schema()  # migrated once, before two processes reach for it
    env = {**proc_env, "LOGOMESH_DATABASE__URL": pg_url}
    with speaking(
        "tests.approvals.notify_waiter", str(workspace), POLL_S, cwd=workspace, env=env
    ) as waiter:
        ticket_id = waiter.expect("ticket", GENEROUS_S)
        assert ran(decider) == []
        asyncio.run(decider.decide(ticket_id, OWNER, True))
        result = json.loads(waiter.expect("result", GENEROUS_S))
    assert result["ok"], result["message"]
    assert ran(decider) == ["woken"]
    assert actions(decider, result["correlation_id"]) == WOKEN


def test_after_the_listener_is_killed_a_decision_still_wakes_the_waiter(
    pg_server: PgServer,
    pg_database: str,
    pg_url: str,  # before the engines: the database outlives them
    make_engine: Callable[..., Engine],
    workspace: Path,
    proc_env: dict[str, str],
) -> None:
    """The listening backend is terminated (as a database restart or an admin would); the
    feed reconnects, and the CLI's approval in another process wakes the request through the
    new connection (the fallback re-read stops once it listens again)."""
    waiter = make_engine(LOGOMESH_DATABASE__URL=pg_url)
    waiter.registry.register(guarded)
    waiter.approvals.poll_s = float(POLL_S)
    env = {**proc_env, "LOGOMESH_DATABASE__URL": pg_url}
    request = CommandRequest("test.guarded", OWNER, {"note": "again"}, wait_for_approval=True)

    async def go() -> tuple[bool, int, int]:
        opened: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        waiter.events.subscribe(ApprovalRequested, lambda e: opened.set_result(e.ticket_id))
        task = asyncio.create_task(waiter.execute(request))
        ticket_id = await asyncio.wait_for(opened, GENEROUS_S)
        feed = waiter.change_feed
        assert isinstance(feed, PostgresFeed)
        await wait_until(lambda: feed.listening, GENEROUS_S, "a listening feed")
        killed = feed.backend_pid
        await asyncio.to_thread(
            pg_server.execute, f"SELECT pg_terminate_backend({killed})", pg_database
        )
        await wait_until(
            lambda: feed.listening and feed.backend_pid not in (None, killed),
            GENEROUS_S,
            "the feed listening again on a new connection",
        )
        before = feed.delivered
        answer = await cli_async(workspace, env, "approvals", "approve", ticket_id, "--json")
        assert answer.code == 0, answer.err
        result = await asyncio.wait_for(task, GENEROUS_S)
        return result.ok, before, feed.delivered

    ok, before, after = asyncio.run(go())
    assert ok
    assert after > before  # a notification on the new connection woke it
    assert ran(waiter) == ["again"]


def test_a_request_nobody_decides_still_ends_at_its_expiry(
    pg_url: str, make_engine: Callable[..., Engine]
) -> None:
    """No decision, so no NOTIFY: the 60 s poll would oversleep the 1 s expiry, but the
    waiter's wait is cut at the ticket's expiry, so the command is cancelled then."""
    waiter = make_engine({"security": {"approval_timeout_s": 1}}, LOGOMESH_DATABASE__URL=pg_url)
    waiter.registry.register(guarded)
    waiter.approvals.poll_s = float(POLL_S)
    request = CommandRequest("test.guarded", OWNER, {"note": "late"}, wait_for_approval=True)
    result = asyncio.run(asyncio.wait_for(waiter.execute(request), GENEROUS_S))
    assert result.error is not None and result.error.code == "command.cancelled"
    assert "before it expired" in result.message
    assert actions(waiter, result.correlation_id) == [
        "approval.requested",
        "approval.expired",
        "test.guarded",
    ]
    assert ran(waiter) == []
