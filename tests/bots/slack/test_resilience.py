"""When Slack, a command, the model or the database is slow or failing: the ack still
comes before the work, replies are retried or say what failed, and nothing is lost.

Real parts: the engine on the workspace's SQLite file (locked by a second real connection
in one test), the Bolt app behind the bot's HTTP server fed signed requests over loopback
HTTP, slack_sdk's own retry handlers. A slow command is one held at the test's gate
(``tests/bots/slack/gate.py``), so the tests assert order, not speed. Slack's Web API is the
loopback fake, which answers 429 (with ``Retry-After``) or 500 when told to, since the real
Slack cannot be made to.
"""

from __future__ import annotations

import logging

import pytest

from logomesh.storage import sqlite
from tests.bots.slack import slack_payloads as slack
from tests.bots.slack.harness import Load, SlackStack, slack_stack, team_flags, text_of, trail

pytestmark = pytest.mark.asyncio


def final_text(stack: SlackStack) -> str:
    [post] = [call for call in stack.fake.calls_to("chat.postMessage") if call.ok][:1]
    return text_of(stack.fake.message(slack.CHANNEL_ID, post.response["ts"]))


async def test_acks_come_back_while_many_commands_still_run(load: Load) -> None:
    """Twenty commands at once, all held at the gate: every ack comes back while all twenty
    are still running, and once the gate opens each gets its audit record and final reply."""

    def no_rate_limit(api_url: str) -> dict[str, object]:
        return team_flags(api_url, bots={"rate_limit_burst": 100})

    async with slack_stack(load, flags=no_rate_limit) as stack:
        await _many_held_commands(stack)


async def _many_held_commands(stack: SlackStack) -> None:
    answers = await stack.acked(*(stack.command("run test.held") for _ in range(20)))
    assert all(answer.status == 200 for answer in answers)
    await stack.held(20)
    assert not any("✅" in text_of(message) for message in stack.fake.messages)
    stack.gate.open()
    await stack.settled(timeout=20)
    assert len(trail(stack.engine, action="test.held")) == 20
    posts = [call for call in stack.fake.calls_to("chat.postMessage") if call.ok]
    assert len(posts) == 20
    finals = [text_of(stack.fake.message(slack.CHANNEL_ID, p.response["ts"])) for p in posts]
    assert all("✅" in text and "done" in text for text in finals)


async def test_a_429_is_retried_after_its_retry_after(stack: SlackStack) -> None:
    stack.fake.fail_next("chat.postMessage", status=429, retry_after=1)
    await stack.command("run test.slow seconds=0")
    await stack.settled(timeout=15)
    limited, posted = stack.fake.calls_to("chat.postMessage")
    assert limited.status == 429 and posted.ok
    assert posted.at - limited.at >= 1.0
    assert "✅" in final_text(stack)


async def test_a_500_from_slack_is_retried(stack: SlackStack) -> None:
    stack.fake.fail_next("chat.update", status=500, times=2)
    await stack.command("run test.slow seconds=0")
    await stack.settled(timeout=15)
    statuses = [call.status for call in stack.fake.calls_to("chat.update")]
    assert statuses[:2] == [500, 500] and statuses[-1] == 200
    assert "✅" in final_text(stack)


async def test_slack_failing_for_good_is_logged_with_the_correlation_id(
    stack: SlackStack, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack answers 500 to every post: the bot gives up after its retries, logs what failed
    with the request's correlation id, and runs nothing it could not report."""
    stack.fake.fail_next("chat.postMessage", status=500, times=100)
    with caplog.at_level(logging.ERROR):
        answer = await stack.command("run test.guarded note=never")
        assert answer.status == 200
        await stack.settled(timeout=20)
    assert len(stack.fake.calls_to("chat.postMessage")) >= 3  # the first try and two retries
    assert "failed" in caplog.text and "fatal_error" in caplog.text
    assert trail(stack.engine, action="test.guarded") == []


async def test_a_locked_database_is_said_and_nothing_is_lost(load: Load) -> None:
    """Another connection holds SQLite's write lock: the ack comes back while the lock is
    still held (and the command is held at the gate, so it comes before the work), the
    reply says the audit record waits in the spool, and it lands once the lock is gone."""

    def short_busy_timeout(api_url: str) -> dict[str, object]:
        return team_flags(api_url, database={"busy_timeout_ms": 100})

    async with slack_stack(load, flags=short_busy_timeout) as stack:
        await stack.command("run test.slow seconds=0")  # the schema exists before the lock
        await stack.settled()
        assert stack.engine.database.path is not None
        holder = sqlite.dbapi_module().connect(str(stack.engine.database.path), timeout=5)
        holder.isolation_level = None
        holder.execute("BEGIN EXCLUSIVE")
        try:
            [answer] = await stack.acked(stack.command("run test.held"))
            assert answer.status == 200 and holder.in_transaction  # the lock is still held
            await stack.held(1)
            stack.gate.open()
            await stack.settled()
        finally:
            holder.rollback()
            holder.close()
        second = [c for c in stack.fake.calls_to("chat.postMessage") if c.ok][1]
        text = text_of(stack.fake.message(slack.CHANNEL_ID, second.response["ts"]))
        assert "locked" in text and "spool" in text
        await stack.command("run test.slow seconds=0")
        await stack.settled()
        assert len(trail(stack.engine, action="test.slow")) == 2
        assert len(trail(stack.engine, action="test.held")) == 1  # out of the spool
