"""The loopback Discord's gateway, as the real discord.py 2.7 client connects to it.

Real: discord.py's Client and DiscordWebSocket (HELLO, IDENTIFY, heartbeats, zlib-stream
decompression, READY and GUILD_CREATE parsing, RESUME after a drop, INVALID_SESSION), over
aiohttp's WebSocket on loopback. Replaced: Discord itself, by the loopback fake
(:class:`tests.bots.discord.fake_discord.FakeDiscord`): Discord cannot be reached from here.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import discord
import pytest
import pytest_asyncio

from tests.bots.discord.fake_discord import (
    BOT_TOKEN,
    CHANNEL_ID,
    DEV_ROLE_ID,
    GUILD_ID,
    USER_ID,
    FakeDiscord,
    pointed_at,
    run_client,
)

CALLBACK = "/interactions/{id}/{token}/callback"


@dataclass
class Seen:
    """What a bare discord.py client's event handlers saw."""

    messages: list[discord.Message] = field(default_factory=list)
    interactions: list[discord.Interaction] = field(default_factory=list)
    resumed: int = 0


class QuickClient(discord.Client):
    """discord.py sleeps 5 s before every IDENTIFY but the first (Discord's identify rate
    limit); its documented hook lets a test skip that wait, and nothing else changes."""

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None


def make_client(seen: Seen, intents: discord.Intents | None = None) -> discord.Client:
    client = QuickClient(intents=intents or discord.Intents.default(), guild_ready_timeout=0.05)

    @client.event
    async def on_message(message: discord.Message) -> None:
        seen.messages.append(message)

    @client.event
    async def on_interaction(interaction: discord.Interaction) -> None:
        seen.interactions.append(interaction)
        await interaction.response.send_message(f"got {interaction.id}")

    @client.event
    async def on_resumed() -> None:
        seen.resumed += 1

    return client


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as running:
        yield running


@pytest.mark.asyncio
async def test_the_client_identifies_heartbeats_and_sees_the_guild(fake: FakeDiscord) -> None:
    """Real discord.py: HELLO, an immediate heartbeat (acked), IDENTIFY with the token and
    intents, READY and GUILD_CREATE over zlib-stream, then on_ready with the guild's roles
    and channel as the fake declared them."""
    client = make_client(Seen())
    async with run_client(fake, client):
        await fake.wait_until(lambda: len(fake.gateway.heartbeats) >= 1, what="a heartbeat")
        [identify] = fake.gateway.identifies
        assert identify["token"] == BOT_TOKEN
        assert identify["intents"] == discord.Intents.default().value
        assert fake.gateway.history[0].compress == "zlib-stream"
        guild = client.get_guild(int(GUILD_ID))
        assert guild is not None and guild.name == "Team"
        assert guild.get_role(int(DEV_ROLE_ID)) is not None
        assert guild.get_channel(int(CHANNEL_ID)) is not None
        assert client.user is not None and client.application_id is not None
    await fake.wait_until(lambda: fake.gateway.open_connections == 0, what="the close")
    assert not fake.gateway.history[0].dropped


@pytest.mark.asyncio
async def test_a_dropped_connection_resumes_and_replays_what_was_missed(fake: FakeDiscord) -> None:
    """Real discord.py reconnect: the fake drops the socket (4000); the client comes back
    to READY's resume_gateway_url and RESUMEs with its session and last ``s``. The RESUME is
    held while a person runs a command, so the client surely missed it; on release the
    fake replays it, then RESUMED, and the interaction is answered."""
    seen = Seen()
    async with run_client(fake, make_client(seen)):
        held = fake.gateway.hold_resumes()
        await fake.gateway.disconnect(code=4000)
        interaction = await fake.slash("run", {"command": "git.status"})
        await held.wait_for_waiting(1)
        assert not interaction.acknowledged and seen.interactions == []
        held.open()
        await fake.gateway.wait_for_resume(1)
        await fake.wait_until(lambda: interaction.acknowledged, what="the replayed interaction")
        [resume] = fake.gateway.resumes
        session = fake.gateway.sessions[resume["session_id"]]
        replayed = [e["t"] for e in session.events if e["s"] > resume["seq"]]
        assert replayed[:2] == ["INTERACTION_CREATE", "RESUMED"]  # then the bot's reply
        assert fake.gateway.history[1].path == "/gateway/resume/"
        assert len(fake.gateway.identifies) == 1
        await fake.wait_until(lambda: seen.resumed == 1, what="on_resumed")


@pytest.mark.asyncio
async def test_reconnect_and_invalid_session(fake: FakeDiscord) -> None:
    """Real discord.py: op 7 RECONNECT makes it RESUME; op 9 INVALID_SESSION (false) makes
    it IDENTIFY afresh (a new session: READY again, then on_ready)."""
    async with run_client(fake, make_client(Seen())) as client:
        await fake.gateway.reconnect()
        await fake.gateway.wait_for_resume(1)
        await fake.gateway.invalidate(resumable=False)
        await fake.gateway.wait_for_ready(2)
        assert len(fake.gateway.identifies) == 2 and len(fake.gateway.live_sessions()) == 1
        await fake.wait_until(client.is_ready, what="ready again")
        interaction = await fake.slash("run")
        await fake.wait_until(lambda: interaction.acknowledged, what="an answer on the new session")


