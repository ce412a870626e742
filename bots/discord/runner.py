"""``logomesh bot discord``: the long-lived Discord bot, from the token to a clean SIGTERM.

The order is the Slack bot's. The token is read and tried first (discord.py's login asks
Discord who the bot is), so a mistake fails in a second with the fix, before the engine
warms up. The neutral bot then starts the engine's long-lived parts, and only then does
the gateway connect, so no interaction arrives before there is something to answer it.

On SIGTERM or SIGINT the neutral bot stops taking requests first, while the client stays
connected: a command in flight needs the REST API to deliver its result, and an interaction
that still arrives is told the bot is restarting (which Discord's "did not respond" would
not say). The commands in flight get ``bots.shutdown_grace_s`` to finish, the rest are
cancelled (the engine records them so), the engine closes, then the client disconnects and
the process exits 0, which a service manager reads as a clean stop.

With ``--http HOST:PORT`` (HTTP interactions mode, :mod:`bots.discord.http`) there is no
gateway connection: Discord POSTs each interaction, signed, to the bot's public URL, which
needs the application's public key (``bots.discord.public_key``); mentions and direct
messages arrive only over the gateway, so that mode serves the ``/logomesh`` command and
the buttons only.

``logomesh bot discord-sync`` logs in the same way and registers the ``/logomesh``
command, per guild or globally (:func:`bots.discord.commands.sync_commands`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
import discord

from bots.discord.client import LogoMeshClient, build_client
from bots.discord.commands import sync_commands
from bots.discord.http import INTERACTIONS_PATH, build_interactions_app
from bots.process import run_until_signalled
from bots.web import HttpServer, start_http
from logomesh.errors import ConfigError

if TYPE_CHECKING:
    from bots.chat.dispatch import ChatBot
    from logomesh.config import Settings

log = logging.getLogger(__name__)

TOKEN_VARIABLE = "DISCORD_BOT_TOKEN"  # noqa: S105 - the variable's name, not a token
PORTAL = "https://discord.com/developers/applications"
TOKEN_WHERE = f"{PORTAL} -> your application -> Bot -> Reset Token"


@dataclass(frozen=True, slots=True)
class HttpListen:
    """HTTP interactions mode: where to listen for Discord's signed POSTs."""

    host: str = "127.0.0.1"
    port: int = 8080


def read_token(environ: Mapping[str, str]) -> str:
    """The bot token from ``DISCORD_BOT_TOKEN``; a ConfigError with where to get it."""
    token = environ.get(TOKEN_VARIABLE, "").strip()
    if not token:
        raise ConfigError(
            f"{TOKEN_VARIABLE} is not set, and the Discord bot needs its token. Get it at "
            f"{TOKEN_WHERE} (shown once; reset it again if it is lost) and export it."
        )
    if token.lower().startswith("bot "):
        # Only the first word is shown: the rest of a token is a secret even when mistaken.
        raise ConfigError(
            f"{TOKEN_VARIABLE} starts with 'Bot ': set the token alone, without the prefix "
            "(discord.py adds it)."
        )
    return token


def public_key_of(settings: Settings) -> str:
    """The application's public key, which HTTP interactions mode cannot run without."""
    key = settings.bots.discord.public_key
    if not key:
        raise ConfigError(
            "HTTP interactions mode (--http) needs the application's public key, to check that "
            "each request comes from Discord: set bots.discord.public_key to the Public Key "
            f"shown at {PORTAL} -> your application -> General Information (64 hex digits), "
            'e.g. [bots.discord] public_key = "..." or LOGOMESH_BOTS__DISCORD__PUBLIC_KEY.'
        )
    return key


def check_enabled(settings: Settings) -> None:
    if not settings.bots.enabled:
        raise ConfigError(
            "The chat bots are off (bots.enabled is false), so the Discord bot does not start. "
            "Turn them on with [bots] enabled = true in your config file, "
            'LOGOMESH_BOTS__ENABLED=true, or mode = "team" (which sets it).'
        )


async def log_in(client: LogoMeshClient, token: str) -> None:
    """Log in (who the bot is, its application); a refused token, or Discord out of
    reach, is a ConfigError with the fix."""
    try:
        await client.login(token)
    except discord.LoginFailure:
        await client.close()
        raise ConfigError(
            f"Discord refused {TOKEN_VARIABLE} (401 Unauthorized): it is not this bot's current "
            f"token. Get it at {TOKEN_WHERE}."
        ) from None
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        await client.close()
        raise ConfigError(
            f"Cannot reach Discord's API at {client.settings.api_url} ({type(exc).__name__}: "
            f"{exc}). Check the network, a proxy, or the bots.discord.api_url setting."
        ) from None


