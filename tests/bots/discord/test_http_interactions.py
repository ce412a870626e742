"""HTTP interactions mode (bots/discord/http.py): signed POSTs from Discord, no gateway.

Real: the aiohttp server of :func:`bots.discord.http.build_interactions_app`, Ed25519
signatures (cryptography), a real discord.py Client logged in over REST (no gateway
connection) with a CommandTree whose command defers and follows up through discord.py's
own interaction response and webhook. Replaced: Discord itself, by the loopback fake
(:class:`tests.bots.discord.fake_discord.FakeDiscord`), which builds and signs the requests
as Discord does and records the callbacks: Discord cannot be reached from here.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import discord
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from discord import app_commands

from bots.discord.http import INTERACTIONS_PATH, build_interactions_app
from bots.web import HttpServer, start_http
from logomesh.bot_settings import DiscordSettings
from tests.bots.discord import discord_payloads as payloads
from tests.bots.discord.approve_button import Approve
from tests.bots.discord.fake_discord import (
    BOT_TOKEN,
    CHANNEL_ID,
    PUBLIC_KEY_HEX,
    FakeDiscord,
    FakeInteraction,
    pointed_at,
    signed_headers,
)

CALLBACK = "/interactions/{id}/{token}/callback"
FOLLOW_UP = "/webhooks/{app}/{token}"


@dataclass
class Endpoint:
    fake: FakeDiscord
    server: HttpServer
    session: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}{INTERACTIONS_PATH}"

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        async with self.session.post(self.url, data=body, headers=headers) as response:
            return response.status, await response.text()


def make_client() -> discord.Client:
    client = discord.Client(intents=discord.Intents.none())
    client.add_dynamic_items(Approve)
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)
    group = app_commands.Group(name="logomesh", description="LogoMesh")

    @group.command(name="run", description="Run a command")
    async def run(interaction: discord.Interaction, command: str) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send(f"ran {command}")

    tree.add_command(group)
    return client


@pytest_asyncio.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    settings = DiscordSettings(public_key=PUBLIC_KEY_HEX, max_body_bytes=4096)
    async with FakeDiscord() as fake:
        client = make_client()
        with pointed_at(fake):
            await client.login(BOT_TOKEN)  # REST only: HTTP mode needs no gateway connection
            app = build_interactions_app(client, settings, PUBLIC_KEY_HEX)
            server = await start_http(app, "127.0.0.1", 0)
            try:
                async with aiohttp.ClientSession() as session:
                    yield Endpoint(fake, server, session)
            finally:
                await server.stop()
                await client.close()


def slash(fake: FakeDiscord) -> tuple[FakeInteraction, bytes]:
    interaction = fake.slash_payload("run", {"command": "git.status"})
    return interaction, json.dumps(interaction.payload).encode()


@pytest.mark.asyncio
async def test_a_signed_interaction_is_answered_202_and_handled_by_discord_py(
    endpoint: Endpoint,
) -> None:
    """A signed slash command: 202 with no body, then discord.py's own defer reaches the
    callback endpoint (type 5) and its follow-up replaces the thinking message."""
    interaction, body = slash(endpoint.fake)
    status, text = await endpoint.post(body, signed_headers(body))
    assert (status, text) == (202, "")
    await endpoint.fake.wait_for("POST", FOLLOW_UP)
    assert [r["type"] for r in endpoint.fake.responses(interaction)] == [5]
    [message] = [m for m in endpoint.fake.messages if m.interaction_id == interaction.id]
    assert message.text == "ran git.status" and not message.loading


@pytest.mark.asyncio
async def test_a_signed_click_reaches_a_persistent_button(endpoint: Endpoint) -> None:
    """A click over HTTP goes through discord.py's view store like a gateway click: the
    DynamicItem's callback updates the card in place (type 7)."""
    button = {"type": 2, "style": 1, "label": "Approve", "custom_id": "approve:T7"}
    card = endpoint.fake.new_message(
        CHANNEL_ID, {"content": "ticket T7", "components": [{"type": 1, "components": [button]}]}
    )
    click = endpoint.fake.click_payload(card, "approve:T7")
    body = json.dumps(click.payload).encode()
    assert (await endpoint.post(body, signed_headers(body)))[0] == 202
    await endpoint.fake.wait_until(lambda: click.acknowledged, what="the click's answer")
    assert click.response_type == 7 and card.text == "approved T7" and card.buttons == []


