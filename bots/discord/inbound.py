"""discord.py's objects in, the neutral message model out: the only place that reads them.

A slash command's interaction, a message that mentions the bot (or a direct message), and
a button click each become a :class:`~bots.chat.message.ChatMessage` or
:class:`~bots.chat.message.ButtonClick`; nothing past this module knows discord.py.

A person is their user id (a snowflake) and, in a guild, the ids of their guild roles,
which the configuration may grant LogoMesh roles to. Places are the guild (None in a direct
message), the channel, and for a mention the message itself, which the first reply answers.
"""

from __future__ import annotations

import re
from typing import Any

import discord

from bots.chat.message import Arrival, ButtonClick, ChatMessage, ChatPlace, ChatUser
from logomesh.commands.values import Source


def user_of(who: discord.User | discord.Member) -> ChatUser:
    """The person, with the ids of their guild roles when Discord sent a member."""
    roles: tuple[str, ...] = ()
    if isinstance(who, discord.Member):
        # The role ids as Discord sent them with the member. ``Member.roles`` resolves them
        # through the guild cache, which is empty before GUILD_CREATE arrives and always in
        # HTTP-interactions mode (no gateway), so it would silently drop every role.
        roles = tuple(str(role_id) for role_id in who._roles)
    return ChatUser(Source.DISCORD, str(who.id), who.display_name, roles)


def place_of(interaction: discord.Interaction[Any]) -> ChatPlace:
    guild = str(interaction.guild_id) if interaction.guild_id else None
    return ChatPlace(guild, str(interaction.channel_id or ""), None)


def message_from_interaction(interaction: discord.Interaction[Any], text: str) -> ChatMessage:
    """A slash command, as the words the neutral grammar reads (``run git.log limit=5``)."""
    return ChatMessage(user_of(interaction.user), place_of(interaction), text, Arrival.SLASH)


def click_from_interaction(
    interaction: discord.Interaction[Any], action: str, value: str
) -> ButtonClick:
    """A click on an approval button, with the message it sits on (which the decision
    redraws)."""
    message = interaction.message
    ref = str(message.id) if message is not None else None
    place = place_of(interaction)
    return ButtonClick(user_of(interaction.user), place, action, value, message_ref=ref)


def arrival_of(message: discord.Message, bot_id: int) -> Arrival | None:
    """How ``message`` reaches the bot: a direct message, a mention of the bot, or None
    (not for the bot; from a bot, a webhook or the bot itself)."""
    author = message.author
    if author.bot or message.webhook_id is not None or author.id == bot_id:
        return None
    if guild_of(message) is None:
        return Arrival.DIRECT
    # The bot named in the text, or a reply that pings it; not @everyone or a role (what
    # ``mentioned_in`` counts): those are for people.
    if bot_id in message.raw_mentions or any(user.id == bot_id for user in message.mentions):
        return Arrival.MENTION
    return None


def guild_of(message: discord.Message) -> int | None:
    """The message's guild id, None for a direct message. ``message.guild`` is None also
    for a guild not in discord.py's cache (before its GUILD_CREATE): such a message is no
    direct message, and its channel still knows the guild's id."""
    if message.guild is not None:
        return message.guild.id
    guild_id = getattr(message.channel, "guild_id", None)
    return guild_id if isinstance(guild_id, int) else None


def message_from_message(message: discord.Message, bot_id: int, arrival: Arrival) -> ChatMessage:
    """A mention (the bot's leading ``<@id>`` stripped) or a direct message; replies answer
    the message itself."""
    text = message.content
    if arrival is Arrival.MENTION:
        text = re.sub(rf"^\s*<@!?{bot_id}>[\s:,]*", "", text, count=1)
    guild = guild_of(message)
    where = ChatPlace(str(guild) if guild else None, str(message.channel.id), str(message.id))
    return ChatMessage(user_of(message.author), where, text.strip(), arrival)
