"""The whole Slack bot on loopback, for tests: real engine, real Bolt app, loopback Slack.

:func:`slack_stack` starts, on the test's loop, the loopback Slack
(:mod:`tests.bots.slack.fake_slack`, which stands in for Slack: it cannot be reached from
here), a real engine on the test workspace's SQLite file with test commands and three
mapped people, the neutral :class:`~bots.chat.dispatch.ChatBot`, and the bot's own HTTP
server or Socket Mode connection (``bots.slack.runner.connect``). A test then sends signed
requests over real HTTP (:meth:`SlackStack.post`) or pushes Socket Mode envelopes, and
asserts what the bot posted, updated and uploaded on the fake. The ``test.held`` command
waits at the stack's :class:`~tests.bots.gate.Gate` until the test opens it, so a
test sees what the bot did while a command still runs (:meth:`SlackStack.acked`).

The bot is not ``start()``-ed: that would warm the language model in the background of
every test. Its event bus is bound to the test's loop, which is what ``start`` does for the
replies; tests of warming up and of SIGTERM run the real ``logomesh bot slack`` process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from bots.chat.dispatch import ChatBot
from bots.slack.runner import Listen, RunningSlack, connect
from bots.slack.tokens import SlackMode, SlackTokens
from logomesh.commands.values import Source
from logomesh.config import LoadedSettings
from logomesh.engine import Engine
from tests.bots.commands import GATES, engine_for, ran, trail
from tests.bots.commands import team_flags as shared_team_flags
from tests.bots.gate import Gate
from tests.bots.slack import slack_payloads as slack
from tests.bots.slack.fake_slack import APP_TOKEN, BOT_TOKEN, FakeSlack, SlackMessage
from tests.bots.waiting import wait_until

__all__ = ["ran", "trail"]  # re-exported: the Slack tests import them from here

Load = Callable[..., LoadedSettings]

SECRET = "8f742231b10e8888abcd99b1c1d2e3f4"
ALICE, BOB, VERA, STRANGER = "U0ALICE", "U0BOB", "U0VERA", "U0STRANGER"


def team_flags(api_url: str, **extra: Any) -> dict[str, Any]:
    """Team mode's rules and three mapped people (tests.bots.commands.team_flags)."""
    return shared_team_flags("slack", (ALICE, BOB, VERA), {"api_url": api_url}, **extra)


def text_of(message: SlackMessage) -> str:
    """Everything a person reads in a message: its text and every text in its blocks."""
    parts = [message.text]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    parts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.blocks)
    return "\n".join(parts)


@dataclass
class Answer:
    status: int
    text: str


@dataclass
class SlackStack:
    fake: FakeSlack
    engine: Engine
    bot: ChatBot
    running: RunningSlack
    session: aiohttp.ClientSession
    gate: Gate  # where every ``test.held`` command of this stack waits

    @property
    def url(self) -> str:
        assert self.running.server is not None
        return f"http://127.0.0.1:{self.running.server.port}/slack/events"

    async def post(
        self,
        body: str | bytes,
        *,
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
    ) -> Answer:
        """POST ``body`` to the bot, signed with the app's secret unless ``headers`` given."""
        sent = headers if headers is not None else slack.signed_headers(
            SECRET, body, timestamp=timestamp
        )  # fmt: skip
        async with self.session.post(self.url, data=body, headers=sent) as response:
            text = await response.text()
        return Answer(response.status, text)

    async def command(self, text: str, user: str = ALICE, **fields: str) -> Answer:
        payload = slack.slash_command(text, user_id=user, **fields)
        return await self.post(slack.form_body(payload))

    async def click(self, message: SlackMessage, action: str, user: str) -> Answer:
        """``user`` clicks the button ``action`` on ``message`` as it stands now."""
        payload = self.fake.click(message, action, user_id=user)
        return await self.post(slack.interactive_body(payload))

    async def card(self, ticket_shown: str = "", timeout: float = 10.0) -> SlackMessage:  # noqa: ASYNC109
        """The first message with buttons (an approval card) that mentions ``ticket_shown``."""

        def found() -> SlackMessage | None:
            return next(
                (
                    m
                    for m in self.fake.messages
                    if any(b.get("type") == "actions" for b in m.blocks)
                    and ticket_shown in text_of(m)
                ),
                None,
            )

        await wait_until(lambda: found() is not None, timeout, "approval card")
        card = found()
        assert card is not None
        return card

    async def acked(self, *requests: Awaitable[Answer], timeout: float = 10.0) -> list[Answer]:  # noqa: ASYNC109
        """The answers to ``requests``, all back while the gate is shut, so before any held
        command could end: a bot that does the work before it acks never answers."""
        assert not self.gate.is_open, "the acks are to come back while the gate is shut"
        try:
            answers = list(await asyncio.wait_for(asyncio.gather(*requests), timeout))
        except TimeoutError:
            raise AssertionError(
                f"no answer within {timeout}s while the held commands waited at the gate"
            ) from None
        # Bolt answers 404 to a request its listener did not ack within Slack's 3 s.
        unacked = [answer for answer in answers if answer.status != 200]
        assert not unacked, f"not acked while the commands were held (working first?): {unacked}"
        return answers

    async def held(self, count: int) -> None:
        """Until ``count`` ``test.held`` commands wait at the gate, then check that each is
        still in flight, with no audit record yet (the engine writes it at the end)."""
        await self.gate.wait_for_waiting(count)
        assert self.bot.in_flight == count
        assert trail(self.engine, action="test.held") == []

    async def event(self, payload: dict[str, Any]) -> Answer:
        return await self.post(slack.event_body(payload))

    async def settled(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has nothing in flight (every reply is final): no Bolt listener
        still running (one may look a name up before it hands the message over), and no
        request of the neutral bot."""
        await wait_until(
            lambda: not _bolt_listeners_running() and self.bot.in_flight == 0,
            timeout,
            "end of the requests in flight",
            lambda: f"{self.bot.in_flight} still in flight",
        )


def _bolt_listeners_running() -> bool:
    """Whether a listener Bolt started (after its ack) is still running on this loop."""
    return any(
        getattr(task.get_coro(), "__qualname__", "").endswith("run_ack_function_asynchronously")
        for task in asyncio.all_tasks()
        if not task.done()
    )


@asynccontextmanager
async def slack_stack(
    load: Load,
    *,
    mode: SlackMode = SlackMode.HTTP,
    flags: Callable[[str], dict[str, Any]] = team_flags,
) -> AsyncIterator[SlackStack]:
    """The bot serving Slack on loopback; ``flags(api_url)`` gives the settings."""
    async with FakeSlack() as fake:
        loaded = load(flags(fake.api_url))
        engine = engine_for(loaded)
        bot = ChatBot(engine, platform=Source.SLACK)
        engine.events.bind(asyncio.get_running_loop())
        tokens = SlackTokens(BOT_TOKEN, SECRET if mode is SlackMode.HTTP else "", APP_TOKEN)
        gate = GATES[engine] = Gate()
        running = await connect(bot, loaded.settings, tokens, Listen(mode, "127.0.0.1", 0))
        try:
            async with aiohttp.ClientSession() as session:
                yield SlackStack(fake, engine, bot, running, session, gate)
        finally:
            gate.open()  # nothing stays held past the test, even when it failed
            await running.stop()
            await bot.shutdown(grace_s=5)
            engine.events.unbind()
            del GATES[engine]
