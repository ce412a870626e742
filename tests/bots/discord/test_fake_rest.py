"""The loopback Discord's REST API, as the real discord.py 2.7 client uses it.

Real: discord.py's Client, HTTPClient (its rate-limit buckets and 429 handling), its
CommandTree, interaction responses, follow-up webhooks and persistent DynamicItem views, over
aiohttp on loopback. Replaced: Discord itself, by the loopback fake
(:class:`tests.bots.discord.fake_discord.FakeDiscord`): Discord cannot be reached from here.
No LogoMesh adapter runs here: these tests show the fake answers what Discord answers.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import discord
import pytest
import pytest_asyncio
from discord import app_commands

from tests.bots.discord.approve_button import Approve
from tests.bots.discord.fake_discord import (
    CHANNEL_ID,
    GUILD_ID,
    USER_ID,
    FakeDiscord,
    FakeInteraction,
    pointed_at,
    run_client,
)

FOLLOW_UP = "/webhooks/{app}/{token}"
CALLBACK = "/interactions/{id}/{token}/callback"
ORIGINAL = "/webhooks/{app}/{token}/messages/@original"


@dataclass
class Bot:
    """A bare discord.py bot: /logomesh run (defers, follows up, edits), with autocomplete."""

    client: discord.Client
    tree: app_commands.CommandTree[discord.Client]
    errors: list[BaseException] = field(default_factory=list)


def make_bot() -> Bot:
    client = discord.Client(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)
    bot = Bot(client, tree)
    group = app_commands.Group(name="logomesh", description="LogoMesh")

    @group.command(name="run", description="Run a command")
    async def run(interaction: discord.Interaction, command: str, long: bool = False) -> None:
        try:
            await interaction.response.defer(thinking=True)
            text = "x" * 2001 if long else f"ran {command}"
            await interaction.followup.send(text)
            await interaction.edit_original_response(content=f"done: {command}")
        except discord.HTTPException as error:
            bot.errors.append(error)
            if error.code == 50027 and interaction.channel is not None:
                assert isinstance(interaction.channel, discord.TextChannel)
                await interaction.channel.send(f"late result for {command}")

    @run.autocomplete("command")
    async def names(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        known = ["git.status", "git.log", "db.query"]
        return [app_commands.Choice(name=n, value=n) for n in known if n.startswith(current)]

    @group.command(name="card", description="Post an approval card")
    async def card(interaction: discord.Interaction, ticket: str) -> None:
        view = discord.ui.View(timeout=None)
        view.add_item(Approve(ticket))
        await interaction.response.send_message(f"ticket {ticket}", view=view)

    @group.command(name="file", description="Send a file")
    async def send_file(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True)
        await interaction.followup.send(
            "log", file=discord.File(io.BytesIO(b"line 1\n"), "run.log")
        )

    @group.command(name="held", description="Waits at a gate before it answers")
    async def held(interaction: discord.Interaction) -> None:
        try:
            await interaction.response.defer()
        except discord.HTTPException as error:
            bot.errors.append(error)

    tree.add_command(group)
    client.add_dynamic_items(Approve)
    return bot


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as running:
        yield running


@pytest_asyncio.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[Bot]:
    made = make_bot()
    async with run_client(fake, made.client):
        yield made


async def answered(fake: FakeDiscord, interaction: FakeInteraction) -> None:
    await fake.wait_until(lambda: interaction.acknowledged, what=f"a response to {interaction.id}")


@pytest.mark.asyncio
async def test_slash_defer_follow_up_and_edit(fake: FakeDiscord, bot: Bot) -> None:
    """Real discord.py CommandTree: a slash interaction from the gateway is deferred (the
    "thinking" message, flags 128), the first follow-up replaces it, as Discord does, and an
    edit of @original changes that one message; every version is kept."""
    interaction = await fake.slash("run", {"command": "git.status"})
    await fake.wait_for("PATCH", ORIGINAL)
    assert [r["type"] for r in fake.responses(interaction)] == [5]
    [message] = fake.channel_messages(CHANNEL_ID)
    assert message.interaction_id == interaction.id and message.webhook
    assert [v["content"] for v in message.history] == ["", "ran git.status", "done: git.status"]
    assert message.history[0]["flags"] == 128 and message.flags == 0
    assert message.edits == 2 and message.text == "done: git.status"


@pytest.mark.asyncio
async def test_autocomplete_choices_are_recorded(fake: FakeDiscord, bot: Bot) -> None:
    """Real discord.py autocomplete: the choices it answers (type 8) are on the interaction."""
    interaction = await fake.autocomplete("run", {"command": "git"}, "command")
    await answered(fake, interaction)
    assert interaction.response_type == 8
    assert interaction.choices == [
        {"name": "git.status", "value": "git.status"},
        {"name": "git.log", "value": "git.log"},
    ]


@pytest.mark.asyncio
async def test_a_429_on_a_follow_up_is_retried_exactly_once(fake: FakeDiscord, bot: Bot) -> None:
    """Real discord.py webhook adapter: a 429 from Discord (``Via`` set, retry_after in the
    body) is waited out and retried once; nothing is sent twice."""
    fake.fail_next("POST", FOLLOW_UP, retry_after=0.05)
    interaction = await fake.slash("run", {"command": "git.log"})
    await fake.wait_for("PATCH", ORIGINAL)
    assert [c.status for c in fake.calls_to("POST", FOLLOW_UP)] == [429, 200]
    assert fake.calls_to("POST", FOLLOW_UP)[0].response["retry_after"] == 0.05
    assert [m.text for m in fake.channel_messages(CHANNEL_ID)] == ["done: git.log"]
    assert fake.responses(interaction)[0]["type"] == 5


@pytest.mark.asyncio
async def test_an_expired_token_answers_50027_and_a_channel_message_still_works(
    fake: FakeDiscord, bot: Bot
) -> None:
    """Real discord.py: past the token's 15 minutes the webhook answers 401 50027 ("Invalid
    Webhook Token"), and the bot's own channel message (bot token) still goes through."""
    gate = fake.gate("POST", FOLLOW_UP)
    await fake.slash("run", {"command": "git.status"})
    await gate.wait_for_waiting(1)
    fake.expire_tokens()
    gate.open()
    posted = await fake.wait_for("POST", "/channels/{channel}/messages")
    assert posted.ok and bot.errors and getattr(bot.errors[0], "code", None) == 50027
    assert fake.calls_to("POST", FOLLOW_UP)[0].status == 401
    assert fake.channel_messages(CHANNEL_ID)[-1].text == "late result for git.status"


