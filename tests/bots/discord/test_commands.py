"""The ``/logomesh`` subcommands, mentions and direct messages, end to end on Discord.

Real parts: the discord.py client (its gateway connection, HTTP client, rate-limit buckets,
command tree and webhooks), the Discord adapter, the neutral bot, and one engine on the
workspace's SQLite file with the test commands; Discord itself is the loopback fake
(tests/bots/discord/fake_discord.py), which cannot be reached from here otherwise. Order,
not time: ``test.held`` waits at a gate while the test checks what already happened.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.chat.message import ChatMessage
from tests.bots.discord.fake_discord import BOT_USER_ID, CHANNEL_ID, DEV_ROLE_ID, GUILD_ID
from tests.bots.discord.harness import (
    ALICE,
    STRANGER,
    VERA,
    DiscordStack,
    Load,
    discord_stack,
    trail,
)

pytestmark = pytest.mark.asyncio

DEFERRED_WITH_THINKING = 5


async def test_a_command_is_deferred_before_it_runs_then_answered_in_one_edited_message(
    stack: DiscordStack,
) -> None:
    """The interaction is acknowledged (type 5, thinking) while the command still waits at
    the gate with no audit record; the progress and then the result replace the thinking
    message, one message edited, no other public message."""
    asked = await stack.slash("run", {"command": "test.held", "arguments": "note=first"})
    await stack.held(1)
    assert [r["type"] for r in stack.fake.responses(asked)] == [DEFERRED_WITH_THINKING]
    original = stack.original(asked)
    await stack.fake.wait_until(lambda: "step 1 of 2" in original.text, what="progress")
    stack.gate.open()
    await stack.settled()
    final = stack.original(asked)
    assert "✅" in final.text and "test.held" in final.text
    versions = [version["content"] for version in final.history]
    assert any("step 1 of 2" in text for text in versions)  # progress was this message
    others = [m for m in stack.fake.messages if m.interaction_id == asked.id and m is not final]
    assert others == []
    [record] = trail(stack.engine, action="test.held")
    assert record.source == "discord" and record.actor == "alice" and record.outcome == "ok"


async def test_the_person_arrives_with_their_guild_role_ids(stack: DiscordStack) -> None:
    """The ChatUser handed to the neutral bot carries the member's guild role ids as Discord
    sent them (identity resolution may grant LogoMesh roles by them)."""
    seen: list[ChatMessage] = []
    accept = stack.bot.accept

    def spy(message: ChatMessage, conversation: object) -> None:
        seen.append(message)
        accept(message, conversation)  # type: ignore[arg-type]

    stack.bot.accept = spy  # type: ignore[method-assign]
    asked = await stack.slash("run", {"command": "status"})
    await stack.answered(asked, "status")
    [message] = seen
    assert message.who.user_id == ALICE and DEV_ROLE_ID in message.who.roles
    assert message.where.workspace == GUILD_ID and message.text == "run status"
    await stack.settled()


async def test_help_is_private_from_the_thinking_message_on(stack: DiscordStack) -> None:
    """Help is deferred privately, so its thinking message and its answer (the same
    message) are the person's only; nothing public is left behind."""
    asked = await stack.slash("help", {"command": "test.slow"})
    [answer] = await stack.whispered(asked)
    assert answer.id == asked.original_message_id
    assert "test.slow" in answer.text and "seconds" in answer.text
    everything = await stack.slash("help")
    [listing] = await stack.whispered(everything)
    assert "Commands you may run" in listing.text
    files = dict(listing.attachments)  # the rows past Discord's limits, whole
    assert "test.held" in listing.text or b"test.held" in files["table.tsv"]
    assert [m for m in stack.fake.messages if not m.ephemeral] == []


async def test_a_private_answer_to_a_public_deferral_leaves_nothing_public(
    stack: DiscordStack,
) -> None:
    """Discord makes the first follow-up after a deferral the thinking message itself: a
    private answer to a public deferral ends the thinking first, then the note goes."""
    asked = await stack.slash("approvals")
    [none] = await stack.whispered(asked)
    assert "No approval tickets" in none.text and none.id != asked.original_message_id
    await stack.fake.wait_until(lambda: stack.original(asked).deleted, what="note deleted")


