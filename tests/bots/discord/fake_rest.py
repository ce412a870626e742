"""The REST routes a bot calls with its token, and the route table of the loopback Discord.

Identity and discovery (``/users/@me``, ``/oauth2/applications/@me``, ``/gateway/bot``),
application commands (bulk overwrite, global and per guild, with Discord's name rule), and
channel messages: the bot posts to channels and DMs it can see, edits only its own messages
(403 50005 otherwise), and never reaches an ephemeral message this way (404 10008: those
belong to the interaction's webhook, :mod:`.fake_webhooks`). Every body is checked against
Discord's limits (:mod:`.discord_limits`).
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from tests.bots.discord import discord_payloads as payloads
from tests.bots.discord.discord_limits import message_errors
from tests.bots.discord.fake_models import FakeMessage, RestRequest
from tests.bots.discord.fake_state import (
    Answer,
    DiscordError,
    Route,
    check_form,
    invalid,
    unknown_message,
)
from tests.bots.discord.fake_webhooks import InteractionRoutes

COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
# An interaction's callback and webhook need no bot token: the token in the path is the key.
_open = partial(Route, bot_auth=False)


class DiscordRest(InteractionRoutes):
    """Every route, in the order they are matched (``@original`` before ``{message_id}``)."""

    def __init__(self, *, token_ttl_s: float, defer_window_s: float) -> None:
        super().__init__(token_ttl_s=token_ttl_s, defer_window_s=defer_window_s)
        original = "/webhooks/{app}/{token}/messages/@original"
        hooked = "/webhooks/{app}/{token}/messages/{message_id}"
        self.routes = [
            Route("GET", "/users/@me", self._me),
            Route("GET", "/users/{user}", self._user),
            Route("POST", "/users/@me/channels", self._open_dm),
            Route("GET", "/oauth2/applications/@me", self._app_info),
            _open("GET", "/gateway", self._gateway),
            Route("GET", "/gateway/bot", self._gateway),
            Route("GET", "/applications/{app}/commands", self._get_commands),
            Route("PUT", "/applications/{app}/commands", self._put_commands),
            Route("GET", "/applications/{app}/guilds/{guild}/commands", self._get_commands),
            Route("PUT", "/applications/{app}/guilds/{guild}/commands", self._put_commands),
            Route("GET", "/guilds/{guild}/members/{user}", self._member),
            Route("GET", "/guilds/{guild}/roles", self._roles),
            _open("POST", "/interactions/{id}/{token}/callback", self._callback),
            _open("GET", original, self._get_hooked),
            _open("PATCH", original, self._edit_hooked),
            _open("DELETE", original, self._delete_hooked),
            _open("POST", "/webhooks/{app}/{token}", self._follow_up),
            _open("GET", hooked, self._get_hooked),
            _open("PATCH", hooked, self._edit_hooked),
            _open("DELETE", hooked, self._delete_hooked),
            Route("GET", "/channels/{channel}", self._channel),
            Route("POST", "/channels/{channel}/messages", self._post_message),
            Route("GET", "/channels/{channel}/messages/{message_id}", self._get_message),
            Route("PATCH", "/channels/{channel}/messages/{message_id}", self._edit_message),
            Route("DELETE", "/channels/{channel}/messages/{message_id}", self._delete_message),
        ]

    gateway_url = ""  # the server sets it once it knows its port

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
            str(i): {"name": invalid("Command name is invalid", "APPLICATION_COMMAND_NAME")}
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
        return self.edit(message, request)

    async def _delete_message(self, request: RestRequest) -> Answer:
        return self.delete(self._channel_message(request))


def _valid_command_name(name: Any) -> bool:
    """Discord's rule for chat-input names: 1-32 word characters or dashes, lower case."""
    return isinstance(name, str) and bool(COMMAND_NAME.match(name)) and name == name.lower()