@pytest.mark.asyncio
async def test_a_late_interaction_is_refused_10062(fake: FakeDiscord, bot: Bot) -> None:
    """Real discord.py: a response after the 3 s window is 404 10062 "Unknown interaction"."""
    interaction = await fake.slash("run", {"command": "git.status"}, created_ago_s=3.5)
    await fake.wait_until(lambda: bool(bot.errors), what="the refused defer")
    assert isinstance(bot.errors[0], discord.NotFound) and bot.errors[0].code == 10062
    assert not interaction.acknowledged and fake.channel_messages(CHANNEL_ID) == []


@pytest.mark.asyncio
async def test_a_held_callback_is_not_acknowledged_until_answered(
    fake: FakeDiscord, bot: Bot
) -> None:
    """The fake's gate holds discord.py's defer unanswered: the interaction is not yet
    acknowledged; once the gate opens it is, and a second response is refused 40060."""
    gate = fake.gate("POST", CALLBACK)
    interaction = await fake.slash("held")
    await gate.wait_for_waiting(1)
    assert not interaction.acknowledged and fake.calls_to("POST", CALLBACK) == []
    gate.open()
    await answered(fake, interaction)
    late = fake.mark()
    again = await _raw_callback(fake, interaction, {"type": 4, "data": {"content": "again"}})
    assert again == (400, 40060)
    assert fake.calls[late].code == 40060


async def _raw_callback(
    fake: FakeDiscord, interaction: FakeInteraction, body: dict[str, Any]
) -> tuple[int, int | None]:
    url = f"{fake.api_url}/interactions/{interaction.id}/{interaction.token}/callback"
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        answer = await response.json() if response.status != 204 else {}
        return response.status, answer.get("code")