@pytest.mark.asyncio
async def test_ping_is_answered_pong(endpoint: Endpoint) -> None:
    """Discord's validation probe, signed: 200 ``{"type": 1}``."""
    body = json.dumps(payloads.ping("1184000000000009999", "ping-token")).encode()
    async with endpoint.session.post(endpoint.url, data=body, headers=signed_headers(body)) as r:
        assert r.status == 200 and await r.json() == {"type": 1}


@pytest.mark.asyncio
async def test_forged_missing_stale_and_replayed_signatures_are_refused_401(
    endpoint: Endpoint,
) -> None:
    """Each refusal is 401 with a reason naming the fix; none reaches discord.py (no
    callback recorded), PINGs included, as Discord's probes require."""
    interaction, body = slash(endpoint.fake)
    forged = signed_headers(body, key=Ed25519PrivateKey.generate())
    stale = signed_headers(body, timestamp=str(int(time.time()) - 301))
    bare = {"Content-Type": "application/json"}
    ping = json.dumps(payloads.ping("1184000000000009998", "t")).encode()
    cases = {
        "forged": (body, forged, "Invalid request signature"),
        "missing": (body, bare, "Missing header X-Signature-Ed25519 and X-Signature-Timestamp"),
        "stale": (body, stale, "s ago, and requests outside 300 s"),
        "forged ping": (ping, signed_headers(ping, key=Ed25519PrivateKey.generate()), "Invalid"),
        "tampered": (body + b" ", signed_headers(body), "Invalid request signature"),
    }
    for name, (sent, headers, reason) in cases.items():
        status, text = await endpoint.post(sent, headers)
        assert status == 401 and reason in text, name
    good = signed_headers(body)
    assert (await endpoint.post(body, good))[0] == 202
    status, text = await endpoint.post(body, good)
    assert status == 401 and "Replayed request" in text
    await endpoint.fake.wait_for("POST", CALLBACK)
    assert len(endpoint.fake.calls_to("POST", CALLBACK)) == 1 and interaction.acknowledged


@pytest.mark.asyncio
async def test_an_oversized_or_malformed_body_is_refused(endpoint: Endpoint) -> None:
    """Past bots.discord.max_body_bytes: 413, unread; signed but not an interaction: 400."""
    big = b"{" + b" " * 5000 + b"}"
    status, text = await endpoint.post(big, signed_headers(big))
    assert status == 413 and "bots.discord.max_body_bytes" in text
    for bad, reason in ((b"not json", "not JSON"), (b'{"type": "2"}', "integer 'type'")):
        status, text = await endpoint.post(bad, signed_headers(bad))
        assert status == 400 and reason in text
    partial = json.dumps({"type": 2, "id": "1"}).encode()
    status, text = await endpoint.post(partial, signed_headers(partial))
    assert status == 400 and "Malformed interaction" in text
    async with endpoint.session.get(endpoint.url.replace(INTERACTIONS_PATH, "/healthz")) as r:
        assert r.status == 200 and (await r.json())["ok"] is True


def test_a_public_key_that_is_not_an_ed25519_key_is_refused_naming_the_setting() -> None:
    """A bad key fails at build time, naming bots.discord.public_key and where to find it."""
    client = discord.Client(intents=discord.Intents.none())
    settings = DiscordSettings(public_key=PUBLIC_KEY_HEX)
    with pytest.raises(ValueError, match=r"bots\.discord\.public_key must be"):
        build_interactions_app(client, settings, "zz" * 32)
