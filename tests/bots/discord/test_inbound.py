"""discord.py's objects into the neutral message model (bots.discord.inbound).

Real parts: discord.py's own ``Message`` and ``Interaction`` built from the payloads Discord
sends (tests/bots/discord/discord_payloads.py) on a real client's connection state, with an
empty guild cache, as in HTTP-interactions mode or before GUILD_CREATE. No Discord is
involved; the same paths run end to end in the other tests against the loopback Discord.
"""

from __future__ import annotations

from typing import Any

import discord
import pytest

from bots.chat.message import Arrival
from bots.discord.inbound import arrival_of, message_from_message, user_of
from logomesh.commands.values import Source
from tests.bots.discord import discord_payloads as payloads
from tests.bots.discord.discord_payloads import (
    BOT_USER_ID,
    CHANNEL_ID,
    DEV_ROLE_ID,
    GUILD_ID,
    USER_ID,
)

BOT = int(BOT_USER_ID)
ALICE = payloads.user(USER_ID, "alice")


@pytest.fixture
def state() -> Any:
    connection = discord.Client(intents=discord.Intents.none())._connection
    connection.user = discord.ClientUser(
        state=connection, data=payloads.bot_user()
    )  # as login does
    return connection


def message(
    state: Any,
    content: str,
    *,
    author: dict[str, Any] = ALICE,
    guild: bool = True,
    mentions: tuple[dict[str, Any], ...] = (),
    **extra: Any,
) -> discord.Message:
    data: dict[str, Any] = {
        "id": "1300000000000000001", "channel_id": CHANNEL_ID, "author": author,
        "content": content, "timestamp": payloads.iso_now(), "edited_timestamp": None,
        "tts": False, "mention_everyone": "@everyone" in content, "mentions": list(mentions),
        "mention_roles": [], "attachments": [], "embeds": [], "pinned": False, "type": 0,
        **extra,
    }  # fmt: skip
    if guild:
        data["guild_id"] = GUILD_ID
        channel: Any = discord.PartialMessageable(
            state=state, id=int(CHANNEL_ID), guild_id=int(GUILD_ID)
        )
    else:
        channel = discord.DMChannel(
            me=None, state=state, data=payloads.dm_channel(CHANNEL_ID, ALICE)
        )  # type: ignore[arg-type]
    return discord.Message(state=state, channel=channel, data=data)  # type: ignore[arg-type]


def test_a_mention_of_the_bot_in_an_uncached_guild_is_a_mention(state: Any) -> None:
    said = message(state, f"<@{BOT}> run git.status", mentions=(payloads.bot_user(),))
    assert said.guild is None  # discord.py's cache knows no guild here
    assert arrival_of(said, BOT) is Arrival.MENTION
    chat = message_from_message(said, BOT, Arrival.MENTION)
    assert chat.text == "run git.status"
    assert chat.where.workspace == GUILD_ID and chat.where.thread == str(said.id)


def test_messages_not_for_the_bot_are_ignored(state: Any) -> None:
    assert arrival_of(message(state, "run git.status"), BOT) is None
    assert arrival_of(message(state, "@everyone run git.status"), BOT) is None
    other = payloads.user("1184000000000000777", "carol")
    assert arrival_of(message(state, "<@1184000000000000777> hi", mentions=(other,)), BOT) is None


def test_bots_webhooks_and_the_bot_itself_are_ignored(state: Any) -> None:
    mention = f"<@{BOT}> run status"
    another_bot = payloads.user("1184000000000000888", "ci", bot=True)
    assert arrival_of(message(state, mention, author=another_bot), BOT) is None
    assert arrival_of(message(state, mention, author=payloads.bot_user()), BOT) is None
    hooked = message(state, mention, webhook_id="1184000000000000999")
    assert arrival_of(hooked, BOT) is None


def test_a_direct_message_is_direct_and_keeps_its_words(state: Any) -> None:
    said = message(state, "what changed today?", guild=False)
    assert arrival_of(said, BOT) is Arrival.DIRECT
    chat = message_from_message(said, BOT, Arrival.DIRECT)
    assert chat.text == "what changed today?" and chat.where.workspace is None


def test_a_member_carries_their_role_ids_without_the_guild_cache(state: Any) -> None:
    data = payloads.interaction(
        "1300000000000000100", "tok", 2,
        payloads.command_data("1300000000000000200", "logomesh", "run", {"command": "status"}),
        person=ALICE, roles=[DEV_ROLE_ID], guild_id=GUILD_ID,
        channel=payloads.text_channel(CHANNEL_ID, GUILD_ID, "general"),
    )  # fmt: skip
    interaction = discord.Interaction(data=data, state=state)  # type: ignore[arg-type]
    person = user_of(interaction.user)
    assert person.platform is Source.DISCORD and person.user_id == USER_ID
    assert person.roles == (DEV_ROLE_ID,) and person.display_name == "Alice"