@pytest.mark.asyncio
async def test_a_persistent_dynamic_button_click_reaches_its_callback(
    fake: FakeDiscord, bot: Bot
) -> None:
    """Real discord.py DynamicItem: the posted card's button (found on the message as the
    fake stores it) is clicked; discord.py matches its custom_id and the callback updates
    the message in place (type 7)."""
    interaction = await fake.slash("card", {"ticket": "T42"})
    await answered(fake, interaction)
    [card] = fake.channel_messages(CHANNEL_ID)
    assert card.buttons == [("Approve", "approve:T42", 2)]
    click = await fake.click(card, "approve:T42")
    await answered(fake, click)
    assert click.response_type == 7
    assert card.text == "approved T42" and card.buttons == [] and card.edits == 1


@pytest.mark.asyncio
async def test_too_long_content_is_refused_50035_naming_the_field(
    fake: FakeDiscord, bot: Bot
) -> None:
    """A follow-up of 2001 characters is refused as Discord refuses it: 400 50035 "Invalid
    Form Body", the errors naming ``content``; discord.py raises it with that path."""
    await fake.slash("run", {"command": "git.status", "long": True})
    await fake.wait_until(lambda: bool(bot.errors), what="the refused follow-up")
    error = bot.errors[0]
    assert isinstance(error, discord.HTTPException) and error.code == 50035
    assert "In content: Must be 2000 or fewer in length." in str(error)
    refused = fake.calls_to("POST", FOLLOW_UP)[0]
    assert refused.status == 400 and "content" in refused.response["errors"]


@pytest.mark.asyncio
async def test_files_are_recorded_and_ephemeral_messages_stay_out_of_channel_routes(
    fake: FakeDiscord, bot: Bot
) -> None:
    """Real discord.py multipart upload: the follow-up's file is recorded by name and bytes
    on the (ephemeral) message; the bot's token cannot reach that message by channel route."""
    interaction = await fake.slash("file")
    await fake.wait_for("POST", FOLLOW_UP)
    [message] = [m for m in fake.messages if m.interaction_id == interaction.id]
    assert message.ephemeral and message.attachments == [("run.log", b"line 1\n")]
    channel = bot.client.get_channel(int(CHANNEL_ID))
    assert isinstance(channel, discord.TextChannel)
    with pointed_at(fake), pytest.raises(discord.NotFound) as refused:
        await channel.get_partial_message(int(message.id)).edit(content="changed")
    assert refused.value.code == 10008 and message.content == "log"


@pytest.mark.asyncio
async def test_commands_sync_globally_and_per_guild(fake: FakeDiscord, bot: Bot) -> None:
    """Real discord.py CommandTree.sync: the bulk overwrite is stored (ids, version) and
    GET answers it; a guild sync is kept apart from the global one."""
    with pointed_at(fake):
        synced = await bot.tree.sync()
        bot.tree.copy_global_to(guild=discord.Object(int(GUILD_ID)))
        in_guild = await bot.tree.sync(guild=discord.Object(int(GUILD_ID)))
    assert [c.name for c in synced] == ["logomesh"] and [c.name for c in in_guild] == ["logomesh"]
    assert fake.commands[None][0]["id"] == str(synced[0].id)
    assert fake.commands[GUILD_ID][0]["guild_id"] == GUILD_ID
    subcommands = [o["name"] for o in fake.commands[None][0]["options"]]
    assert subcommands == ["run", "card", "file", "held"]


@pytest.mark.asyncio
async def test_a_wrong_token_is_refused_at_login(fake: FakeDiscord) -> None:
    """Real discord.py login: GET /users/@me with a wrong token is 401, LoginFailure."""
    client = discord.Client(intents=discord.Intents.default())
    with pointed_at(fake), pytest.raises(discord.LoginFailure):
        await client.login("not-the-token")
    await client.close()
    assert fake.calls[-1].route == "GET /users/@me" and fake.calls[-1].status == 401


def test_an_unknown_route_names_the_known_ones() -> None:
    """A typo in a test's route is refused at once, listing what the fake serves."""
    fake = FakeDiscord()
    with pytest.raises(ValueError, match=r"no route POST /webhook/\{app\}.*known:"):
        fake.fail_next("POST", "/webhook/{app}/{token}")
    assert fake.route("", "POST /webhooks/{app}/{token}").name == "POST /webhooks/{app}/{token}"


