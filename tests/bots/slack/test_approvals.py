"""Approval buttons on Slack: who may click, what a click says, and tickets across adapters.

Real parts: one engine on the workspace's SQLite file (tickets are rows there), the Bolt app
behind the bot's HTTP server fed signed ``block_actions`` requests over loopback HTTP, and
``Engine.execute`` / ``Engine.decide`` called as the CLI calls them; Slack's Web API is the
loopback fake (Slack cannot be reached from here), built from the card the bot really
posted (its buttons' action ids and values).
"""

from __future__ import annotations

import asyncio
import copy

import pytest

from bots.chat.approvals import APPROVE, DECLINE
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Source
from logomesh.events import ApprovalRequested
from tests.bots.slack import slack_payloads as slack
from tests.bots.slack.fake_slack import SlackMessage
from tests.bots.slack.harness import (
    ALICE,
    BOB,
    STRANGER,
    VERA,
    Load,
    SlackStack,
    ran,
    slack_stack,
    team_flags,
    text_of,
    trail,
)

pytestmark = pytest.mark.asyncio


def ticket_of(card: SlackMessage) -> str:
    [value] = {
        element["value"]
        for block in card.blocks
        if block["type"] == "actions"
        for element in block["elements"]
    }
    return str(value)


def whispers_to(stack: SlackStack, user: str) -> list[str]:
    return [text_of(m) for m in stack.fake.ephemerals if m.user == user]


async def test_a_danger_command_waits_for_another_persons_button(stack: SlackStack) -> None:
    """Alice's danger command posts a card in the reply's thread; her own click, and a
    viewer's, are refused privately; Bob's approves, the card says so, the command runs and
    its result replaces the progress reply."""
    await stack.command("run test.guarded note=ship")
    card = await stack.card("test.guarded")
    shown = text_of(card)
    assert "danger" in shown and "alice" in shown and "ship" in shown
    [progress] = stack.fake.calls_to("chat.postMessage")[:1]
    assert card.thread_ts == progress.response["ts"]  # the card sits in the reply's thread
    styles = {e["action_id"]: e.get("style") for b in card.blocks if b["type"] == "actions"
              for e in b["elements"]}  # fmt: skip
    assert styles == {APPROVE: "primary", DECLINE: "danger"}

    assert (await stack.click(card, APPROVE, ALICE)).status == 200
    assert (await stack.click(card, APPROVE, VERA)).status == 200
    await stack.fake.wait_until(lambda: len(stack.fake.ephemerals) >= 2, what="two refusals")
    [own] = whispers_to(stack, ALICE)
    assert "someone other than" in own.lower() or "two-person" in own.lower()
    [viewer] = whispers_to(stack, VERA)
    assert "approvals.decide" in viewer
    assert ran(stack.engine) == []

    assert (await stack.click(card, APPROVE, BOB)).status == 200
    await stack.settled()
    assert ran(stack.engine) == ["ship"]
    decided = stack.fake.message(card.channel, card.ts)
    assert "Approved" in text_of(decided) and "bob" in text_of(decided)
    assert not any(b["type"] == "actions" for b in decided.blocks)  # no buttons left
    final = text_of(stack.fake.message(slack.CHANNEL_ID, progress.response["ts"]))
    assert "✅" in final and "ran with note ship" in final
    actions = [r.action for r in trail(stack.engine, action="approval.*")]
    assert "approval.requested" in actions and "approval.approved" in actions


async def test_a_click_on_a_decided_ticket_says_who_decided(stack: SlackStack) -> None:
    await stack.command("run test.guarded note=once")
    card = copy.deepcopy(await stack.card("test.guarded"))  # as a slow client still shows it
    await stack.click(card, DECLINE, BOB)
    await stack.settled()
    await stack.click(card, APPROVE, BOB)  # the old card, clicked again
    await stack.settled()
    [late] = whispers_to(stack, BOB)
    assert "already" in late.lower() and "declined" in late.lower()
    assert ran(stack.engine) == []


