"""The whole Discord bot on loopback, for tests: real engine, real discord.py, loopback Discord.

:func:`discord_stack` starts, on the test's loop, the loopback Discord
(:mod:`tests.bots.discord.fake_discord`: its REST API and its gateway; Discord itself cannot
be reached from here), a real engine on the test workspace's SQLite file with the test
commands (:mod:`tests.bots.commands`) and four people (alice and bob developers, vera a
viewer, a stranger nobody mapped), the neutral :class:`~bots.chat.dispatch.ChatBot`, and
the real :class:`~bots.discord.client.LogoMeshClient`, logged in and connected over the
gateway until it is ready. A test then acts as a person on the fake (a slash command, a
click, a mention) and asserts on what Discord would show and what the trail recorded. The
``test.held`` command waits at the stack's :class:`~tests.bots.gate.Gate` until the test
opens it, so a test sees what the bot did while a command still runs.

The bot is not ``start()``-ed (that would warm the language model in every test); its event
bus is bound to the test's loop, which is what ``start`` does for the replies. The test of
the real ``logomesh bot discord`` process covers the start.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from bots.chat.dispatch import ChatBot
from bots.discord.client import LogoMeshClient, build_client
from logomesh.commands.values import Source
from logomesh.config import LoadedSettings
from logomesh.engine import Engine
from tests.bots.commands import GATES, engine_for, ran, trail
from tests.bots.commands import team_flags as shared_team_flags
from tests.bots.discord.fake_discord import (
    BOT_TOKEN,
    DEV_ROLE_ID,
    USER_ID,
    FakeDiscord,
    pointed_at,
)
from tests.bots.discord.fake_models import FakeInteraction, FakeMessage
from tests.bots.gate import Gate
from tests.bots.waiting import wait_until

__all__ = ["ran", "trail"]  # re-exported: the Discord tests import them from here

Load = Callable[..., LoadedSettings]

ALICE = USER_ID  # the fake's default member, in its "developers" guild role
BOB, VERA, STRANGER = "200000000000000002", "200000000000000003", "200000000000000004"
WAIT_S = 10.0


def team_flags(fake: FakeDiscord, **extra: Any) -> dict[str, Any]:
    """Team mode's rules and three mapped people (tests.bots.commands.team_flags), with the
    bot pointed at ``fake``."""
    urls = {"api_url": fake.api_url, "gateway_url": fake.gateway_url}
    return shared_team_flags("discord", (ALICE, BOB, VERA), urls, **extra)


def add_people(fake: FakeDiscord) -> None:
    fake.add_user(BOB, "bob", roles=(DEV_ROLE_ID,))
    fake.add_user(VERA, "vera")
    fake.add_user(STRANGER, "sam")


@dataclass
class DiscordStack:
    fake: FakeDiscord
    engine: Engine
    bot: ChatBot
    client: LogoMeshClient
    gate: Gate  # where every ``test.held`` command of this stack waits

    async def slash(
        self, subcommand: str, options: dict[str, Any] | None = None, **kwargs: Any
    ) -> FakeInteraction:
        """A person types ``/logomesh <subcommand>`` (as alice unless ``user=``)."""
        kwargs.setdefault("user", ALICE)
        return await self.fake.slash(subcommand, options, **kwargs)

    async def deferred(self, interaction: FakeInteraction) -> None:
        """Until the bot acknowledged ``interaction``."""
        await wait_until(lambda: interaction.acknowledged, WAIT_S, "acknowledgement")

    def original(self, interaction: FakeInteraction) -> FakeMessage:
        """The interaction's original response (the thinking message, then the reply)."""
        assert interaction.original_message_id, "the interaction has no original response"
        return self.fake.message(interaction.original_message_id)

    async def answered(
        self,
        interaction: FakeInteraction,
        shown: str,
        timeout: float = WAIT_S,  # noqa: ASYNC109
    ) -> FakeMessage:
        """The first message answering ``interaction`` whose text contains ``shown``."""

        def found() -> FakeMessage | None:
            return next(
                (
                    m
                    for m in self.fake.messages
                    if m.interaction_id == interaction.id and not m.deleted and shown in m.text
                ),
                None,
            )

        await wait_until(lambda: found() is not None, timeout, f"answer with {shown!r}",
                         lambda: self._seen(interaction))  # fmt: skip
        message = found()
        assert message is not None
        return message

    def whispers(self, interaction: FakeInteraction) -> list[FakeMessage]:
        """The private answers to ``interaction`` (what only its person saw), once they say
        something (not a private thinking message)."""
        return [
            m
            for m in self.fake.messages
            if m.interaction_id == interaction.id and m.ephemeral and not m.loading
        ]

    async def whispered(self, interaction: FakeInteraction, count: int = 1) -> list[FakeMessage]:
        await wait_until(lambda: len(self.whispers(interaction)) >= count, WAIT_S,
                         f"{count} private answer(s)", lambda: self._seen(interaction))  # fmt: skip
        return self.whispers(interaction)

    async def card(self, shown: str = "") -> FakeMessage:
        """The first message with buttons (an approval card) whose text contains ``shown``."""

        def found() -> FakeMessage | None:
            return next(
                (m for m in self.fake.messages if m.buttons and not m.deleted and shown in m.text),
                None,
            )

        await wait_until(lambda: found() is not None, WAIT_S, f"approval card {shown!r}")
        card = found()
        assert card is not None
        return card

    async def held(self, count: int) -> None:
        """Until ``count`` ``test.held`` commands wait at the gate, still in flight, with no
        audit record yet (the engine writes it at the end)."""
        await self.gate.wait_for_waiting(count)
        assert self.bot.in_flight >= count
        assert trail(self.engine, action="test.held") == []

    async def settled(self, timeout: float = WAIT_S) -> None:  # noqa: ASYNC109
        """Until the bot has nothing in flight (every reply is final)."""
        await wait_until(
            lambda: self.bot.in_flight == 0,
            timeout,
            "end of the requests in flight",
            lambda: f"{self.bot.in_flight} still in flight",
        )

    def _seen(self, interaction: FakeInteraction) -> str:
        answers = [m for m in self.fake.messages if m.interaction_id == interaction.id]
        return f"answers: {[(m.id, m.flags, m.text[:200]) for m in answers]}"


