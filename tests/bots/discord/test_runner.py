"""``logomesh bot discord`` and ``discord-sync``: what stops them at start, and (with the
loopback Discord) a real process from launch to SIGTERM.

Real parts: the ``logomesh`` CLI, through typer's runner for the refusals, and as a real
``python -m logomesh bot discord`` process for the end-to-end test, with its engine on the
workspace's SQLite file; Discord is the loopback fake (tests/bots/discord/fake_discord.py)
on its own thread, since Discord cannot be reached from here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bots.discord.runner import read_token
from logomesh.cli.app import app
from logomesh.errors import ConfigError


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