async def connect_http(
    client: LogoMeshClient, bot: ChatBot, settings: Settings, listen: HttpListen
) -> HttpServer:
    """Listen for Discord's signed interactions for ``client`` (logged in) on ``listen``."""
    web_app = build_interactions_app(
        client,
        settings.bots.discord,
        public_key_of(settings),
        health=lambda: {"in_flight": bot.in_flight},
    )
    return await start_http(web_app, listen.host, listen.port)


async def serve(
    settings: Settings,
    token: str,
    stop: asyncio.Event,
    *,
    http: HttpListen | None = None,
    provenance: dict[str, str] | None = None,
) -> None:
    """Run the bot until ``stop`` is set, then shut it down in order: over the gateway, or
    listening for HTTP interactions on ``http``."""
    from bots.chat.dispatch import ChatBot
    from logomesh.commands.values import Source
    from logomesh.composition import build_engine

    client = build_client(None, settings.bots.discord)
    await log_in(client, token)
    try:
        engine = await asyncio.to_thread(build_engine, settings, provenance=provenance)
    except BaseException:
        await client.close()
        raise
    bot = ChatBot(engine, platform=Source.DISCORD)
    client.attach(bot)
    gateway: asyncio.Task[None] | None = None
    server: HttpServer | None = None
    try:
        await bot.start()
        if http is not None:
            server = await connect_http(client, bot, settings, http)
            log.info(
                "LogoMesh Discord bot listening on http://%s:%d%s",
                server.host, server.port, INTERACTIONS_PATH,
            )  # fmt: skip
            await stop.wait()
        else:
            gateway = asyncio.create_task(client.connect(reconnect=True))
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({gateway, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if gateway.done():
                _gateway_ended(gateway)
        log.info("Stopping: %d command(s) in flight", bot.in_flight)
    finally:
        await bot.shutdown()
        if server is not None:
            await server.stop()
        await client.close()
        if gateway is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await gateway


def _gateway_ended(gateway: asyncio.Task[None]) -> None:
    """The gateway gave up (discord.py reconnects by itself until it cannot)."""
    error = gateway.exception()
    if isinstance(error, discord.PrivilegedIntentsRequired):
        raise ConfigError(
            "Discord refused the gateway's intents. This bot asks for no privileged intent; "
            "check that it is the LogoMesh build of the bot."
        ) from None
    if isinstance(error, discord.LoginFailure):
        raise ConfigError(f"Discord refused {TOKEN_VARIABLE} on the gateway.") from None
    if error is not None:
        raise ConfigError(
            f"The Discord gateway connection ended ({type(error).__name__}: {error})."
        ) from None
    raise ConfigError("The Discord gateway connection ended.")


def run_discord(
    settings: Settings,
    *,
    http: HttpListen | None = None,
    environ: Mapping[str, str] | None = None,
    provenance: dict[str, str] | None = None,
) -> int:
    """The process's life: 0 after a stop by SIGTERM or SIGINT; a ConfigError (no token, a
    refused one, the bots switched off) is raised for the caller to show."""
    check_enabled(settings)
    if http is not None:
        public_key_of(settings)
    token = read_token(os.environ if environ is None else environ)
    run_until_signalled(lambda stop: serve(settings, token, stop, http=http, provenance=provenance))
    return 0


def run_sync(
    settings: Settings,
    guild_ids: list[int] | None,
    *,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """Register ``/logomesh`` with Discord (per guild, or globally); what was done. It
    needs no engine, so it works with the bots still switched off."""
    token = read_token(os.environ if environ is None else environ)

    async def main() -> list[str]:
        client = build_client(None, settings.bots.discord)
        await log_in(client, token)
        try:
            return await sync_commands(client.tree, guild_ids)
        except discord.HTTPException as exc:
            raise ConfigError(
                f"Discord refused the command registration ({exc.status}: {exc.text}). The "
                "bot must be invited with the applications.commands scope (docs/discord.md)."
            ) from None
        finally:
            await client.close()

    return asyncio.run(main())
