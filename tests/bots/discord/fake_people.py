"""The people, guilds and channels of the loopback Discord, and what a person does there.

A test acts as a person would: types ``/logomesh run git.status`` (:meth:`slash`), types an
option and waits for suggestions (:meth:`autocomplete`), clicks a button the bot posted
(:meth:`click`), mentions the bot or writes to it directly (:meth:`say`). Each builds the
payload Discord would send (:mod:`.discord_payloads`), registers the interaction so its
callback and webhook answer, and dispatches it on the gateway. A click finds its button on
the message as it stands, so a test clicks only what the bot really shows; an unknown person
or a person outside the guild is a mistake in the test and fails naming the fix.

``interaction_payload`` builds and registers the same interactions without sending them: an
HTTP interactions test POSTs ``json.dumps(interaction.payload)`` signed with
:func:`~.discord_payloads.signed_headers`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any

from tests.bots.discord import discord_payloads as payloads
from tests.bots.discord.discord_payloads import (
    CHANNEL_ID,
    COMMAND_NAME,
    DEV_ROLE_ID,
    GUILD_ID,
    USER_ID,
)
from tests.bots.discord.fake_gateway import FakeGateway
from tests.bots.discord.fake_models import FakeInteraction, FakeMessage
from tests.bots.discord.fake_rest import DiscordRest

Options = Mapping[str, str | int | bool | float]


class People(DiscordRest):
    """Guilds with roles, channels and members; the person's side of interactions."""

    gateway: FakeGateway  # set by the server class

    def __init__(self, *, token_ttl_s: float, defer_window_s: float) -> None:
        super().__init__(token_ttl_s=token_ttl_s, defer_window_s=defer_window_s)
        self.add_guild(GUILD_ID, "Team", roles={DEV_ROLE_ID: "developers"}, channels=[CHANNEL_ID])
        self.add_user(USER_ID, "alice", roles=(DEV_ROLE_ID,))

    # -- setup ------------------------------------------------------------------------------

    def add_guild(
        self,
        guild_id: str = GUILD_ID,
        name: str = "Team",
        roles: Mapping[str, str] | None = None,
        channels: Iterable[str] | Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """A guild the bot is in: ``roles`` {id: name} beside @everyone (id == guild id),
        ``channels`` ids (named general, channel-2 ...) or {id: name}. Sent in GUILD_CREATE
        to sessions that IDENTIFY from now on."""
        named_roles = {guild_id: "@everyone", **dict(roles or {})}
        if isinstance(channels, Mapping):
            named_channels = dict(channels)
        else:
            ids = list(channels or [self.snowflake()])
            named_channels = {
                cid: "general" if i == 0 else f"channel-{i + 1}" for i, cid in enumerate(ids)
            }
        guild = {
            "name": name,
            "roles": named_roles,
            "role_payloads": [
                payloads.role(role_id, role_name, position)
                for position, (role_id, role_name) in enumerate(named_roles.items())
            ],
            "channels": named_channels,
            "members": {payloads.BOT_USER_ID: []},
        }
        self.guilds[guild_id] = guild
        return guild

    def add_user(
        self,
        user_id: str,
        username: str,
        *,
        roles: Iterable[str] = (),
        guild_id: str | None = GUILD_ID,
    ) -> dict[str, Any]:
        """A person (their user payload), a member of ``guild_id`` with ``roles`` (ids or
        role names); ``guild_id=None`` for someone who only writes direct messages."""
        person = self.users.get(user_id) or payloads.user(user_id, username)
        self.users[user_id] = person
        if guild_id is not None:
            guild = self._guild_for_test(guild_id)
            by_name = {name: rid for rid, name in guild["roles"].items()}
            role_ids = []
            for role in roles:
                if role not in guild["roles"] and role not in by_name:
                    raise AssertionError(
                        f"guild {guild_id} has no role {role!r}: add_guild(roles=...) first"
                    )
                role_ids.append(role if role in guild["roles"] else by_name[role])
            guild["members"][user_id] = role_ids
        return person

    def guild_creates(self) -> list[dict[str, Any]]:
        """GUILD_CREATE data for every guild (what a new session receives after READY)."""
        return [
            payloads.guild_create(
                guild_id,
                guild["name"],
                roles=guild["role_payloads"],
                channels=[
                    payloads.text_channel(cid, guild_id, cname, position)
                    for position, (cid, cname) in enumerate(guild["channels"].items())
                ],
                members=[payloads.member(payloads.bot_user(), [])],
            )
            for guild_id, guild in self.guilds.items()
        ]

    def member_payloads(self, guild_id: str) -> list[dict[str, Any]]:
        guild = self.guilds.get(guild_id, {"members": {}})
        return [
            payloads.member(
                payloads.bot_user() if uid == payloads.BOT_USER_ID else self.users[uid], roles
            )
            for uid, roles in guild["members"].items()
        ]

    def _guild_for_test(self, guild_id: str) -> dict[str, Any]:
        if guild_id not in self.guilds:
            raise AssertionError(f"no guild {guild_id} in the fake: add_guild({guild_id!r}) first")
        return self.guilds[guild_id]

    # -- interactions, built ----------------------------------------------------------------

    def interaction_payload(
        self,
        kind: int,
        data: dict[str, Any] | None,
        *,
        user: str = USER_ID,
        guild_id: str | None = GUILD_ID,
        channel_id: str | None = None,
        message: FakeMessage | None = None,
        created_ago_s: float = 0.0,
    ) -> FakeInteraction:
        """An interaction registered with the fake (its callback and webhook answer) but not
        dispatched; ``.payload`` is the JSON Discord would send."""
        person = self.users.get(user)
        if person is None:
            raise AssertionError(f"no user {user} in the fake: add_user({user!r}, ...) first")
        roles: list[str] = []
        if guild_id is not None:
            guild = self._guild_for_test(guild_id)
            if user not in guild["members"]:
                raise AssertionError(
                    f"user {user} is not in guild {guild_id}: add_user(..., guild_id=...)"
                )
            roles = guild["members"][user]
            channel_id = channel_id or (
                CHANNEL_ID if guild_id == GUILD_ID else next(iter(guild["channels"]))
            )
        else:
            channel_id = channel_id or self.dm_channel_for(user)
        channel = self.channel_payload(channel_id)
        if channel is None:
            raise AssertionError(
                f"no channel {channel_id} in the fake: add_guild(channels=...) first"
            )
        interaction_id = self.snowflake()
        token = f"aW50ZXJhY3Rpb246{interaction_id}:{secrets.token_urlsafe(24)}"
        body = payloads.interaction(
            interaction_id, token, kind, data, person=person, roles=roles, guild_id=guild_id,
            channel=channel, message=message.payload() if message is not None else None,
        )  # fmt: skip
        interaction = FakeInteraction(
            id=interaction_id,
            token=token,
            type=kind,
            payload=body,
            channel_id=channel_id,
            created_at=time.monotonic() - created_ago_s,
            message_id=message.id if message is not None else None,
        )
        self.register_interaction(interaction)
        return interaction

    def slash_payload(
        self,
        subcommand: str | None,
        options: Options | None = None,
        *,
        focused: str | None = None,
        command: str = COMMAND_NAME,
        guild_id: str | None = GUILD_ID,
        **where: Any,
    ) -> FakeInteraction:
        """``/command subcommand key:value ...`` (an autocomplete while typing ``focused``)."""
        values = dict(options or {})
        if focused is not None:
            values.setdefault(focused, "")
        data = payloads.command_data(
            self.command_id(command, guild_id), command, subcommand, values,
            focused=focused, guild_id=guild_id,
        )  # fmt: skip
        kind = payloads.AUTOCOMPLETE if focused is not None else payloads.APPLICATION_COMMAND
        return self.interaction_payload(kind, data, guild_id=guild_id, **where)

    def click_payload(
        self,
        message: FakeMessage | str,
        custom_id: str,
        *,
        user: str = USER_ID,
        created_ago_s: float = 0.0,
    ) -> FakeInteraction:
        """A click on the button ``custom_id`` of ``message`` as it stands now."""
        shown = message if isinstance(message, FakeMessage) else self.find_message(message)
        if shown is None or shown.deleted:
            raise AssertionError(f"no message {message} to click on (deleted, or never sent)")
        if custom_id not in [target for _, target, _ in shown.buttons]:
            raise AssertionError(
                f"message {shown.id} shows no button {custom_id!r}; it shows {shown.buttons}"
            )
        data = {"custom_id": custom_id, "component_type": 2}
        return self.interaction_payload(
            payloads.MESSAGE_COMPONENT, data, user=user, guild_id=shown.guild_id,
            channel_id=shown.channel_id, message=shown, created_ago_s=created_ago_s,
        )  # fmt: skip

    # -- what a person does -----------------------------------------------------------------

    async def slash(
        self,
        subcommand: str | None,
        options: Options | None = None,
        *,
        user: str = USER_ID,
        guild_id: str | None = GUILD_ID,
        channel_id: str | None = None,
        command: str = COMMAND_NAME,
        created_ago_s: float = 0.0,
    ) -> FakeInteraction:
        """A person runs ``/command subcommand`` with ``options``; ``created_ago_s`` makes an
        interaction that reaches the bot that late (its 3 s window may be gone)."""
        interaction = self.slash_payload(
            subcommand, options, command=command, user=user, guild_id=guild_id,
            channel_id=channel_id, created_ago_s=created_ago_s,
        )  # fmt: skip
        await self.gateway.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    async def autocomplete(
        self,
        subcommand: str | None,
        options: Options | None,
        focused: str,
        *,
        user: str = USER_ID,
        guild_id: str | None = GUILD_ID,
        command: str = COMMAND_NAME,
    ) -> FakeInteraction:
        """A person typing option ``focused`` (its value so far in ``options``)."""
        interaction = self.slash_payload(
            subcommand, options, focused=focused, command=command, user=user, guild_id=guild_id
        )
        await self.gateway.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    async def click(
        self, message: FakeMessage | str, custom_id: str, *, user: str = USER_ID
    ) -> FakeInteraction:
        interaction = self.click_payload(message, custom_id, user=user)
        await self.gateway.dispatch("INTERACTION_CREATE", interaction.payload)
        return interaction

    async def say(
        self,
        content: str,
        *,
        user: str = USER_ID,
        channel_id: str | None = None,
        guild_id: str | None = GUILD_ID,
        mentions_bot: bool | None = None,
    ) -> FakeMessage:
        """A person writes ``content`` in a channel (or, ``guild_id=None``, to the bot
        directly). Mentioning the bot (the default in a guild) puts ``<@bot>`` first, as
        Discord's client does; without the MESSAGE_CONTENT intent only such messages reach
        a bot with their content."""
        person = self.users.get(user)
        if person is None:
            raise AssertionError(f"no user {user} in the fake: add_user({user!r}, ...) first")
        mention = guild_id is not None if mentions_bot is None else mentions_bot
        if guild_id is not None:
            roles = self._guild_for_test(guild_id)["members"].get(user)
            if roles is None:
                raise AssertionError(
                    f"user {user} is not in guild {guild_id}: add_user(..., guild_id=...)"
                )
            channel_id = channel_id or (
                CHANNEL_ID
                if guild_id == GUILD_ID
                else next(iter(self.guilds[guild_id]["channels"]))
            )
        else:
            channel_id = channel_id or self.dm_channel_for(user)
        tag = f"<@{payloads.BOT_USER_ID}>"
        text = f"{tag} {content}" if mention and tag not in content else content
        message = self.new_message(channel_id, {"content": text}, author=person)
        if mention:
            message.mentions = [payloads.bot_user()]
        data = message.payload()
        if guild_id is not None:
            data["member"] = payloads.member(person, roles or [], with_user=False)
        await self.gateway.dispatch("MESSAGE_CREATE", data)
        return message
