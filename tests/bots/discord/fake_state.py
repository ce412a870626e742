"""What a Discord application holds for a bot: guilds, people, channels, messages,
interactions and commands, and the few rules every route shares.

The REST routes that change this state are in :mod:`.fake_webhooks` (an interaction's
callback and webhook) and :mod:`.fake_rest` (everything with the bot's token). A route
answers ``(status, body)`` or raises :class:`DiscordError`, which the server turns into
Discord's error body: ``{"message", "code"}``, and for 50035 the ``errors`` that name the
field (:mod:`.discord_limits`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tests.bots.discord import discord_payloads as payloads
from tests.bots.discord.discord_limits import invalid_form_body, message_errors
from tests.bots.discord.fake_models import FakeInteraction, FakeMessage, RestRequest

Answer = tuple[int, Any]
Handler = Callable[[RestRequest], Awaitable[Answer]]


class DiscordError(Exception):
    """A Discord error answer: ``{"message", "code"}`` (``errors`` for 50035)."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None):
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict[str, Any]:
        if self.errors is not None:
            return invalid_form_body(self.errors)
        return {"message": self.message, "code": self.code}


def unknown_message() -> DiscordError:
    return DiscordError(404, 10008, "Unknown Message")


def check_form(errors: dict[str, Any]) -> None:
    if errors:
        raise DiscordError(400, 50035, "Invalid Form Body", errors)


@dataclass(frozen=True)
class Route:
    """One REST route: ``template`` as Discord's docs write it, with ``{name}`` parameters."""

    method: str
    template: str
    handler: Handler
    bot_auth: bool = True
    pattern: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(self.template))
        object.__setattr__(self, "pattern", re.compile(f"^{regex}$"))

    @property
    def name(self) -> str:
        return f"{self.method} {self.template}"


def invalid(text: str, code: str = "INVALID_FORM_BODY") -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": text}]}


class DiscordState:
    """The application's state, and lookups every route shares."""

    def __init__(self, *, token_ttl_s: float, defer_window_s: float) -> None:
        self.token_ttl_s = token_ttl_s
        self.defer_window_s = defer_window_s
        self.snowflake = payloads.SnowflakeMint()
        self.users: dict[str, dict[str, Any]] = {}
        self.guilds: dict[str, dict[str, Any]] = {}  # id -> {name, roles, channels, members}
        self.dm_channels: dict[str, str] = {}  # user id -> DM channel id
        self.messages: list[FakeMessage] = []
        self.interactions: dict[str, FakeInteraction] = {}
        self.commands: dict[str | None, list[dict[str, Any]]] = {}  # guild id (None: global)
        self._by_token: dict[str, FakeInteraction] = {}
        self._messages_by_id: dict[str, FakeMessage] = {}
        # Gateway events for what the bot did, sent after each request's answer is made.
        self.echoes: list[tuple[str, dict[str, Any]]] = []

    def store(self, message: FakeMessage) -> FakeMessage:
        self.messages.append(message)
        self._messages_by_id[message.id] = message
        return message

    def find_message(self, message_id: str) -> FakeMessage | None:
        return self._messages_by_id.get(message_id)

    def register_interaction(self, interaction: FakeInteraction) -> None:
        self.interactions[interaction.id] = interaction
        self._by_token[interaction.token] = interaction

    def channel_payload(self, channel_id: str) -> dict[str, Any] | None:
        for guild_id, guild in self.guilds.items():
            if channel_id in guild["channels"]:
                position = list(guild["channels"]).index(channel_id)
                name = guild["channels"][channel_id]
                return payloads.text_channel(channel_id, guild_id, name, position)
        for user_id, dm_id in self.dm_channels.items():
            if dm_id == channel_id:
                return payloads.dm_channel(dm_id, self.users[user_id])
        return None

    def guild_of(self, channel_id: str) -> str | None:
        return next(
            (g for g, guild in self.guilds.items() if channel_id in guild["channels"]), None
        )

    def dm_channel_for(self, user_id: str) -> str:
        if user_id not in self.dm_channels:
            self.dm_channels[user_id] = self.snowflake()
        return self.dm_channels[user_id]

    def new_message(
        self,
        channel_id: str,
        body: dict[str, Any],
        *,
        files: list[tuple[str, bytes]] | None = None,
        **extra: Any,
    ) -> FakeMessage:
        message = FakeMessage(
            id=self.snowflake(),
            channel_id=channel_id,
            guild_id=self.guild_of(channel_id),
            author=extra.pop("author", payloads.bot_user()),
            **extra,
        )
        message.apply(body, files)
        self.store(message)
        if message.author_id == payloads.BOT_USER_ID:
            self.echo("MESSAGE_CREATE", message)
        return message

    def edit(self, message: FakeMessage, request: RestRequest) -> Answer:
        """An accepted edit (channel route or webhook): checked, applied, announced."""
        body = request.json if isinstance(request.json, dict) else {}
        check_form(message_errors(body))
        message.edit(body, request.files)
        self.echo("MESSAGE_UPDATE", message)
        return 200, message.payload()

    def delete(self, message: FakeMessage) -> Answer:
        message.deleted = True
        self.echo("MESSAGE_DELETE", message)
        return 204, None

    def echo(self, event: str, message: FakeMessage) -> None:
        """Queue the MESSAGE_CREATE/UPDATE/DELETE Discord sends every session for a bot's
        own message (never for an ephemeral one, which only its person sees)."""
        if message.ephemeral:
            return
        if event == "MESSAGE_DELETE":
            data = {"id": message.id, "channel_id": message.channel_id}
            if message.guild_id is not None:
                data["guild_id"] = message.guild_id
        else:
            data = message.payload()
        self.echoes.append((event, data))

    def _guild(self, guild_id: str) -> dict[str, Any]:
        if guild_id not in self.guilds:
            raise DiscordError(404, 10004, "Unknown Guild")
        return self.guilds[guild_id]

    def command_id(self, name: str, guild_id: str | None) -> str:
        for scope in (guild_id, None):
            for command in self.commands.get(scope, []):
                if command["name"] == name:
                    return str(command["id"])
        return payloads.APP_ID  # unregistered: discord.py's CommandTree looks commands up by name
