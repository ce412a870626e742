"""The loopback Slack's Socket Mode end, as the real slack_sdk and Bolt clients use it.

Real: slack_sdk's aiohttp SocketModeClient, Bolt's AsyncSocketModeHandler, aiohttp's
WebSocket client. Replaced: Slack, by :class:`tests.bots.slack.fake_slack.FakeSlack`'s
WebSocket endpoint on loopback (Slack cannot be reached from here).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from tests.bots.gate import Gate
from tests.bots.slack import slack_payloads as payloads
from tests.bots.slack.fake_slack import APP_TOKEN, BOT_TOKEN, FakeSlack


@asynccontextmanager
async def connected(client: SocketModeClient) -> AsyncIterator[SocketModeClient]:
    # slack_sdk leaves the Socket Mode client's connect and close unannotated.
    await client.connect()  # type: ignore[no-untyped-call]
    try:
        yield client
    finally:
        await client.close()  # type: ignore[no-untyped-call]


async def ack_with_text(client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
    reply = {"text": f"got {request.type}"}
    await client.send_socket_mode_response(SocketModeResponse(request.envelope_id, reply))


@pytest.mark.asyncio
async def test_socket_mode_client_connects_acks_and_reconnects(fake_slack: FakeSlack) -> None:
    """Real slack_sdk aiohttp SocketModeClient: apps.connections.open with the app token,
    hello, an envelope acked with a payload (recorded as it arrives, while the client's
    listener is still held at a gate), then Slack's disconnect -> a new URL and connection,
    on which envelopes still flow."""
    web = AsyncWebClient(base_url=fake_slack.api_url)
    client = SocketModeClient(app_token=APP_TOKEN, web_client=web, auto_reconnect_enabled=True)
    greetings: list[str] = []
    gate = Gate()
    returned: list[str] = []  # envelopes whose listener has finished

    async def on_message(message: aiohttp.WSMessage) -> None:
        greetings.append(json.loads(message.data).get("type", ""))

    async def ack_then_wait(client: AsyncBaseSocketModeClient, request: SocketModeRequest) -> None:
        await ack_with_text(client, request)
        await gate.passing()
        returned.append(request.envelope_id)

    client.on_message_listeners.append(on_message)
    client.socket_mode_request_listeners.append(ack_then_wait)
    async with connected(client):
        mode = fake_slack.socket_mode
        await mode.wait_for_connections()
        command = payloads.slash_command("help", user_id="U1")
        envelope = await mode.push("slash_commands", command)
        ack = await mode.wait_for_ack(envelope)
        assert ack.payload == {"text": "got slash_commands"}
        assert returned == []  # the ack is recorded as it arrives, not when the client is done
        gate.open()
        assert greetings[0] == "hello"
        assert fake_slack.calls_to("apps.connections.open")[0].token == APP_TOKEN

        await mode.disconnect()
        await mode.wait_for_connections(2)
        envelope = await mode.push("events_api", payloads.app_mention("hi", user_id="U1"))
        assert (await mode.wait_for_ack(envelope)).payload == {"text": "got events_api"}
        assert len(fake_slack.calls_to("apps.connections.open")) == 2
        await fake_slack.wait_until(lambda: mode.open_connections == 1, what="old one closed")


@pytest.mark.asyncio
async def test_a_socket_mode_url_admits_one_connection(fake_slack: FakeSlack) -> None:
    """Real AsyncWebClient + aiohttp: the URL from apps.connections.open is single-use."""
    web = AsyncWebClient(token=APP_TOKEN, base_url=fake_slack.api_url)
    url = (await web.apps_connections_open(app_token=APP_TOKEN))["url"]
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url) as socket:
            hello = await socket.receive_json(timeout=5)
            assert hello["type"] == "hello"
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(url)
        assert refused.value.status == 401


@pytest.mark.asyncio
async def test_bolt_over_socket_mode_acks_a_slash_command(fake_slack: FakeSlack) -> None:
    """Real Bolt AsyncApp + AsyncSocketModeHandler: a pushed slash command is acked with
    Bolt's reply, and its respond() posts to the fake's response_url."""
    app = AsyncApp(client=AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url))

    @app.command("/logomesh")
    async def command(ack: AsyncAck, respond: AsyncRespond, body: dict[str, Any]) -> None:
        await ack("Working on it…")
        await respond(f"done: {body['text']}")

    handler = AsyncSocketModeHandler(app, APP_TOKEN)
    try:
        await handler.connect_async()  # type: ignore[no-untyped-call]
        await fake_slack.socket_mode.wait_for_connections()
        url = fake_slack.response_url("cmd-1")
        command_payload = payloads.slash_command("help", user_id="U1", response_url=url)
        envelope = await fake_slack.socket_mode.push("slash_commands", command_payload)
        ack = await fake_slack.socket_mode.wait_for_ack(envelope)
        assert ack.payload == {"text": "Working on it…"}
        posted = await fake_slack.wait_for("response_url")
        assert (posted.args["key"], posted.args["text"]) == ("cmd-1", "done: help")
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]


@pytest.mark.asyncio
async def test_the_thread_fake_takes_socket_mode_from_another_loop(
    fake_slack_thread: FakeSlack,
) -> None:
    """Real SocketModeClient on the test's loop, the fake on its own: pushes and waits
    awaited here are carried to the fake's loop."""
    web = AsyncWebClient(base_url=fake_slack_thread.api_url)
    client = SocketModeClient(app_token=APP_TOKEN, web_client=web)
    client.socket_mode_request_listeners.append(ack_with_text)
    async with connected(client):
        mode = fake_slack_thread.socket_mode
        await mode.wait_for_connections()
        click = payloads.block_actions("logomesh.decline", "T-9", user_id="U3", message_ts="1.5")
        envelope = await mode.push("interactive", click)
        assert (await mode.wait_for_ack(envelope)).payload == {"text": "got interactive"}


@pytest.mark.asyncio
async def test_a_rate_limited_connections_open_is_retried_after_retry_after(
    fake_slack: FakeSlack,
) -> None:
    """Real SocketModeClient: apps.connections.open answered 429 (``Retry-After: 0``) is
    retried by slack_sdk's own loop, which reads the header, and the client connects."""
    fake_slack.fail_next("apps.connections.open", status=429, retry_after=0)
    web = AsyncWebClient(base_url=fake_slack.api_url)
    async with connected(SocketModeClient(app_token=APP_TOKEN, web_client=web)):
        await fake_slack.socket_mode.wait_for_connections()
    assert [c.status for c in fake_slack.calls_to("apps.connections.open")] == [429, 200]
