"""Slack's payloads as built by tests/bots/slack/slack_payloads.py pass the real Bolt app.

Real: Bolt's AsyncApp (request verification with a signing secret, routing by command,
action id and event type) and slack_sdk's AsyncWebClient. Replaced: Slack, by
:class:`tests.bots.slack.fake_slack.FakeSlack` on loopback (Slack cannot be reached).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from tests.bots.slack import slack_payloads as payloads
from tests.bots.slack.fake_slack import BOT_TOKEN, FakeSlack

SECRET = "fake-signing-secret"


def signed_request(
    body: str, secret: str = SECRET, timestamp: int | None = None
) -> AsyncBoltRequest:
    headers: dict[str, str | Sequence[str]] = {}
    headers.update(payloads.signed_headers(secret, body, timestamp=timestamp))
    return AsyncBoltRequest(body=body, headers=headers)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


@pytest.mark.asyncio
async def test_signed_payloads_pass_bolts_verification(fake_slack: FakeSlack) -> None:
    """Real Bolt AsyncApp with a signing secret: each payload builder's request is verified
    and routed to its listener; a wrong secret or a stale timestamp is 401."""
    app = AsyncApp(
        signing_secret=SECRET,
        client=AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url),
    )
    seen: list[str] = []

    @app.command("/logomesh")
    async def command(ack: AsyncAck, body: dict[str, Any]) -> None:
        seen.append(f"command {body['text']}")
        await ack()

    @app.action("logomesh.approve")
    async def approve(ack: AsyncAck, body: dict[str, Any]) -> None:
        seen.append(f"click {body['actions'][0]['value']} by {body['user']['id']}")
        await ack()

    @app.event("app_mention")
    async def mention(event: dict[str, Any]) -> None:
        seen.append(f"mention {event['text']}")

    @app.event("message")
    async def direct(event: dict[str, Any]) -> None:
        seen.append(f"dm {event['text']}")

    bodies = [
        payloads.form_body(payloads.slash_command("run git.status", user_id="U1")),
        payloads.interactive_body(
            payloads.block_actions("logomesh.approve", "TICKET-1", user_id="U2", message_ts="1.2")
        ),
        payloads.event_body(payloads.app_mention("help", user_id="U1")),
        payloads.event_body(payloads.im_message("status please", user_id="U1")),
    ]
    for body in bodies:
        response = await app.async_dispatch(signed_request(body))
        assert response.status == 200, response.body
    await fake_slack.wait_until(lambda: len(seen) == 4, what="four listeners run")
    assert sorted(seen) == sorted(
        [
            "command run git.status",
            "click TICKET-1 by U2",
            f"mention <@{payloads.BOT_USER_ID}> help",
            "dm status please",
        ]
    )
    challenge = payloads.event_body(payloads.url_verification("c-42"))
    verified = await app.async_dispatch(signed_request(challenge))
    assert json.loads(verified.body) == {"challenge": "c-42"}
    for request in (
        signed_request(bodies[0], secret="not-the-secret"),
        signed_request(bodies[0], timestamp=1_600_000_000),
    ):
        refused = await app.async_dispatch(request)
        assert refused.status == 401


@pytest.mark.asyncio
async def test_clicking_a_posted_button_reaches_bolt_with_its_value(fake_slack: FakeSlack) -> None:
    """Real AsyncWebClient posts a card with buttons; ``fake.click`` builds the click the
    real Bolt app routes by action id, with the button's value and a response_url of the
    fake; the listener's chat.update and respond() land in the fake."""
    client = AsyncWebClient(token=BOT_TOKEN, base_url=fake_slack.api_url)
    card = [
        section("*git.push* needs approval"),
        {
            "type": "actions",
            "block_id": "approval",
            "elements": [
                {
                    "type": "button",
                    "action_id": name,
                    "value": "TICKET-7",
                    "text": {"type": "plain_text", "text": name.split(".")[1].title()},
                }
                for name in ("logomesh.approve", "logomesh.decline")
            ],
        },
    ]
    posted = await client.chat_postMessage(channel="C1", text="approve?", blocks=card)
    app = AsyncApp(signing_secret=SECRET, client=client)

    @app.action("logomesh.decline")
    async def decline(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        container = body["container"]
        text = f"Declined {body['actions'][0]['value']} by <@{body['user']['id']}>"
        await client.chat_update(channel=container["channel_id"], ts=container["message_ts"],
                                 text=text, blocks=[section(text)])  # fmt: skip
        await respond(text=text, replace_original=False)

    message = fake_slack.message("C1", str(posted["ts"]))
    with pytest.raises(AssertionError, match=r"no logomesh\.retry button.*'logomesh\.approve'"):
        fake_slack.click(message, "logomesh.retry", user_id="U2")
    click = fake_slack.click(message, "logomesh.decline", user_id="U2")
    assert click["actions"][0]["text"]["text"] == "Decline"
    response = await app.async_dispatch(signed_request(payloads.interactive_body(click)))
    assert response.status == 200
    await fake_slack.wait_for("response_url")
    assert message.text == "Declined TICKET-7 by <@U2>"
    assert fake_slack.responses[0].body["text"] == message.text
    with pytest.raises(AssertionError, match=r"no logomesh\.decline button.*buttons: \[\]"):
        fake_slack.click(message, "logomesh.decline", user_id="U3")  # the card was replaced