async def test_an_unknown_user_clicking_is_refused_with_the_mapping_to_add(
    stack: SlackStack,
) -> None:
    await stack.command("run test.guarded note=x")
    card = await stack.card("test.guarded")
    await stack.click(card, APPROVE, STRANGER)
    await stack.fake.wait_until(lambda: bool(whispers_to(stack, STRANGER)), what="a refusal")
    [refusal] = whispers_to(stack, STRANGER)
    assert f'slack = ["{STRANGER}"]' in refusal
    assert ran(stack.engine) == []
    card_now = stack.fake.message(card.channel, card.ts)
    assert any(b["type"] == "actions" for b in card_now.blocks)  # still open for others
    [refused] = trail(stack.engine, action="approval.decide")
    assert refused.outcome == "denied" and refused.source == "slack"
    await stack.click(card, DECLINE, BOB)
    await stack.settled()


async def test_an_expired_ticket_answers_expired(load: Load) -> None:
    def quick_expiry(api_url: str) -> dict[str, object]:
        return team_flags(api_url, security={"approval_timeout_s": 0.3})

    async with slack_stack(load, flags=quick_expiry) as stack:
        await stack.command("run test.guarded note=late")
        card = copy.deepcopy(await stack.card("test.guarded"))
        await asyncio.sleep(0.5)
        await stack.click(card, APPROVE, BOB)
        await stack.settled()
        [answer] = whispers_to(stack, BOB)
        assert "expired" in answer.lower()
        assert "Expired" in text_of(stack.fake.message(card.channel, card.ts))
        assert ran(stack.engine) == []
        [progress] = stack.fake.calls_to("chat.postMessage")[:1]
        final = text_of(stack.fake.message(slack.CHANNEL_ID, progress.response["ts"]))
        assert "expired" in final.lower()


async def test_a_ticket_raised_in_the_cli_is_approved_with_a_slack_button(
    stack: SlackStack,
) -> None:
    """The CLI waits on a ticket (``logomesh --wait``); ``/logomesh approvals`` shows its
    card in Slack, and Bob's click there lets the CLI's request run."""
    request = CommandRequest(
        "test.guarded", Actor(Source.CLI, "alice"), {"note": "from-cli"}, wait_for_approval=True
    )
    requested = asyncio.Event()
    stack.engine.events.subscribe(ApprovalRequested, lambda event: requested.set())
    waiting = asyncio.create_task(stack.engine.execute(request))
    await asyncio.wait_for(requested.wait(), 10)
    await stack.command("approvals", user=BOB)
    card = await stack.card("from-cli")
    await stack.click(card, APPROVE, BOB)
    result = await asyncio.wait_for(waiting, 10)
    assert result.ok and ran(stack.engine) == ["from-cli"]
    await stack.settled()
    assert "Approved" in text_of(stack.fake.message(card.channel, card.ts))
    [decision] = [r for r in trail(stack.engine, action="approval.approved")]
    assert decision.source == "slack" and decision.actor == "bob"


async def test_a_ticket_raised_in_slack_is_approved_from_the_cli(stack: SlackStack) -> None:
    """Alice asks in Slack; Bob approves with ``logomesh approvals approve`` (``Engine.decide``
    as a CLI actor); the Slack card and the reply follow."""
    await stack.command("run test.guarded note=from-slack")
    card = await stack.card("test.guarded")
    await stack.engine.decide(ticket_of(card), Actor(Source.CLI, "bob"), True, "looks fine")
    await stack.settled()
    assert ran(stack.engine) == ["from-slack"]
    assert "Approved" in text_of(stack.fake.message(card.channel, card.ts))
    [progress] = stack.fake.calls_to("chat.postMessage")[:1]
    final = text_of(stack.fake.message(slack.CHANNEL_ID, progress.response["ts"]))
    assert "ran with note from-slack" in final
