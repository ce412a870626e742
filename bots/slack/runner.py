"""``logomesh bot slack``: the long-lived Slack bot, from tokens to a clean SIGTERM.

The order matters. The tokens are read first and the bot token is tried (``auth.test``),
so a mistake fails in a second with the fix, before the engine warms up. The neutral bot
then starts the engine's long-lived parts (the embedding worker, the plugins), as the shell
does, and only then does Slack get through: HTTP mode starts listening, Socket Mode
connects. On SIGTERM or SIGINT the same steps run backwards: Slack is cut off (no new
request), the commands in flight get ``bots.shutdown_grace_s`` to finish and the rest are
cancelled (the engine records them as cancelled), and the engine closes. The process then
exits 0, which a service manager reads as a clean stop.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bots.process import run_until_signalled
from bots.slack.app import build_app, web_client
from bots.slack.http import EVENTS_PATH, build_http_app
from bots.slack.socket import SocketConnection, connect_socket
from bots.slack.tokens import BOT_TOKEN, SlackMode, SlackTokens, read_tokens
from bots.web import HttpServer, start_http
from logomesh.errors import ConfigError

if TYPE_CHECKING:
    from bots.chat.dispatch import ChatBot
    from logomesh.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Listen:
    """How Slack reaches this process: Socket Mode, or HTTP on ``host:port``."""

    mode: SlackMode = SlackMode.SOCKET
    host: str = "127.0.0.1"
    port: int = 3000


@dataclass
class RunningSlack:
    """The bot connected to Slack: ``describe`` says where, ``stop`` cuts Slack off."""

    app: AsyncApp
    server: HttpServer | None = None
    socket: SocketConnection | None = None

    @property
    def describe(self) -> str:
        if self.server is not None:
            return f"listening on http://{self.server.host}:{self.server.port}{EVENTS_PATH}"
        return "connected to Slack over Socket Mode"

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
        if self.socket is not None:
            await self.socket.stop()


async def check_bot_token(client: AsyncWebClient) -> str:
    """The bot's user id, from ``auth.test``; a refused token, or Slack out of reach, is a
    ConfigError with the fix."""
    try:
        answer = await client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "unknown error") if exc.response else str(exc)
        raise ConfigError(
            f"Slack refused {BOT_TOKEN.variable} ({error}). Get the right one at {BOT_TOKEN.where}."
        ) from None
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise ConfigError(
            f"Cannot reach Slack's Web API at {client.base_url} ({type(exc).__name__}: {exc}). "
            "Check the network, a proxy, or the bots.slack.api_url setting."
        ) from None
    return str(answer.get("user_id", ""))


async def connect(
    bot: ChatBot,
    settings: Settings,
    tokens: SlackTokens,
    listen: Listen,
    *,
    client: AsyncWebClient | None = None,
) -> RunningSlack:
    """Let Slack reach ``bot`` (already started): listen over HTTP or connect a socket."""
    slack = settings.bots.slack
    client = client or web_client(slack, tokens.bot_token)
    app = build_app(bot, slack, tokens, client=client)
    if listen.mode is SlackMode.HTTP:
        web_app = build_http_app(
            app, slack, tokens.signing_secret, health=lambda: {"in_flight": bot.in_flight}
        )
        return RunningSlack(app, server=await start_http(web_app, listen.host, listen.port))
    return RunningSlack(app, socket=await connect_socket(app, tokens.app_token))


async def serve(
    settings: Settings,
    tokens: SlackTokens,
    listen: Listen,
    stop: asyncio.Event,
    *,
    provenance: dict[str, str] | None = None,
) -> None:
    """Run the bot until ``stop`` is set, then shut it down in order."""
    from bots.chat.dispatch import ChatBot
    from logomesh.commands.values import Source
    from logomesh.composition import build_engine

    client = web_client(settings.bots.slack, tokens.bot_token)
    await check_bot_token(client)
    engine = await asyncio.to_thread(build_engine, settings, provenance=provenance)
    bot = ChatBot(engine, platform=Source.SLACK)
    running: RunningSlack | None = None
    try:
        await bot.start()
        running = await connect(bot, settings, tokens, listen, client=client)
        log.info("LogoMesh Slack bot %s", running.describe)
        await stop.wait()
        log.info("Stopping: %d command(s) in flight", bot.in_flight)
    finally:
        if running is not None:
            await running.stop()
        await bot.shutdown()


def run_slack(
    settings: Settings,
    listen: Listen,
    *,
    environ: Mapping[str, str] | None = None,
    provenance: dict[str, str] | None = None,
) -> int:
    """The process's life: 0 after a stop by SIGTERM or SIGINT; a ConfigError (a missing
    token, a refused one, the bots switched off) is raised for the caller to show."""
    if not settings.bots.enabled:
        raise ConfigError(
            "The chat bots are off (bots.enabled is false), so the Slack bot does not start. "
            "Turn them on with [bots] enabled = true in your config file, "
            'LOGOMESH_BOTS__ENABLED=true, or mode = "team" (which sets it).'
        )
    tokens = read_tokens(os.environ if environ is None else environ, listen.mode)
    run_until_signalled(lambda stop: serve(settings, tokens, listen, stop, provenance=provenance))
    return 0
