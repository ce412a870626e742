"""What a Discord application holds for a bot, and how the REST routes a bot calls change it.

Kept apart from the HTTP server (:mod:`tests.bots.discord.fake_discord`) so that Discord's
rules read in one place: an interaction is answered once, within its window (404 10062
"Unknown interaction" after it, 400 40060 when answered twice); a deferred answer (type 5)
shows a "thinking" message that the first follow-up (or an edit of ``@original``) replaces;
the interaction's token opens its webhook for 15 minutes (401 50027 after); ephemeral
messages are reachable through that webhook only; the bot edits only its own messages; and
every message body is checked against Discord's limits (:mod:`.discord_limits`).

A route answers ``(status, body)`` or raises :class:`DiscordError` with Discord's code.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tests.bots.discord import discord_payloads as payloads
from tests.bots.discord.discord_limits import choices_errors, invalid_form_body, message_errors
from tests.bots.discord.fake_models import FakeInteraction, FakeMessage, RestRequest

Answer = tuple[int, Any]
Handler = Callable[[RestRequest], Awaitable[Answer]]
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


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


class DiscordRest:
    """Guilds, users, channels, messages, interactions and commands, changed by the routes."""

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
        self.routes = [
            Route("GET", "/users/@me", self._me),
            Route("GET", "/users/{user}", self._user),
            Route("POST", "/users/@me/channels", self._open_dm),
            Route("GET", "/oauth2/applications/@me", self._app_info),
            Route("GET", "/gateway", self._gateway, bot_auth=False),
            Route("GET", "/gateway/bot", self._gateway),
            Route("GET", "/applications/{app}/commands", self._get_commands),
            Route("PUT", "/applications/{app}/commands", self._put_commands),
            Route("GET", "/applications/{app}/guilds/{guild}/commands", self._get_commands),
            Route("PUT", "/applications/{app}/guilds/{guild}/commands", self._put_commands),
            Route("GET", "/guilds/{guild}/members/{user}", self._member),
            Route("GET", "/guilds/{guild}/roles", self._roles),
            Route("POST", "/interactions/{id}/{token}/callback", self._callback, bot_auth=False),
            Route("GET", "/webhooks/{app}/{token}/messages/@original", self._get_original, False),
            Route(
                "PATCH", "/webhooks/{app}/{token}/messages/@original", self._edit_original, False
            ),
            Route(
                "DELETE", "/webhooks/{app}/{token}/messages/@original", self._delete_original, False
            ),
            Route("POST", "/webhooks/{app}/{token}", self._follow_up, bot_auth=False),
            Route("GET", "/webhooks/{app}/{token}/messages/{message_id}", self._get_hooked, False),
            Route(
                "PATCH", "/webhooks/{app}/{token}/messages/{message_id}", self._edit_hooked, False
            ),
            Route(
                "DELETE",
                "/webhooks/{app}/{token}/messages/{message_id}",
                self._delete_hooked,
                False,
            ),
            Route("GET", "/channels/{channel}", self._channel),
            Route("POST", "/channels/{channel}/messages", self._post_message),
            Route("GET", "/channels/{channel}/messages/{message_id}", self._get_message),
            Route("PATCH", "/channels/{channel}/messages/{message_id}", self._edit_message),
            Route("DELETE", "/channels/{channel}/messages/{message_id}", self._delete_message),
        ]

    gateway_url = ""  # the server sets it once it knows its port

    # -- state ------------------------------------------------------------------------------

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
        return self.store(message)

    # -- identity and discovery -------------------------------------------------------------

    async def _me(self, request: RestRequest) -> Answer:
        return 200, payloads.bot_user()

    async def _user(self, request: RestRequest) -> Answer:
        found = self.users.get(request.params["user"])
        if found is None:
            raise DiscordError(404, 10013, "Unknown User")
        return 200, found

    async def _app_info(self, request: RestRequest) -> Answer:
        return 200, payloads.application_info()

    async def _gateway(self, request: RestRequest) -> Answer:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return 200, {"url": self.gateway_url, "shards": 1, "session_start_limit": limit}

    async def _member(self, request: RestRequest) -> Answer:
        guild = self._guild(request.params["guild"])
        user_id = request.params["user"]
        if user_id not in guild["members"]:
            raise DiscordError(404, 10007, "Unknown Member")
        return 200, payloads.member(self.users[user_id], guild["members"][user_id])

    async def _roles(self, request: RestRequest) -> Answer:
        guild = self._guild(request.params["guild"])
        return 200, guild["role_payloads"]

    def _guild(self, guild_id: str) -> dict[str, Any]:
        if guild_id not in self.guilds:
            raise DiscordError(404, 10004, "Unknown Guild")
        return self.guilds[guild_id]

    async def _open_dm(self, request: RestRequest) -> Answer:
        recipient = str((request.json or {}).get("recipient_id", ""))
        if recipient not in self.users:
            raise DiscordError(400, 50033, "Invalid Recipient(s)")
        channel = self.channel_payload(self.dm_channel_for(recipient))
        return 200, channel

    # -- application commands ---------------------------------------------------------------

    def _scope(self, request: RestRequest) -> str | None:
        if request.params["app"] != payloads.APP_ID:
            raise DiscordError(403, 50001, "Missing Access")
        guild = request.params.get("guild")
        if guild is not None:
            self._guild(guild)
        return guild

    async def _get_commands(self, request: RestRequest) -> Answer:
        return 200, self.commands.get(self._scope(request), [])

    async def _put_commands(self, request: RestRequest) -> Answer:
        scope = self._scope(request)
        body = request.json if isinstance(request.json, list) else []
        errors = {
            str(i): {"name": _invalid("Command name is invalid", "APPLICATION_COMMAND_NAME")}
            for i, command in enumerate(body)
            if not _valid_command_name(command.get("name"))
        }
        check_form(errors)
        known = {command["name"]: command["id"] for command in self.commands.get(scope, [])}
        stored = []
        for command in body:
            entry = {
                "type": 1,
                "description": "",
                "options": [],
                "default_member_permissions": None,
                "dm_permission": True,
                "nsfw": False,
                **command,
                "id": known.get(command["name"]) or self.snowflake(),
                "application_id": payloads.APP_ID,
                "version": self.snowflake(),
            }
            if scope is not None:
                entry["guild_id"] = scope
            stored.append(entry)
        self.commands[scope] = stored
        return 200, stored

    def command_id(self, name: str, guild_id: str | None) -> str:
        for scope in (guild_id, None):
            for command in self.commands.get(scope, []):
                if command["name"] == name:
                    return str(command["id"])
        return payloads.APP_ID  # unregistered: discord.py's CommandTree looks commands up by name

    # -- interaction responses --------------------------------------------------------------

    async def _callback(self, request: RestRequest) -> Answer:
        interaction = self.interactions.get(request.params["id"])
        if interaction is None or interaction.token != request.params["token"]:
            raise DiscordError(404, 10062, "Unknown interaction")
        if interaction.acknowledged:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - interaction.created_at > self.defer_window_s:
            raise DiscordError(404, 10062, "Unknown interaction")
        body = request.json if isinstance(request.json, dict) else {}
        kind = body.get("type")
        data = body.get("data") or {}
        message = self._respond(interaction, kind, data, request.files)
        interaction.responses.append(body)
        interaction.response_type = kind
        if request.query.get("with_response") not in ("1", "true", "True"):
            return 204, None
        answer: dict[str, Any] = {
            "interaction": {
                "id": interaction.id,
                "type": interaction.type,
                "response_message_loading": kind == payloads.DEFERRED_MESSAGE,
                "response_message_ephemeral": bool(message and message.ephemeral),
            },
            "resource": {"type": kind},
        }
        if message is not None:
            answer["interaction"]["response_message_id"] = message.id
            answer["resource"]["message"] = message.payload()
        return 200, answer

    def _respond(
        self, interaction: FakeInteraction, kind: Any, data: dict[str, Any], files: list[Any]
    ) -> FakeMessage | None:
        """Apply one callback body; the message it shows (None for 6, 8 and 9)."""
        clicked = self.find_message(interaction.message_id) if interaction.message_id else None
        if kind in (payloads.CHANNEL_MESSAGE, payloads.UPDATE_MESSAGE):
            check_form({"data": errors} if (errors := message_errors(data)) else {})
        if kind == payloads.AUTOCOMPLETE_RESULT:
            if interaction.type != payloads.AUTOCOMPLETE:
                raise DiscordError(
                    400,
                    50035,
                    "Invalid Form Body",
                    {"type": _invalid("Not an autocomplete interaction")},
                )
            check_form({"data": errors} if (errors := choices_errors(data)) else {})
            interaction.choices = list(data["choices"])
            return None
        if kind in (payloads.DEFERRED_UPDATE, payloads.UPDATE_MESSAGE):
            if clicked is None:
                raise DiscordError(
                    400,
                    50035,
                    "Invalid Form Body",
                    {"type": _invalid("Only for component interactions")},
                )
            interaction.original_message_id = clicked.id
            if kind == payloads.UPDATE_MESSAGE:
                clicked.edit(data, files)
                return clicked
            return None
        if kind in (payloads.CHANNEL_MESSAGE, payloads.DEFERRED_MESSAGE):
            flags = int(data.get("flags") or 0) & payloads.EPHEMERAL
            body = data if kind == payloads.CHANNEL_MESSAGE else {"content": ""}
            message = self.new_message(
                interaction.channel_id,
                {
                    **body,
                    "flags": flags | (payloads.LOADING if kind == payloads.DEFERRED_MESSAGE else 0),
                },
                interaction_id=interaction.id,
                webhook=True,
                files=files,
            )
            interaction.original_message_id = message.id
            return message
        if kind == payloads.MODAL:
            return None
        raise DiscordError(
            400,
            50035,
            "Invalid Form Body",
            {"type": _invalid(f"Value {kind!r} is not a valid response type")},
        )

    # -- the interaction's webhook ----------------------------------------------------------

    def _hooked(self, request: RestRequest) -> FakeInteraction:
        if request.params["app"] != payloads.APP_ID:
            raise DiscordError(404, 10015, "Unknown Webhook")
        interaction = self._by_token.get(request.params["token"])
        if interaction is None or interaction.expired(self.token_ttl_s):
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        return interaction

    def _hooked_message(self, request: RestRequest, message_id: str | None = None) -> FakeMessage:
        interaction = self._hooked(request)
        wanted = message_id or request.params.get("message_id")
        if wanted is None:
            wanted = interaction.original_message_id
        message = self.find_message(wanted) if wanted else None
        mine = message is not None and (
            message.interaction_id == interaction.id
            or message.id == interaction.original_message_id
        )
        if message is None or message.deleted or not mine:
            raise unknown_message()
        return message

    async def _get_original(self, request: RestRequest) -> Answer:
        return 200, self._hooked_message(request).payload()

    async def _edit_original(self, request: RestRequest) -> Answer:
        return await self._edit_hooked(request)

    async def _delete_original(self, request: RestRequest) -> Answer:
        return await self._delete_hooked(request)

    async def _get_hooked(self, request: RestRequest) -> Answer:
        return 200, self._hooked_message(request).payload()

    async def _edit_hooked(self, request: RestRequest) -> Answer:
        message = self._hooked_message(request)
        body = request.json if isinstance(request.json, dict) else {}
        check_form(message_errors(body))
        message.edit(body, request.files)
        return 200, message.payload()

    async def _delete_hooked(self, request: RestRequest) -> Answer:
        self._hooked_message(request).deleted = True
        return 204, None

    async def _follow_up(self, request: RestRequest) -> Answer:
        interaction = self._hooked(request)
        if not interaction.acknowledged:
            raise DiscordError(404, 10015, "Unknown Webhook")
        body = request.json if isinstance(request.json, dict) else {}
        check_form(message_errors(body))
        original = self.find_message(interaction.original_message_id or "")
        if original is not None and original.loading and not original.deleted:
            # Discord's rule: the first follow-up after a deferral replaces the "thinking"
            # message, keeping the deferral's ephemeral state.
            original.edit({k: v for k, v in body.items() if k != "flags"}, request.files)
            return 200, original.payload()
        flags = int(body.get("flags") or 0) & (payloads.EPHEMERAL | 4096)
        message = self.new_message(
            interaction.channel_id,
            {**body, "flags": flags},
            interaction_id=interaction.id,
            webhook=True,
            files=request.files,
        )
        return 200, message.payload()

    # -- channel messages -------------------------------------------------------------------

    def _known_channel(self, channel_id: str) -> dict[str, Any]:
        channel = self.channel_payload(channel_id)
        if channel is None:
            raise DiscordError(404, 10003, "Unknown Channel")
        return channel

    def _channel_message(self, request: RestRequest) -> FakeMessage:
        channel_id = self._known_channel(request.params["channel"])["id"]
        message = self.find_message(request.params["message_id"])
        if (
            message is None
            or message.channel_id != channel_id
            or message.deleted
            or message.ephemeral
        ):
            raise unknown_message()  # ephemeral messages exist for their webhook alone
        return message

    async def _channel(self, request: RestRequest) -> Answer:
        return 200, self._known_channel(request.params["channel"])

    async def _post_message(self, request: RestRequest) -> Answer:
        channel_id = self._known_channel(request.params["channel"])["id"]
        body = request.json if isinstance(request.json, dict) else {}
        check_form(message_errors(body))
        if (
            not any(body.get(key) for key in ("content", "embeds", "components"))
            and not request.files
        ):
            raise DiscordError(400, 50006, "Cannot send an empty message")
        flags = int(body.get("flags") or 0) & 4096  # ephemeral is for interactions only
        message = self.new_message(channel_id, {**body, "flags": flags}, files=request.files)
        return 200, message.payload()

    async def _get_message(self, request: RestRequest) -> Answer:
        return 200, self._channel_message(request).payload()

    async def _edit_message(self, request: RestRequest) -> Answer:
        message = self._channel_message(request)
        if message.author_id != payloads.BOT_USER_ID:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        body = request.json if isinstance(request.json, dict) else {}
        check_form(message_errors(body))
        message.edit(body, request.files)
        return 200, message.payload()

    async def _delete_message(self, request: RestRequest) -> Answer:
        self._channel_message(request).deleted = True
        return 204, None


def _invalid(text: str, code: str = "INVALID_FORM_BODY") -> dict[str, Any]:
    return {"_errors": [{"code": code, "message": text}]}


def _valid_command_name(name: Any) -> bool:
    """Discord's rule for chat-input names: 1-32 word characters or dashes, lower case."""
    return isinstance(name, str) and bool(COMMAND_NAME.match(name)) and name == name.lower()