async def test_audit_answers_with_a_table(stack: DiscordStack) -> None:
    ran = await stack.slash("run", {"command": "status"})
    await stack.answered(ran, "✅")
    await stack.settled()
    audit = await stack.slash("audit", {"question": "last 5"})
    table = await stack.answered(audit, "status")
    assert "```" in table.content  # the records as a monospaced table


async def test_a_pipeline_runs_by_name(load: Load, workspace: Path) -> None:
    (workspace / "pipelines").mkdir(exist_ok=True)
    (workspace / "pipelines" / "smoke.yaml").write_text(
        "version: 1\nname: smoke\ndescription: One step.\nsteps:\n  - id: one\n    uses: status\n",
        encoding="utf-8",
    )
    async with discord_stack(load) as stack:
        asked = await stack.slash("pipeline", {"name": "smoke"})
        final = await stack.answered(asked, "✅")
        assert "smoke" in final.text
        await stack.settled()
        [record] = trail(stack.engine, action="pipeline.smoke")
        assert record.outcome == "ok" and record.source == "discord"


async def test_an_unknown_command_or_argument_is_named(stack: DiscordStack) -> None:
    unknown = await stack.slash("run", {"command": "test.hold"})
    wrong = await stack.slash("run", {"command": "test.long", "arguments": "colour=red"})
    await stack.answered(unknown, "❌")
    await stack.answered(wrong, "❌")
    said = stack.original(unknown).text
    assert "Unknown command 'test.hold'" in said and "test.held" in said  # the close match
    named = stack.original(wrong).text
    assert "colour" in named and "❌" in named
    assert {r.outcome for r in trail(stack.engine, action="test.long")} <= {"error", "denied"}


async def test_an_unmapped_user_is_refused_with_the_lines_to_add(stack: DiscordStack) -> None:
    asked = await stack.slash("run", {"command": "status"}, user=STRANGER)
    [refusal] = await stack.whispered(asked)
    assert f'discord = ["{STRANGER}"]' in refusal.text
    assert "[[security.identities]]" in refusal.text
    await stack.settled()
    [denied] = trail(stack.engine, action="status")
    assert denied.outcome == "denied" and denied.source == "discord"


async def test_autocomplete_offers_only_what_the_person_may_run(stack: DiscordStack) -> None:
    typed = await stack.fake.autocomplete("run", {"command": "test."}, "command")
    await stack.fake.wait_until(lambda: typed.choices is not None, what="choices")
    assert typed.choices is not None
    offered = [choice["value"] for choice in typed.choices]
    assert "test.held" in offered and "test.guarded" in offered
    viewer = await stack.fake.autocomplete("run", {"command": "test."}, "command", user=VERA)
    await stack.fake.wait_until(lambda: viewer.choices is not None, what="choices")
    assert viewer.choices == []  # vera's viewer role runs none of the test commands
    keys = await stack.fake.autocomplete(
        "run", {"command": "test.slow", "arguments": "seconds=1 "}, "arguments"
    )
    await stack.fake.wait_until(lambda: keys.choices is not None, what="choices")
    assert keys.choices is not None
    assert [choice["value"] for choice in keys.choices] == ["seconds=1 steps="]


async def test_long_output_is_cut_and_attached_whole(stack: DiscordStack) -> None:
    asked = await stack.slash("run", {"command": "test.long", "arguments": "lines=400"})
    final = await stack.answered(asked, "attached as output.txt")
    assert len(final.content) <= 2000
    [(name, content)] = final.attachments
    assert name == "output.txt" and content.decode().count("\n") == 399
    await stack.settled()


