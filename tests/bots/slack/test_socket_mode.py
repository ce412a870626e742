"""Socket Mode end to end: the bot dials out, acks each envelope before doing its work,
answers over the Web API, and reconnects when Slack asks it to.

Real parts: the engine on the workspace's SQLite file, the Bolt app with slack_bolt's
``AsyncSocketModeHandler`` (slack_sdk's aiohttp Socket Mode client) opened through
``apps.connections.open`` at the ``bots.slack.api_url`` base URL; the WebSocket and the Web
API at the other end are the loopback fake's, which speak Slack's Socket Mode protocol
(hello, envelopes, acks, disconnect), since Slack cannot be reached from here. A command
held at the test's gate (``tests/bots/slack/gate.py``) shows the ack came first.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bots.chat.approvals import APPROVE
from bots.slack.socket import connect_socket
from bots.slack.tokens import SlackMode
from logomesh.errors import ConfigError
from tests.bots.slack import slack_payloads as slack
from tests.bots.slack.harness import (
    ALICE,
    BOB,
    Load,
    SlackStack,
    ran,
    slack_stack,
    text_of,
    trail,
)

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def stack(load: Load) -> AsyncIterator[SlackStack]:
    async with slack_stack(load, mode=SlackMode.SOCKET) as running:
        await running.fake.socket_mode.wait_for_connections()
        yield running


async def test_a_slash_command_over_the_socket_is_acked_then_answered(
    stack: SlackStack,
) -> None:
    """The envelope's ack comes back while the command is held at the gate (so before it
    could end); the answer follows over the Web API once the gate opens."""
    socket = stack.fake.socket_mode
    opened = stack.fake.calls_to("apps.connections.open")
    assert opened and opened[0].token == stack.fake.app_token  # the app-level token
    envelope = await socket.push(
        "slash_commands", slack.slash_command("run test.held", user_id=ALICE)
    )
    await socket.wait_for_ack(envelope, timeout=10)
    await stack.held(1)
    assert not any("✅" in text_of(message) for message in stack.fake.messages)
    stack.gate.open()
    await stack.settled()
    [post] = stack.fake.calls_to("chat.postMessage")
    assert "✅" in text_of(stack.fake.message(slack.CHANNEL_ID, post.response["ts"]))
    [record] = trail(stack.engine, action="test.held")
    assert record.source == "slack" and record.actor == "alice"


async def test_events_and_a_redelivery_over_the_socket(stack: SlackStack) -> None:
    """A mention is answered in its thread; Slack's retry of the same event (after a late
    ack) is acked and not run twice."""
    socket = stack.fake.socket_mode
    payload = slack.app_mention("run test.slow seconds=0", user_id=ALICE)
    first = await socket.push("events_api", payload)
    again = await socket.push("events_api", payload, retry_attempt=1)
    await socket.wait_for_ack(first)
    await socket.wait_for_ack(again)
    await stack.settled()
    [post] = stack.fake.calls_to("chat.postMessage")
    assert post.args["thread_ts"] == payload["event"]["ts"]
    assert len(trail(stack.engine, action="test.slow")) == 1


async def test_an_approval_button_over_the_socket(stack: SlackStack) -> None:
    socket = stack.fake.socket_mode
    await socket.push(
        "slash_commands", slack.slash_command("run test.guarded note=sock", user_id=ALICE)
    )
    card = copy.deepcopy(await stack.card("test.guarded"))
    envelope = await socket.push("interactive", stack.fake.click(card, APPROVE, user_id=BOB))
    await socket.wait_for_ack(envelope)
    await stack.settled()
    assert ran(stack.engine) == ["sock"]
    assert "Approved" in text_of(stack.fake.message(card.channel, card.ts))


async def test_the_bot_reconnects_when_slack_asks(stack: SlackStack) -> None:
    socket = stack.fake.socket_mode
    await socket.disconnect("refresh_requested")
    await socket.wait_for_connections(count=2, timeout=15)
    envelope = await socket.push(
        "slash_commands", slack.slash_command("run test.slow seconds=0", user_id=ALICE)
    )
    await socket.wait_for_ack(envelope)
    await stack.settled()
    assert len(trail(stack.engine, action="test.slow")) == 1


async def test_a_refused_app_token_names_where_to_get_one(stack: SlackStack) -> None:
    """apps.connections.open answers invalid_auth: a ConfigError with the fix, no retry
    loop left running."""
    with pytest.raises(ConfigError) as refused:
        await connect_socket(stack.running.app, "xapp-revoked-token")
    assert "SLACK_APP_TOKEN" in refused.value.user_message
    assert "invalid_auth" in refused.value.user_message
    assert "connections:write" in refused.value.user_message
