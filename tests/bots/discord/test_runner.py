"""``logomesh bot discord`` and ``discord-sync``: what stops them at start, and (with the
loopback Discord) a real process from launch to SIGTERM.

Real parts: the ``logomesh`` CLI, through typer's runner for the refusals, and as a real
``python -m logomesh bot discord`` process for the end-to-end test, with its engine on the
workspace's SQLite file; Discord is the loopback fake (tests/bots/discord/fake_discord.py)
on its own thread, since Discord cannot be reached from here.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest
import pytest_asyncio
from typer.testing import CliRunner

from bots.discord.client import build_client
from bots.discord.commands import sync_commands
from bots.discord.runner import log_in, read_token
from logomesh.bot_settings import DiscordSettings
from logomesh.cli.app import app
from logomesh.errors import ConfigError
from tests.bots.discord.fake_discord import (
    BOT_TOKEN,
    GUILD_ID,
    USER_ID,
    FakeDiscord,
    pointed_at,
)

ROOT = Path(__file__).resolve().parents[3]


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as running:
        yield running


def _invoke(workspace: Path, test_env: dict[str, str], *args: str, **env: str) -> tuple[int, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("LOGOMESH_", "DISCORD_"))}
    result = CliRunner().invoke(
        app, ["--workspace", str(workspace), *args], env={**keep, **test_env, **env}
    )
    return result.exit_code, result.output


def test_a_missing_token_is_named_with_where_to_get_it() -> None:
    with pytest.raises(ConfigError) as missing:
        read_token({"DISCORD_BOT_TOKEN": "  "})
    message = missing.value.user_message
    assert "DISCORD_BOT_TOKEN is not set" in message
    assert (
        "discord.com/developers/applications -> your application -> Bot -> Reset Token" in message
    )


def test_a_token_with_its_prefix_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as prefixed:
        read_token({"DISCORD_BOT_TOKEN": "Bot MTIzsecretpart"})
    message = prefixed.value.user_message
    assert "without the prefix" in message and "secretpart" not in message


def test_the_bots_are_off_unless_enabled(workspace: Path, test_env: dict[str, str]) -> None:
    code, output = _invoke(workspace, test_env, "bot", "discord", DISCORD_BOT_TOKEN="x.y.z")
    assert code == 2
    assert "The chat bots are off" in output and "LOGOMESH_BOTS__ENABLED=true" in output


def test_a_missing_token_stops_the_cli_with_the_fix(
    workspace: Path, test_env: dict[str, str]
) -> None:
    code, output = _invoke(workspace, test_env, "bot", "discord", LOGOMESH_BOTS__ENABLED="true")
    assert code == 2 and "DISCORD_BOT_TOKEN is not set" in output
    code, output = _invoke(workspace, test_env, "bot", "discord-sync")
    assert code == 2 and "DISCORD_BOT_TOKEN is not set" in output


def test_a_guild_that_is_not_an_id_is_refused(workspace: Path, test_env: dict[str, str]) -> None:
    code, output = _invoke(workspace, test_env, "bot", "discord-sync", "--guild", "my-server")
    assert code == 2
    assert "--guild wants a guild's id" in output and "Copy Server ID" in output


def test_both_commands_are_in_the_help(workspace: Path, test_env: dict[str, str]) -> None:
    code, output = _invoke(workspace, test_env, "bot", "--help")
    assert code == 0 and "discord" in output and "discord-sync" in output


@pytest.mark.asyncio
async def test_a_refused_token_names_where_to_get_the_right_one(fake: FakeDiscord) -> None:
    """discord.py's login against the loopback Discord, with a token it does not know."""
    with pointed_at(fake):
        client = build_client(None, DiscordSettings(api_url=fake.api_url))
        with pytest.raises(ConfigError) as refused:
            await log_in(client, "not-the-token")
    message = refused.value.user_message
    assert "Discord refused DISCORD_BOT_TOKEN (401 Unauthorized)" in message
    assert "Bot -> Reset Token" in message and "not-the-token" not in message


@pytest.mark.asyncio
async def test_discord_out_of_reach_names_the_setting() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = DiscordSettings(api_url=f"http://127.0.0.1:{port}/api/v10")
    original = discord.http.Route.BASE
    try:
        client = build_client(None, settings)
        with pytest.raises(ConfigError) as unreachable:
            await log_in(client, BOT_TOKEN)
    finally:
        discord.http.Route.BASE = original
    assert "Cannot reach Discord's API" in unreachable.value.user_message
    assert "bots.discord.api_url" in unreachable.value.user_message


@pytest.mark.asyncio
async def test_discord_sync_registers_the_command_per_guild(fake: FakeDiscord) -> None:
    with pointed_at(fake):
        client = build_client(None, DiscordSettings(api_url=fake.api_url))
        await log_in(client, BOT_TOKEN)
        try:
            said = await sync_commands(client.tree, [int(GUILD_ID)])
        finally:
            await client.close()
    assert said == [f"Synced /logomesh to guild {GUILD_ID} (shown at once)."]
    [put] = fake.calls_to("PUT", "/applications/{app}/guilds/{guild}/commands")
    [command] = put.json
    assert command["name"] == "logomesh"
    names = [option["name"] for option in command["options"]]
    assert names == ["run", "do", "pipeline", "audit", "approvals", "help"]


@pytest.mark.slow
def test_the_bot_process_answers_then_stops_cleanly_on_sigterm(
    workspace: Path, test_env: dict[str, str]
) -> None:
    """``python -m logomesh bot discord`` logs in, connects the gateway, answers a slash
    command with its result, and on SIGTERM stops taking requests, closes and exits 0."""
    with FakeDiscord.running() as fake:
        config = Path(test_env["XDG_CONFIG_HOME"]) / "logomesh" / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(
            "[bots]\nenabled = true\nshutdown_grace_s = 0.5\nprogress_interval_s = 0.1\n"
            f'[bots.discord]\napi_url = "{fake.api_url}"\ngateway_url = "{fake.gateway_url}"\n'
            '[[security.identities]]\nname = "alice"\nroles = ["developer"]\n'
            f'discord = ["{USER_ID}"]\n',
            encoding="utf-8",
        )
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("LOGOMESH_", "DISCORD_"))}
        env = {**keep, **test_env, "PYTHONPATH": str(ROOT), "DISCORD_BOT_TOKEN": BOT_TOKEN}
        bot = subprocess.Popen(
            [sys.executable, "-m", "logomesh", "--workspace", str(workspace), "bot", "discord"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            fake.blocking(fake.gateway.wait_for_ready(1, timeout=60), timeout=70)
            asked = fake.blocking(fake.slash("run", {"command": "status"}))

            def answered() -> bool:
                message = fake.find_message(asked.original_message_id or "")
                return message is not None and "✅" in message.text

            fake.blocking(fake.wait_until(answered, timeout=60, what="the answer"), timeout=70)
            bot.send_signal(signal.SIGTERM)
            _, stderr = bot.communicate(timeout=60)
        finally:
            if bot.poll() is None:
                bot.kill()
                bot.communicate()
    assert bot.returncode == 0, stderr
    assert "Connected to Discord" in stderr and "Stopping" in stderr
    assert BOT_TOKEN not in stderr
