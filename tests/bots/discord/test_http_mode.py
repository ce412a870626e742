"""``logomesh bot discord --http``: the whole bot answering Discord's signed HTTP
interactions, with no gateway connection.

Real parts: the engine on the workspace's SQLite file, the neutral bot, the discord.py
client logged in over REST only, the adapter's command tree and conversation, and the
aiohttp endpoint of :mod:`bots.discord.http` checking Ed25519 signatures; Discord itself is
the loopback fake, which builds and signs each interaction as Discord does (Discord cannot
be reached from here) and records the callbacks and webhook calls the bot answers with.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import aiohttp
import pytest
from typer.testing import CliRunner

from bots.chat.dispatch import ChatBot
from bots.discord.client import build_client
from bots.discord.http import INTERACTIONS_PATH
from bots.discord.runner import HttpListen, connect_http
from logomesh.cli.app import app
from logomesh.commands.values import Source
from tests.bots.commands import GATES, engine_for, trail
from tests.bots.discord.fake_discord import (
    BOT_TOKEN,
    PUBLIC_KEY_HEX,
    FakeDiscord,
    pointed_at,
    signed_headers,
)
from tests.bots.discord.harness import ALICE, Load, add_people, team_flags
from tests.bots.gate import Gate


@pytest.mark.asyncio
async def test_a_signed_slash_command_is_answered_without_a_gateway(load: Load) -> None:
    """A signed ``/logomesh run status`` POSTed to the endpoint: 202 at once, the
    deferral and the result through the callback and webhook; a forged one is 401 and
    runs nothing."""
    async with FakeDiscord() as fake:
        add_people(fake)
        with pointed_at(fake):
            flags = team_flags(fake, bots={"discord": {
                "api_url": fake.api_url, "gateway_url": fake.gateway_url,
                "public_key": PUBLIC_KEY_HEX,
            }})  # fmt: skip
            loaded = load(flags)
            engine = engine_for(loaded)
            GATES[engine] = Gate()
            bot = ChatBot(engine, platform=Source.DISCORD)
            engine.events.bind(asyncio.get_running_loop())
            client = build_client(bot, loaded.settings.bots.discord)
            await client.login(BOT_TOKEN)  # REST only
            server = await connect_http(client, bot, loaded.settings, HttpListen("127.0.0.1", 0))
            url = f"http://127.0.0.1:{server.port}{INTERACTIONS_PATH}"
            try:
                async with aiohttp.ClientSession() as session:
                    asked = fake.slash_payload("run", {"command": "status"}, user=ALICE)
                    body = json.dumps(asked.payload).encode()
                    forged = {**signed_headers(body), "X-Signature-Ed25519": "00" * 64}
                    async with session.post(url, data=body, headers=forged) as refused:
                        assert refused.status == 401
                    async with session.post(url, data=body, headers=signed_headers(body)) as ok:
                        assert ok.status == 202
                    await fake.wait_until(
                        lambda: (
                            bool(asked.original_message_id)
                            and "✅" in fake.message(asked.original_message_id).text
                        ),
                        what="the result in the original response",
                    )
                assert [r["type"] for r in fake.responses(asked)] == [5]
                assert fake.gateway.connections == 0  # nothing connected to the gateway
                [record] = trail(engine, action="status")
                assert record.source == "discord" and record.actor == "alice"
            finally:
                await bot.shutdown(grace_s=5)
                await server.stop()
                await client.close()
                engine.events.unbind()
                del GATES[engine]


def test_http_mode_without_the_public_key_names_the_setting(
    workspace: Path, test_env: dict[str, str]
) -> None:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("LOGOMESH_", "DISCORD_"))}
    env = {**keep, **test_env, "LOGOMESH_BOTS__ENABLED": "true", "DISCORD_BOT_TOKEN": "x.y.z"}
    result = CliRunner().invoke(
        app, ["--workspace", str(workspace), "bot", "discord", "--http", "127.0.0.1:8080"], env=env
    )
    assert result.exit_code == 2
    assert "needs the application's public key" in result.output
    assert "bots.discord.public_key" in result.output and "General Information" in result.output
