"""Approval buttons on Discord: who may click, what a click says, tickets across adapters,
and buttons that still work after the bot restarted.

Real parts: one engine on the workspace's SQLite file (tickets are rows there), the
discord.py client with its persistent ``DynamicItem`` buttons, the neutral bot, and
``Engine.execute`` / ``Engine.decide`` called as the CLI calls them; Discord itself is the
loopback fake, whose clicks find their button on the card the bot really posted.
"""

from __future__ import annotations

import asyncio
import copy

import pytest

from bots.chat.approvals import APPROVE, DECLINE
from bots.chat.dispatch import ChatBot
from bots.discord.client import build_client
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Source
from logomesh.events import ApprovalRequested
from tests.bots.discord.fake_models import FakeMessage
from tests.bots.discord.harness import (
    ALICE,
    BOB,
    STRANGER,
    VERA,
    DiscordStack,
    Load,
    connected,
    discord_stack,
    ran,
    team_flags,
    trail,
)

pytestmark = pytest.mark.asyncio
SUCCESS, DANGER = 3, 4  # Discord's button styles


def button(card: FakeMessage, action: str) -> str:
    [custom_id] = [cid for _, cid, _ in card.buttons if cid.startswith(action + ":")]
    return custom_id


async def test_a_danger_command_waits_for_another_persons_button(stack: DiscordStack) -> None:
    """Alice's danger command posts a card; her own click (two-person rule) and a viewer's
    are refused privately, nothing runs; Bob's approves, the card says so without buttons,
    the command runs and its result replaces the progress message."""
    asked = await stack.slash("run", {"command": "test.guarded", "arguments": "note=ship"})
    card = await stack.card("test.guarded")
    assert "danger" in card.text and "alice" in card.text and "ship" in card.text
    styles = {cid.split(":")[0]: style for _, cid, style in card.buttons}
    assert styles == {APPROVE: SUCCESS, DECLINE: DANGER}

    own = await stack.fake.click(card, button(card, APPROVE), user=ALICE)
    viewer = await stack.fake.click(card, button(card, APPROVE), user=VERA)
    [refused_own] = await stack.whispered(own)
    [refused_viewer] = await stack.whispered(viewer)
    assert "someone other than" in refused_own.text.lower() or "two-person" in refused_own.text
    assert "approvals.decide" in refused_viewer.text
    assert [r["type"] for r in stack.fake.responses(own)] == [6]  # a silent deferred update
    assert ran(stack.engine) == []

    await stack.fake.click(card, button(card, APPROVE), user=BOB)
    await stack.settled()
    assert ran(stack.engine) == ["ship"]
    decided = stack.fake.message(card.id)
    assert "Approved" in decided.text and "bob" in decided.text
    assert decided.buttons == []
    assert "ran with note ship" in stack.original(asked).text
    actions = [r.action for r in trail(stack.engine, action="approval.*")]
    assert "approval.requested" in actions and "approval.approved" in actions


async def test_an_unknown_user_clicking_is_refused_with_the_mapping(stack: DiscordStack) -> None:
    await stack.slash("run", {"command": "test.guarded", "arguments": "note=x"})
    card = await stack.card("test.guarded")
    click = await stack.fake.click(card, button(card, APPROVE), user=STRANGER)
    [refusal] = await stack.whispered(click)
    assert f'discord = ["{STRANGER}"]' in refusal.text
    assert ran(stack.engine) == []
    assert stack.fake.message(card.id).buttons  # still open for others
    await stack.fake.click(card, button(card, DECLINE), user=BOB)
    await stack.settled()


async def test_an_expired_ticket_answers_expired(load: Load) -> None:
    def quick_expiry(fake: object) -> dict[str, object]:
        return team_flags(fake, security={"approval_timeout_s": 0.3})  # type: ignore[arg-type]

    async with discord_stack(load, flags=quick_expiry) as stack:
        asked = await stack.slash("run", {"command": "test.guarded", "arguments": "note=late"})
        card = copy.deepcopy(await stack.card("test.guarded"))  # as a slow client shows it
        await stack.answered(asked, "expired")  # the request gave up waiting
        click = await stack.fake.click(card, button(card, APPROVE), user=BOB)
        [answer] = await stack.whispered(click)
        assert "expired" in answer.text.lower()
        await stack.settled()
        assert "Expired" in stack.fake.message(card.id).text
        assert ran(stack.engine) == []


async def test_a_cli_ticket_is_approved_by_a_button_after_the_bot_restarted(
    stack: DiscordStack,
) -> None:
    """The CLI waits on a ticket; ``/logomesh approvals`` shows its card; the client that
    posted it closes, and a new client (a restarted bot) takes Bob's click on the old card:
    the button's ticket is in its custom_id, so the CLI's request runs."""
    request = CommandRequest(
        "test.guarded", Actor(Source.CLI, "alice"), {"note": "from-cli"}, wait_for_approval=True
    )
    requested = asyncio.Event()
    stack.engine.events.subscribe(ApprovalRequested, lambda event: requested.set())
    waiting = asyncio.create_task(stack.engine.execute(request))
    await asyncio.wait_for(requested.wait(), 10)
    listed = await stack.slash("approvals", user=BOB)
    card = await stack.card("from-cli")
    assert card.interaction_id == listed.id
    await stack.settled()
    await stack.client.close()

    restarted = ChatBot(stack.engine, platform=Source.DISCORD)
    client = build_client(restarted, stack.client.settings, guild_ready_timeout=0.05)
    async with connected(stack.fake, client):
        click = await stack.fake.click(card, button(card, APPROVE), user=BOB)
        result = await asyncio.wait_for(waiting, 10)
        assert result.ok and ran(stack.engine) == ["from-cli"]
        await stack.fake.wait_until(
            lambda: "Approved" in stack.fake.message(card.id).text, what="the card redrawn"
        )
        assert [r["type"] for r in stack.fake.responses(click)] == [6]
    [decision] = trail(stack.engine, action="approval.approved")
    assert decision.source == "discord" and decision.actor == "bob"


async def test_a_ticket_raised_on_discord_is_approved_from_the_cli(stack: DiscordStack) -> None:
    asked = await stack.slash("run", {"command": "test.guarded", "arguments": "note=from-dc"})
    card = await stack.card("test.guarded")
    ticket = button(card, APPROVE).split(":", 1)[1]
    await stack.engine.decide(ticket, Actor(Source.CLI, "bob"), True, "looks fine")
    await stack.settled()
    assert ran(stack.engine) == ["from-dc"]
    assert "Approved" in stack.fake.message(card.id).text
    assert "ran with note from-dc" in stack.original(asked).text