@pytest.mark.asyncio
async def test_a_429_on_a_bot_route_is_retried_once_by_the_http_client(
    fake: FakeDiscord, bot: Bot
) -> None:
    """Real discord.py HTTPClient (bot token routes): a 429 with the rate-limit headers and
    body is slept out and retried exactly once; the message is posted once."""
    fake.fail_next("POST", "/channels/{channel}/messages", retry_after=0.05, global_=True)
    channel = bot.client.get_channel(int(CHANNEL_ID))
    assert isinstance(channel, discord.TextChannel)
    with pointed_at(fake):
        sent = await channel.send("hello")
    calls = fake.calls_to("POST", "/channels/{channel}/messages")
    assert [c.status for c in calls] == [429, 200] and calls[0].response["global"] is True
    assert fake.message(str(sent.id)).text == "hello"


@pytest.mark.asyncio
async def test_a_slash_command_in_a_direct_message(fake: FakeDiscord, bot: Bot) -> None:
    """Real discord.py: an interaction from a DM (``user``, no ``member`` or guild) reaches
    the command; its answer lands in the person's DM channel."""
    interaction = await fake.slash("card", {"ticket": "DM1"}, guild_id=None)
    await answered(fake, interaction)
    [message] = fake.channel_messages(fake.dm_channels[USER_ID])
    assert message.guild_id is None and message.text.startswith("ticket DM1")
    assert "member" not in interaction.payload and interaction.payload["user"]["id"] == USER_ID


@pytest.mark.asyncio
async def test_the_webhook_reaches_only_its_own_interaction_s_messages(
    fake: FakeDiscord, bot: Bot
) -> None:
    """Through one interaction's webhook: GET/PATCH/DELETE of @original and of its own
    follow-up work; another interaction's message is 404 10008 "Unknown Message"; after
    DELETE, @original is gone too. (Raw HTTP: the webhook needs no bot token.)"""
    first = await fake.slash("card", {"ticket": "A"})
    second = await fake.slash("card", {"ticket": "B"})
    await answered(fake, first)
    await answered(fake, second)
    app = fake.api_url + "/webhooks/" + first.payload["application_id"]
    other = second.original_message_id
    async with aiohttp.ClientSession() as session:

        async def call(method: str, path: str, body: Any = None) -> tuple[int, Any]:
            async with session.request(method, app + path, json=body) as response:
                return response.status, await response.json() if response.status != 204 else None

        status, original = await call("GET", f"/{first.token}/messages/@original")
        assert status == 200 and original["content"] == "ticket A"
        status, edited = await call(
            "PATCH", f"/{first.token}/messages/@original", {"content": "A!"}
        )
        assert status == 200 and edited["id"] == first.original_message_id
        status, refused = await call("PATCH", f"/{first.token}/messages/{other}", {"content": "x"})
        assert (status, refused["code"]) == (404, 10008)
        status, follow_up = await call("POST", f"/{first.token}?wait=true", {"content": "more"})
        assert status == 200 and fake.message(follow_up["id"]).interaction_id == first.id
        assert (await call("DELETE", f"/{first.token}/messages/@original"))[0] == 204
        status, gone = await call("GET", f"/{first.token}/messages/@original")
        assert (status, gone["code"]) == (404, 10008)
    assert fake.message(str(other)).text.startswith("ticket B")


@pytest.mark.asyncio
async def test_a_command_name_discord_would_refuse_is_refused_50035(
    fake: FakeDiscord, bot: Bot
) -> None:
    """Discord's name rule for chat-input commands (lower case, 1-32 word characters):
    a bulk overwrite with "LogoMesh" is refused naming commands.0.name."""
    with pointed_at(fake), pytest.raises(discord.HTTPException) as refused:
        await bot.client.http.bulk_upsert_global_commands(
            bot.client.application_id or 0, [{"name": "LogoMesh", "description": "x", "type": 1}]
        )
    assert refused.value.code == 50035 and "In 0.name: Command name is invalid" in str(
        refused.value
    )
    assert None not in fake.commands