@pytest.mark.asyncio
async def test_messages_follow_the_intents(fake: FakeDiscord) -> None:
    """Discord's rule, as the fake applies it: without MESSAGE_CONTENT a guild message
    reaches the bot with its content only if it mentions the bot; a DM always does."""
    seen = Seen()
    async with run_client(fake, make_client(seen)):
        await fake.say("status please")
        await fake.say("chatter", mentions_bot=False)
        await fake.say("in private", guild_id=None)
        await fake.wait_until(lambda: len(seen.messages) == 3, what="three messages")
    mention, chatter, private = seen.messages
    assert mention.content.endswith("status please") and mention.guild is not None
    assert mention.author.id == int(USER_ID) and any(m.bot for m in mention.mentions)
    assert chatter.content == ""
    assert private.content == "in private" and isinstance(private.channel, discord.DMChannel)


@pytest.mark.asyncio
async def test_a_bad_token_closes_4004_and_zlib_frames_decode(fake: FakeDiscord) -> None:
    """Raw aiohttp WebSocket (no discord.py): HELLO arrives as a zlib-stream frame ending in
    the sync-flush suffix; an IDENTIFY with a wrong token is closed 4004."""
    url = fake.gateway_url + "?v=10&encoding=json&compress=zlib-stream"
    inflate = zlib.decompressobj()
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as socket:
        frame = await socket.receive()
        assert frame.type == aiohttp.WSMsgType.BINARY and frame.data.endswith(b"\x00\x00\xff\xff")
        hello: dict[str, Any] = json.loads(inflate.decompress(frame.data))
        assert hello == {"op": 10, "d": {"heartbeat_interval": 41250}}
        await socket.send_json({"op": 2, "d": {"token": "wrong", "intents": 0, "properties": {}}})
        closing = await socket.receive()
        assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 4004
        assert closing.extra == "Authentication failed."


@pytest.mark.asyncio
async def test_plain_text_frames_and_an_unknown_session(fake: FakeDiscord) -> None:
    """Raw aiohttp WebSocket: with ``compress=zstd-stream`` (what discord.py asks for when
    ``zstandard`` is importable) or none, frames are plain text; a RESUME of a session the
    fake never issued is answered INVALID_SESSION (false)."""
    async with aiohttp.ClientSession() as session:
        for query in ("?v=10&encoding=json&compress=zstd-stream", "?v=10&encoding=json"):
            async with session.ws_connect(fake.gateway_url + query) as socket:
                frame = await socket.receive()
                assert frame.type == aiohttp.WSMsgType.TEXT
                assert json.loads(frame.data)["op"] == 10
                resume = {"token": BOT_TOKEN, "session_id": "never-issued", "seq": 3}
                await socket.send_json({"op": 6, "d": resume})
                assert json.loads((await socket.receive()).data) == {"op": 9, "d": False}
    assert len(fake.gateway.resumes) == 2


def test_the_fake_on_its_own_thread_serves_a_sync_test() -> None:
    """FakeDiscord.running(): a loop on its own thread; ``blocking`` runs a person's
    action there (the way a subprocess bot's test or a benchmark drives it)."""
    with FakeDiscord.running() as fake:
        with pytest.raises(AssertionError, match="no gateway session"):
            fake.blocking(fake.slash("run"))
        assert fake.interactions  # registered, though nobody was connected to receive it


@pytest.mark.asyncio
async def test_heartbeats_keep_coming_at_the_interval_hello_names() -> None:
    """Real discord.py KeepAliveHandler (its own thread): with a 50 ms interval in HELLO it
    heartbeats again and again on the one connection, each acked (its latency is finite)."""
    fake = FakeDiscord(heartbeat_interval_ms=50)
    async with fake, run_client(fake, make_client(Seen())) as client:
        await fake.wait_until(lambda: len(fake.gateway.heartbeats) >= 4, what="4 heartbeats")
        assert {beat.connection for beat in fake.gateway.heartbeats} == {0}
        assert fake.gateway.history[0].heartbeats >= 4
        await fake.wait_until(lambda: client.latency != float("inf"), what="an acked beat")


@pytest.mark.asyncio
async def test_a_client_on_the_test_loop_uses_a_fake_on_its_own_thread() -> None:
    """FakeDiscord.running() (the benchmark's and a subprocess bot's set-up): the real
    client on the test's loop, the fake on its thread; a person's action is sent from the
    test's loop and answered across the two."""
    with FakeDiscord.running() as fake:
        seen = Seen()
        async with run_client(fake, make_client(seen)):
            interaction = await fake.slash("run", {"command": "git.status"})
            await fake.wait_until(lambda: interaction.acknowledged, what="the answer")
            assert fake.channel_messages(CHANNEL_ID)[0].text == f"got {interaction.id}"


@pytest.mark.asyncio
async def test_the_bot_s_own_messages_come_back_as_events(fake: FakeDiscord) -> None:
    """As on Discord, every session gets MESSAGE_CREATE for the bot's own (non-ephemeral)
    messages, content included without MESSAGE_CONTENT, then MESSAGE_UPDATE and
    MESSAGE_DELETE: a bot that does not ignore itself would answer itself here."""
    seen = Seen()
    async with run_client(fake, make_client(seen)) as client:
        interaction = await fake.slash("run")
        await fake.wait_until(lambda: bool(seen.messages), what="the bot's reply as an event")
        [reply] = seen.messages
        assert reply.author == client.user and reply.content == f"got {interaction.id}"
        with pointed_at(fake):
            await reply.edit(content="edited")
            await reply.delete()
        session = fake.gateway.live_sessions()[0]
        events = [e["t"] for e in session.events]
        assert events[-3:] == ["MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE"]