async def test_a_mention_is_answered_as_a_reply_and_a_dm_in_the_dm(stack: DiscordStack) -> None:
    said = await stack.fake.say("run status")
    await stack.fake.wait_until(
        lambda: any(m.author_id == BOT_USER_ID and "✅" in m.text for m in stack.fake.messages),
        what="the reply to the mention",
    )
    [reply] = [c for c in stack.fake.calls_to("POST", "/channels/{channel}/messages")][:1]
    reference = (reply.json or {}).get("message_reference", {})
    assert str(reference.get("message_id")) == said.id
    await stack.settled()

    direct = await stack.fake.say("run status", guild_id=None)
    await stack.fake.wait_until(
        lambda: any(
            m.channel_id == direct.channel_id and m.author_id == BOT_USER_ID and "✅" in m.text
            for m in stack.fake.messages
        ),
        what="the reply in the direct message",
    )
    await stack.settled()
    sources = {record.source for record in trail(stack.engine, action="status")}
    assert sources == {"discord"}


async def test_a_message_that_does_not_mention_the_bot_is_ignored(stack: DiscordStack) -> None:
    await stack.fake.say("run status", mentions_bot=False)
    await stack.fake.say("@everyone run status", mentions_bot=False)
    asked = await stack.slash("run", {"command": "status"})  # a later request, to wait on
    await stack.answered(asked, "✅")
    await stack.settled()
    assert len(trail(stack.engine, action="status")) == 1


async def test_do_reads_words_into_a_command(stack: DiscordStack) -> None:
    """Natural language through the engine's interpreter (its local model)."""
    asked = await stack.slash("do", {"request": "show the workspace status"})
    await stack.deferred(asked)
    await stack.fake.wait_until(
        lambda: bool(asked.original_message_id) and "⏳" not in stack.original(asked).text
        and not stack.original(asked).loading,
        timeout=60, what="the outcome in place of the progress",
    )  # fmt: skip
    await stack.settled(timeout=60)
    [interpreted] = trail(stack.engine, action="nl.interpret")
    assert interpreted.source == "discord" and interpreted.actor == "alice"


async def test_a_stranger_mentioning_the_bot_is_told_privately_by_direct_message(
    stack: DiscordStack,
) -> None:
    """A mention has no interaction to whisper through: the refusal is a direct message."""
    await stack.fake.say("run status", user=STRANGER)
    await stack.fake.wait_until(lambda: STRANGER in stack.fake.dm_channels, what="a DM channel")
    dm = stack.fake.dm_channels[STRANGER]
    await stack.fake.wait_until(
        lambda: any(f'discord = ["{STRANGER}"]' in m.text for m in stack.fake.channel_messages(dm)),
        what="the refusal in the direct message",
    )
    await stack.settled()
    assert not [m for m in stack.fake.channel_messages(CHANNEL_ID) if m.author_id == BOT_USER_ID]


async def test_closed_direct_messages_fall_back_to_a_reply_naming_the_person(
    stack: DiscordStack,
) -> None:
    stack.fake.fail_next(
        "POST", "/channels/{channel}/messages", status=403, code=50007,
        message="Cannot send messages to this user",
    )  # fmt: skip
    await stack.fake.say("run status", user=STRANGER)
    await stack.fake.wait_until(
        lambda: any(
            m.author_id == BOT_USER_ID and m.content.startswith(f"<@{STRANGER}>")
            for m in stack.fake.channel_messages(CHANNEL_ID)
        ),
        what="the refusal in the channel",
    )
    await stack.settled()


async def test_output_cannot_ping_everyone_or_a_role(stack: DiscordStack) -> None:
    """Command output is data: every message the bot sends allows user mentions only."""
    asked = await stack.slash("run", {"command": "test.fail", "arguments": "note=@everyone"})
    said = await stack.answered(asked, "❌")
    assert "@everyone" in said.text  # shown as it is...
    sends = [c for c in stack.fake.calls if c.method in ("POST", "PATCH") and c.json]
    bodies = [c.json for c in sends if isinstance(c.json, dict) and "content" in c.json]
    assert bodies
    for body in bodies:  # ...but never a ping
        assert body.get("allowed_mentions", {}).get("parse") == ["users"], body
    await stack.settled()
