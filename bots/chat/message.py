"""The neutral message model every chat platform translates to, as errbot keeps one.

A platform adapter turns what it received (a Slack slash command, a Discord interaction, a
mention, a direct message, a button click) into these values and hands them to the neutral
bot (:mod:`bots.chat.dispatch`); nothing past that point knows which platform it was. The
message's ``correlation_id`` is the one every engine request it causes carries, so the audit
trail links the chat message, the interpretation, the command and its model calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from logomesh.commands.values import Actor, Source, new_id


class Arrival(StrEnum):
    """How a message reached the bot; it decides how the text is read."""

    SLASH = "slash"  # ``/logomesh run ...``: the subcommand grammar (bots.chat.parse)
    MENTION = "mention"  # ``@LogoMesh what changed?``: natural language
    DIRECT = "direct"  # a direct message to the bot: natural language
    BUTTON = "button"  # a click on one of the bot's buttons


@dataclass(frozen=True, slots=True)
class ChatUser:
    """Who: a person as the platform knows them (``roles``: a Discord member's guild roles)."""

    platform: Source
    user_id: str
    display_name: str | None = None
    roles: tuple[str, ...] = ()

    @property
    def actor(self) -> Actor:
        return Actor(self.platform, self.user_id, self.display_name, self.roles)

    @property
    def mention(self) -> str:
        """How a reply names them: the platform renders ``<@id>`` as a mention."""
        return f"<@{self.user_id}>"


@dataclass(frozen=True, slots=True)
class ChatPlace:
    """Where: the workspace (Slack team, Discord guild), channel and thread of a message."""

    workspace: str | None
    channel: str
    thread: str | None = None


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One thing a person said to the bot."""

    who: ChatUser
    where: ChatPlace
    text: str
    arrival: Arrival
    correlation_id: str = field(default_factory=new_id)


@dataclass(frozen=True, slots=True)
class ButtonClick:
    """A click on a button the bot rendered: its ``action`` and ``value`` (a ticket id), and
    the platform's id of the message it sits on, so the message can be updated."""

    who: ChatUser
    where: ChatPlace
    action: str
    value: str
    message_ref: str | None = None
    correlation_id: str = field(default_factory=new_id)
