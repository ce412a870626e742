"""The discord.py client: where interactions, mentions and clicks meet the neutral bot.

:func:`build_client` makes a :class:`LogoMeshClient` for ``[bots.discord]``. It asks for no
privileged intent: Discord delivers the content of a message that mentions the bot, and of
a direct message, without ``MESSAGE_CONTENT``; guild and message events are all it needs.
Everything it sends may mention users only, never ``@everyone`` or a role, since a reply
shows command output, which is data. discord.py keeps Discord's rate-limit buckets and
waits out a 429 itself, one request per bucket at a time (an interaction's webhook too);
``max_ratelimit_timeout`` makes a wait longer than 30 s on the bot's own routes an error
instead of a hang, so a reply fails visibly (the neutral bot logs it) rather than late.

Each handler acknowledges first (a slash command is deferred with a thinking message, a
click with a silent deferred update), before anything touches the engine, then hands the
translated message to :meth:`ChatBot.accept <bots.chat.dispatch.ChatBot.accept>`. If the
acknowledgement misses Discord's 3 s (it answers 10062 "Unknown interaction"), the
command still runs and is answered by a plain channel message naming the person.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
import yarl
from discord import app_commands

from bots.discord.commands import build_group
from bots.discord.conversation import DiscordConversation, Thinking
from bots.discord.inbound import (
    arrival_of,
    click_from_interaction,
    message_from_interaction,
    message_from_message,
)
from bots.discord.views import ApprovalButton

if TYPE_CHECKING:
    from bots.chat.dispatch import ChatBot
    from logomesh.bot_settings import DiscordSettings
    from logomesh.engine import Engine

log = logging.getLogger(__name__)

MAX_RATELIMIT_WAIT_S = 30.0  # discord.py's smallest allowed value


def intents() -> discord.Intents:
    """Guilds (roles, channels), guild and direct messages; nothing privileged."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    return wanted


def point_at(settings: DiscordSettings) -> None:
    """Send REST calls to ``settings.api_url`` and connect the gateway to
    ``settings.gateway_url``. discord.py reads both from class variables, its only hooks;
    a process runs one Discord connection, so setting them process-wide is what it means."""
    discord.http.Route.BASE = settings.api_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


class LogoMeshClient(discord.Client):
    """The client with the ``/logomesh`` command tree and the persistent approval buttons."""

    def __init__(
        self,
        settings: DiscordSettings,
        bot: ChatBot | None = None,
        *,
        guild_ready_timeout: float = 2.0,
    ) -> None:
        """``guild_ready_timeout``: how long discord.py waits for one more guild before it
        calls the client ready (tests on a loopback Discord with one guild lower it)."""
        # The bot never joins a voice channel: discord.py's warnings at every start that
        # the voice libraries (PyNaCl, davey) are missing would only alarm whoever runs it.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        super().__init__(
            intents=intents(),
            allowed_mentions=discord.AllowedMentions(
                everyone=False, users=True, roles=False, replied_user=True
            ),
            max_ratelimit_timeout=MAX_RATELIMIT_WAIT_S,
            guild_ready_timeout=guild_ready_timeout,
        )
        self.settings = settings
        self.tree: app_commands.CommandTree[LogoMeshClient] = app_commands.CommandTree(self)
        self.tree.add_command(build_group(settings.command))
        self._bot = bot

    def attach(self, bot: ChatBot) -> None:
        """Serve ``bot`` (the runner checks the token before it builds the engine)."""
        self._bot = bot

    @property
    def bot(self) -> ChatBot:
        if self._bot is None:
            raise RuntimeError("no ChatBot attached to the Discord client yet")
        return self._bot

    @property
    def engine(self) -> Engine | None:
        return self._bot.engine if self._bot is not None else None

    async def setup_hook(self) -> None:
        # Clicks on cards posted by any earlier process of the bot land here too.
        self.add_dynamic_items(ApprovalButton)

    async def on_ready(self) -> None:
        log.info("Connected to Discord as %s (%s)", self.user, self.user.id if self.user else "?")

    # -- what Discord sends ------------------------------------------------------------------

    async def slash_command(
        self, interaction: discord.Interaction[Any], text: str, *, private: bool = False
    ) -> None:
        """A subcommand's words: defer first, then hand them to the neutral bot."""
        acknowledgement = interaction.response.defer(thinking=True, ephemeral=private)
        deferred = await _defer(acknowledgement, "command")
        message = message_from_interaction(interaction, text)
        conversation = DiscordConversation(
            self,
            message.where,
            message.who.user_id,
            interaction=interaction if deferred else None,
            thinking=(Thinking.PRIVATE if private else Thinking.PUBLIC) if deferred else None,
            mention=not deferred,
        )
        self.bot.accept(message, conversation)

    async def approval_clicked(
        self, interaction: discord.Interaction[Any], action: str, value: str, *, deferred: bool
    ) -> None:
        """A click on an approval button, already acknowledged (``deferred``) or too late."""
        click = click_from_interaction(interaction, action, value)
        conversation = DiscordConversation(
            self,
            click.where,
            click.who.user_id,
            interaction=interaction if deferred else None,
            clicked=click.message_ref,
        )
        self.bot.accept_click(click, conversation)

    async def on_message(self, message: discord.Message) -> None:
        if self.user is None or self._bot is None:
            return
        arrival = arrival_of(message, self.user.id)
        if arrival is None:
            return
        chat = message_from_message(message, self.user.id, arrival)
        conversation = DiscordConversation(
            self, chat.where, chat.who.user_id, reply_to=str(message.id)
        )
        self.bot.accept(chat, conversation)


def build_client(
    bot: ChatBot | None, settings: DiscordSettings, *, guild_ready_timeout: float = 2.0
) -> LogoMeshClient:
    """The client for ``settings``, pointed at its Discord; ``bot`` may be attached later."""
    point_at(settings)
    return LogoMeshClient(settings, bot, guild_ready_timeout=guild_ready_timeout)


async def _defer(acknowledgement: Any, what: str) -> bool:
    """Await Discord's acknowledgement; False when Discord refused it (too late: 10062)."""
    try:
        await acknowledgement
    except discord.HTTPException as exc:
        log.warning(
            "Could not acknowledge a %s within Discord's 3 s (%s); answering in the channel",
            what,
            exc,
        )
        return False
    return True