@asynccontextmanager
async def connected(fake: FakeDiscord, client: LogoMeshClient) -> AsyncIterator[asyncio.Task[None]]:
    """``client`` logged in and connected to ``fake`` until ready; closed after."""
    await client.login(BOT_TOKEN)
    task = asyncio.create_task(client.connect(reconnect=True), name="discord-client")
    try:
        await wait_until(lambda: client.is_ready() or task.done(), WAIT_S, "on_ready")
        if task.done():
            task.result()
            raise AssertionError("the discord.py client stopped before it was ready")
        yield task
    finally:
        await client.close()
        await asyncio.wait({task}, timeout=WAIT_S)


@asynccontextmanager
async def discord_stack(
    load: Load, *, flags: Callable[[FakeDiscord], dict[str, Any]] = team_flags
) -> AsyncIterator[DiscordStack]:
    """The bot serving the loopback Discord; ``flags(fake)`` gives the settings."""
    async with FakeDiscord() as fake:
        add_people(fake)
        with pointed_at(fake):
            loaded = load(flags(fake))
            engine = engine_for(loaded)
            bot = ChatBot(engine, platform=Source.DISCORD)
            engine.events.bind(asyncio.get_running_loop())
            gate = GATES[engine] = Gate()
            client = build_client(bot, loaded.settings.bots.discord, guild_ready_timeout=0.05)
            shut_down = False
            try:
                async with connected(fake, client):
                    try:
                        yield DiscordStack(fake, engine, bot, client, gate)
                    finally:
                        gate.open()  # nothing stays held past the test, even when it failed
                        # Before the client closes: what is in flight still needs the API.
                        await bot.shutdown(grace_s=5)
                        shut_down = True
            finally:
                gate.open()
                engine.events.unbind()
                if not shut_down:  # the client never connected: the engine is still open
                    engine.close()
                del GATES[engine]
