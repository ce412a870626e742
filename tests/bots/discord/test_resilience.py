"""When Discord's deadlines and connections fail the bot: nothing is lost.

Real parts: the discord.py client (its gateway state machine with RESUME, its HTTP client
and rate-limit handling, its webhooks), the Discord adapter, the neutral bot and one engine
on the workspace's SQLite file; Discord itself is the loopback fake, which injects the
faults (a late interaction, expired tokens, a dropped gateway, a 429). Order, not time:
``test.held`` waits at a gate while the fault is injected.
"""

from __future__ import annotations

import pytest

from tests.bots.discord.fake_discord import BOT_USER_ID, CHANNEL_ID
from tests.bots.discord.harness import ALICE, BOB, DiscordStack, ran, trail

pytestmark = pytest.mark.asyncio

FOLLOW_UP = "/webhooks/{app}/{token}"


async def test_an_interaction_past_its_3_seconds_is_answered_in_the_channel(
    stack: DiscordStack,
) -> None:
    """Discord refuses the deferral (10062): the command still runs, and its answer is a
    channel message that names the person."""
    late = await stack.slash("run", {"command": "status"}, created_ago_s=5.0)
    await stack.fake.wait_until(
        lambda: any(
            m.author_id == BOT_USER_ID and not m.webhook and "✅" in m.text
            for m in stack.fake.channel_messages(CHANNEL_ID)
        ),
        what="the answer as a channel message",
    )
    await stack.settled()
    [refused] = [c for c in stack.fake.calls if c.route.startswith("POST /interactions")]
    assert refused.code == 10062 and not late.acknowledged
    [answer] = [m for m in stack.fake.channel_messages(CHANNEL_ID) if m.author_id == BOT_USER_ID]
    # Named in the first version (a mention notifies): it answers nothing visible.
    assert answer.history[0]["content"].startswith(f"<@{ALICE}>")
    [record] = trail(stack.engine, action="status")
    assert record.outcome == "ok" and record.source == "discord"


async def test_a_token_that_expires_mid_command_still_delivers_the_result(
    stack: DiscordStack,
) -> None:
    """The command outlives its interaction's 15 minutes: the webhook refuses (401,
    50027), and the bot edits its own reply through the channel instead."""
    asked = await stack.slash("run", {"command": "test.held", "arguments": "note=long"})
    await stack.held(1)
    await stack.fake.wait_until(lambda: asked.original_message_id is not None, what="reply")
    stack.fake.expire_tokens()
    stack.gate.open()
    await stack.settled()
    final = stack.original(asked)
    assert "✅" in final.text and "test.held" in final.text
    edits = stack.fake.calls_to("PATCH", "/channels/{channel}/messages/{message_id}")
    assert edits and edits[-1].status == 200
    refused = [c for c in stack.fake.calls if c.code == 50027]
    assert refused  # the webhook was tried first, and said why not


async def test_the_gateway_dropping_mid_command_resumes_and_delivers(stack: DiscordStack) -> None:
    """The gateway connection drops while a command runs: discord.py resumes the session,
    the result is delivered, and commands sent after the drop are answered."""
    asked = await stack.slash("run", {"command": "test.held", "arguments": "note=resume"})
    await stack.held(1)
    await stack.fake.gateway.disconnect(code=4000)
    await stack.fake.gateway.wait_for_resume(1)
    stack.gate.open()
    await stack.answered(asked, "✅")
    after = await stack.slash("run", {"command": "status"})
    await stack.answered(after, "✅")
    await stack.settled()
    assert len(stack.fake.gateway.resumes) == 1
    assert [r.outcome for r in trail(stack.engine, action="test.held")] == ["ok"]


async def test_a_429_on_a_follow_up_is_retried_once_after_its_wait(stack: DiscordStack) -> None:
    """Discord rate-limits the follow-up once: discord.py waits the ``retry_after`` and
    sends it again, exactly once, and the answer arrives."""
    stack.fake.fail_next("POST", FOLLOW_UP, status=429, retry_after=0.2)
    asked = await stack.slash("approvals")  # answered privately: a follow-up
    [answer] = await stack.whispered(asked)
    assert "No approval tickets" in answer.text
    await stack.settled()
    tries = stack.fake.calls_to("POST", FOLLOW_UP)
    assert [call.status for call in tries] == [429, 200]


async def test_a_click_past_its_3_seconds_still_decides(stack: DiscordStack) -> None:
    """Discord refuses the click's acknowledgement (10062); the decision still counts, and
    the card and the command's reply follow it."""
    asked = await stack.slash("run", {"command": "test.guarded", "arguments": "note=late-click"})
    card = await stack.card("test.guarded")
    [approve] = [cid for _, cid, _ in card.buttons if cid.startswith("logomesh.approve:")]
    late = stack.fake.click_payload(card, approve, user=BOB, created_ago_s=5.0)
    await stack.fake.gateway.dispatch("INTERACTION_CREATE", late.payload)
    await stack.answered(asked, "ran with note late-click")
    await stack.settled()
    assert not late.acknowledged
    assert "Approved" in stack.fake.message(card.id).text
    assert ran(stack.engine) == ["late-click"]


async def test_a_429_longer_than_30_s_fails_visibly_instead_of_hanging(
    stack: DiscordStack,
) -> None:
    """A channel post rate-limited for a minute: discord.py gives up at once (RateLimited)
    rather than hold the reply, the bot logs it and says so with the correlation id."""
    stack.fake.fail_next("POST", "/channels/{channel}/messages", status=429, retry_after=60.0)
    await stack.fake.say("run status")
    await stack.fake.wait_until(
        lambda: any(
            m.author_id == BOT_USER_ID and "Something went wrong" in m.text
            for m in stack.fake.channel_messages(CHANNEL_ID)
        ),
        what="the failure said in the channel",
    )
    await stack.settled()
    tries = stack.fake.calls_to("POST", "/channels/{channel}/messages")
    assert [call.status for call in tries][:1] == [429] and len(tries) == 2
