"""The Conversation port on Discord: answers to one interaction, click or message.

A slash command is deferred with a "thinking" message (its *original response*) before any
work; the first reply replaces it, later replies are follow-ups, and a private reply is an
ephemeral follow-up. Discord turns the first follow-up after a deferral into the thinking
message itself, public or private as the deferral was; so a private reply to a public
deferral first ends the thinking with a short note, follows up privately, then deletes the
note, and a command whose answers are all private (``help``) is deferred privately.
All of that goes through the interaction's webhook token, which Discord honours for 15
minutes. A command can run longer (an approval waits up to ``approval_timeout_s``), so
the token is counted from when the interaction arrived, with a minute's margin, and a
refusal of it (401, code 50027) also ends it: from then on the conversation answers as a
bot in the channel, where it may edit its earlier non-ephemeral replies too. An ephemeral
message can be reached only through the token; a change to one after that is logged.

A click's conversation edits the clicked message through the click's own interaction. A
mention or a direct message has no interaction: replies are channel messages, the first
one a reply to the person's message, and a whisper is a direct message (or, when the
person accepts none, a reply in the channel that names them).

Errors that survive discord.py's own retries (it waits out a 429 and retries a 5xx) are
raised to the neutral bot, which logs them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import Enum
from typing import Any

import discord

from bots.chat.message import ChatPlace
from bots.chat.render import Reply
from bots.discord.render import CONTENT_CHARS, DiscordMessage, to_discord

log = logging.getLogger(__name__)

TOKEN_LIFETIME_S = 15 * 60.0
TOKEN_MARGIN_S = 60.0  # a follow-up started just before the end must still land
EXPIRED_TOKEN = 50027  # "Invalid Webhook Token": the 15 minutes are over
UNKNOWN_WEBHOOK = 10015
DMS_CLOSED = 50007  # "Cannot send messages to this user"


class Kind(Enum):
    """How a message of ours can be reached again."""

    ORIGINAL = "original"  # the interaction's original response
    FOLLOWUP = "followup"
    EPHEMERAL = "ephemeral"  # a follow-up only the person sees: token only
    EPHEMERAL_ORIGINAL = "ephemeral original"  # a private deferral's original: token only
    CHANNEL = "channel"  # a bot message in a channel (or a direct message)


class Thinking(Enum):
    """How a slash command was deferred: who sees its "thinking" original response."""

    PUBLIC = "public"
    PRIVATE = "private"


class DiscordConversation:
    """Answers in ``place`` to the person ``user_id``; through ``interaction`` while its
    token lasts, as channel messages after (or without one)."""

    def __init__(
        self,
        client: discord.Client,
        place: ChatPlace,
        user_id: str,
        *,
        interaction: discord.Interaction[Any] | None = None,
        thinking: Thinking | None = None,
        clicked: str | None = None,
        reply_to: str | None = None,
        mention: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``thinking``: the interaction was deferred with a thinking message (public or
        private), which the first reply fills; ``clicked``: the message whose button made
        the interaction; ``reply_to``: the person's message the first channel reply
        answers; ``mention``: name the person in the first channel message (an
        interaction that came too late)."""
        self._client = client
        self._place = place
        self._user_id = user_id
        self._interaction = interaction
        self._thinking = thinking
        self._reply_to = reply_to
        self._mention = mention
        self._clock = clock
        self._deadline = clock() + TOKEN_LIFETIME_S - TOKEN_MARGIN_S
        self._refs: dict[str, tuple[Kind, str]] = {}
        self._note: str | None = None  # the note that ended a public thinking message
        if clicked is not None:
            self._refs[clicked] = (Kind.ORIGINAL, place.channel)

    @property
    def through_token(self) -> bool:
        """Whether replies still go through the interaction's token."""
        return self._interaction is not None and self._clock() < self._deadline

    async def post(self, reply: Reply) -> str:
        message = to_discord(reply)
        if reply.private:
            return await self._private(message)
        if self.through_token:
            try:
                return await self._post_with_token(message)
            except discord.HTTPException as exc:
                self._end_token_if_expired(exc)
        return await self._channel_send(message)

    async def update(self, ref: str, reply: Reply) -> None:
        message = to_discord(reply)
        kind, channel = self._refs.get(ref, (Kind.CHANNEL, self._place.channel))
        if kind is not Kind.CHANNEL and self.through_token:
            try:
                await self._edit_with_token(kind, ref, message)
                return
            except discord.HTTPException as exc:
                self._end_token_if_expired(exc)
        if kind in (Kind.EPHEMERAL, Kind.EPHEMERAL_ORIGINAL):
            log.warning("Cannot update private message %s: its interaction's token expired", ref)
            return
        partial = self._client.get_partial_messageable(int(channel)).get_partial_message(int(ref))
        await partial.edit(**_edit_fields(message))

    async def whisper(self, reply: Reply) -> None:
        await self._private(to_discord(reply))

    # -- through the interaction's token ---------------------------------------------------

    async def _post_with_token(self, message: DiscordMessage) -> str:
        interaction = self._require_interaction()
        if self._thinking is Thinking.PUBLIC:
            sent: discord.Message = await interaction.edit_original_response(
                **_edit_fields(message)
            )
            self._thinking = None
            return self._keep(sent, Kind.ORIGINAL)
        if self._thinking is Thinking.PRIVATE:
            await self._end_thinking(interaction, "⏩ The answer is below.")
        sent = await interaction.followup.send(wait=True, **_send_fields(message))
        return self._keep(sent, Kind.FOLLOWUP)

    async def _edit_with_token(self, kind: Kind, ref: str, message: DiscordMessage) -> None:
        interaction = self._require_interaction()
        if kind in (Kind.ORIGINAL, Kind.EPHEMERAL_ORIGINAL):
            await interaction.edit_original_response(**_edit_fields(message))
        else:
            await interaction.followup.edit_message(int(ref), **_edit_fields(message))

    def _require_interaction(self) -> discord.Interaction[Any]:
        if self._interaction is None:
            raise RuntimeError("this conversation has no interaction")
        return self._interaction

    def _end_token_if_expired(self, exc: discord.HTTPException) -> None:
        if exc.code not in (EXPIRED_TOKEN, UNKNOWN_WEBHOOK):
            raise exc
        log.info("The interaction's token expired; answering in the channel from now on")
        self._deadline = self._clock()

    # -- private replies --------------------------------------------------------------------

    async def _private(self, message: DiscordMessage) -> str:
        if self.through_token:
            try:
                return await self._private_with_token(message)
            except discord.HTTPException as exc:
                self._end_token_if_expired(exc)
        if self._place.workspace is None:
            return await self._channel_send(message)  # a direct message is private already
        try:
            dm = await self._client.create_dm(discord.Object(int(self._user_id)))
            sent = await dm.send(**_send_fields(message))
        except discord.Forbidden as exc:
            if exc.code != DMS_CLOSED:
                raise
            log.info("User %s accepts no direct messages; answering in the channel", self._user_id)
            self._mention = True
            return await self._channel_send(message)
        return self._keep(sent, Kind.CHANNEL, str(dm.id))

    async def _private_with_token(self, message: DiscordMessage) -> str:
        interaction = self._require_interaction()
        if self._thinking is Thinking.PRIVATE:
            sent = await interaction.edit_original_response(**_edit_fields(message))
            self._thinking = None
            return self._keep(sent, Kind.EPHEMERAL_ORIGINAL)
        if self._thinking is Thinking.PUBLIC:
            await self._end_thinking(interaction, "🔒 Answered privately.")
        private = await interaction.followup.send(
            wait=True, ephemeral=True, **_send_fields(message)
        )
        await self._drop_note(interaction)
        return self._keep(private, Kind.EPHEMERAL)

    async def _end_thinking(self, interaction: discord.Interaction[Any], note: str) -> None:
        """Replace the thinking message with ``note``, so that the next follow-up is a
        message of its own (public or private as it asks), not the thinking message."""
        ended = await interaction.edit_original_response(content=note, embeds=[], view=None)
        self._thinking = None
        self._note = str(ended.id)

    async def _drop_note(self, interaction: discord.Interaction[Any]) -> None:
        """The note said only that the answer was elsewhere: it goes once that is sent."""
        if self._note is None:
            return
        self._note = None
        try:
            await interaction.delete_original_response()
        except discord.HTTPException as exc:
            log.info("Could not delete the note that ended the thinking message: %s", exc)

    # -- as a bot in the channel --------------------------------------------------------------

    async def _channel_send(self, message: DiscordMessage) -> str:
        channel = self._client.get_partial_messageable(int(self._place.channel))
        fields = _send_fields(message)
        if self._mention:
            self._mention = False
            named = f"<@{self._user_id}> {message.content}"
            if len(named) <= CONTENT_CHARS:
                fields["content"] = named
        if self._reply_to is not None:
            fields["reference"] = channel.get_partial_message(int(self._reply_to)).to_reference(
                fail_if_not_exists=False
            )
            self._reply_to = None
        sent = await channel.send(**fields)
        return self._keep(sent, Kind.CHANNEL)

    def _keep(self, sent: discord.Message, kind: Kind, channel: str | None = None) -> str:
        ref = str(sent.id)
        self._refs[ref] = (kind, channel or str(sent.channel.id))
        return ref


def _send_fields(message: DiscordMessage) -> dict[str, Any]:
    """A new message: only what it has (discord.py reads a given ``view=None`` as a view)."""
    fields: dict[str, Any] = {}
    if message.content:
        fields["content"] = message.content
    if message.embeds:
        fields["embeds"] = list(message.embeds)
    view = message.view()
    if view is not None:
        fields["view"] = view
    files = message.files()
    if files:
        fields["files"] = files
    return fields


def _edit_fields(message: DiscordMessage) -> dict[str, Any]:
    """A replaced message: everything given, so what the new version lacks is removed."""
    return {
        "content": message.content or None,
        "embeds": list(message.embeds),
        "view": message.view(),
        "attachments": message.files(),
    }
