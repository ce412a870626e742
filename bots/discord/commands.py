"""The ``/logomesh`` application command: six subcommands, their options and autocomplete.

Each subcommand only turns its options back into the words the neutral grammar reads
(``run git.log limit=5``, ``do what changed?``), so Discord and Slack mean the same by
them (``bots.chat.parse``), and hands them to the client, which defers the interaction
before anything else happens (:meth:`LogoMeshClient.slash_command
<bots.discord.client.LogoMeshClient.slash_command>`). Autocomplete answers from
:mod:`bots.chat.complete`: only what the person may run, from memory, at once.

:func:`sync_commands` registers the command with Discord: per guild, instantly, for
development; globally for release (Discord takes up to an hour to show global changes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import discord
from discord import app_commands

from bots.chat.complete import (
    PIPELINE_PREFIX,
    Choice,
    argument_choices,
    command_choices,
    pipeline_choices,
)
from bots.discord.inbound import user_of

if TYPE_CHECKING:
    from logomesh.engine import Engine

DESCRIPTION = "LogoMesh: run commands, ask in words, decide approvals, read the audit trail"


@runtime_checkable
class CommandHost(Protocol):
    """What the subcommands need of the client: somewhere to hand the words, and the
    engine whose registry autocomplete reads (None until the bot is attached)."""

    @property
    def engine(self) -> Engine | None: ...

    async def slash_command(
        self, interaction: discord.Interaction[Any], text: str, *, private: bool = False
    ) -> None: ...


def words(*parts: str | None) -> str:
    """The subcommand's text: its parts, blanks left out."""
    return " ".join(part.strip() for part in parts if part and part.strip())


def build_group(name: str) -> app_commands.Group:
    """``/<name>`` with its subcommands (``name`` is ``bots.discord.command``)."""
    group = app_commands.Group(name=name, description=DESCRIPTION)

    @group.command(name="run", description="Run one LogoMesh command by name")
    @app_commands.describe(
        command="The command's name (only those you may run are offered)",
        arguments="key=value pairs, e.g. limit=5 (keys are offered as you type)",
    )
    async def run(
        interaction: discord.Interaction[Any], command: str, arguments: str | None = None
    ) -> None:
        await _hand_over(interaction, words("run", command, arguments))

    @group.command(name="do", description="Ask in words; LogoMesh proposes a command")
    @app_commands.describe(request="What you want, e.g. what changed since yesterday?")
    async def do(interaction: discord.Interaction[Any], request: str) -> None:
        await _hand_over(interaction, words("do", request))

    @group.command(name="pipeline", description="Run a pipeline of the workspace")
    @app_commands.describe(name="The pipeline", inputs="key=value inputs, e.g. strict=true")
    async def pipeline(
        interaction: discord.Interaction[Any], name: str, inputs: str | None = None
    ) -> None:
        await _hand_over(interaction, words("pipeline", name, inputs))

    @group.command(name="audit", description="Read the audit trail")
    @app_commands.describe(
        question='e.g. "last 20", "who ran deploy this week", "search restarted the database"'
    )
    async def audit(interaction: discord.Interaction[Any], question: str | None = None) -> None:
        await _hand_over(interaction, words("audit", question))

    @group.command(name="approvals", description="List the approval tickets waiting")
    async def approvals(interaction: discord.Interaction[Any]) -> None:
        await _hand_over(interaction, "approvals")

    @group.command(name="help", description="What you may run, or one command in detail")
    @app_commands.describe(command="A command to explain")
    async def help_(interaction: discord.Interaction[Any], command: str | None = None) -> None:
        await _hand_over(interaction, words("help", command), private=True)

    run.autocomplete("command")(_command_names)
    run.autocomplete("arguments")(_argument_keys)
    help_.autocomplete("command")(_command_names)
    pipeline.autocomplete("name")(_pipeline_names)
    pipeline.autocomplete("inputs")(_input_keys)
    return group


async def _hand_over(
    interaction: discord.Interaction[Any], text: str, *, private: bool = False
) -> None:
    """``private``: every answer is for the person only (help), so even the thinking
    message is."""
    host = interaction.client
    if not isinstance(host, CommandHost):
        raise TypeError("the /logomesh command runs on a LogoMeshClient only")
    await host.slash_command(interaction, text, private=private)


def _engine(interaction: discord.Interaction[Any]) -> Engine | None:
    host = interaction.client
    return host.engine if isinstance(host, CommandHost) else None


def _choices(found: list[Choice]) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=choice.label, value=choice.value) for choice in found]


async def _command_names(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    engine = _engine(interaction)
    if engine is None:
        return []
    return _choices(command_choices(engine, user_of(interaction.user), current))


async def _argument_keys(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    engine = _engine(interaction)
    command = getattr(interaction.namespace, "command", None)
    if engine is None or not isinstance(command, str):
        return []
    return _choices(argument_choices(engine, user_of(interaction.user), command, current))


async def _pipeline_names(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    engine = _engine(interaction)
    if engine is None:
        return []
    return _choices(pipeline_choices(engine, user_of(interaction.user), current))


async def _input_keys(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    engine = _engine(interaction)
    name = getattr(interaction.namespace, "name", None)
    if engine is None or not isinstance(name, str):
        return []
    command = PIPELINE_PREFIX + name.removeprefix(PIPELINE_PREFIX)
    return _choices(argument_choices(engine, user_of(interaction.user), command, current))


async def sync_commands(
    tree: app_commands.CommandTree[Any], guild_ids: list[int] | None
) -> list[str]:
    """Register the command with Discord: in each of ``guild_ids`` (shown at once: for
    development), or globally when None (for release; Discord takes up to an hour). Says
    what it did, one line per sync."""
    if not guild_ids:
        synced = await tree.sync()
        return [f"Synced {_names(synced)} globally (Discord shows it within an hour)."]
    said = []
    for guild_id in guild_ids:
        guild = discord.Object(guild_id)
        tree.copy_global_to(guild=guild)
        synced = await tree.sync(guild=guild)
        said.append(f"Synced {_names(synced)} to guild {guild_id} (shown at once).")
    return said


def _names(synced: list[app_commands.AppCommand]) -> str:
    return ", ".join(f"/{command.name}" for command in synced) or "no commands"
