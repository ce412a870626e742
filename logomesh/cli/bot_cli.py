"""``logomesh bot ...``: run LogoMesh as a chat bot in the team's chat (docs/slack.md,
docs/discord.md).

A bot is a long-lived adapter like the language server: it builds its own engine, keeps it
warm and stops on SIGTERM. Its SDKs are an optional extra, so ``bots.slack`` is imported
only when the bot starts (``bots.discord`` likewise), and its absence is answered with the
install command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer

from logomesh.cli.session import fail, state_of

if TYPE_CHECKING:
    from logomesh.config import LoadedSettings

T = TypeVar("T")

app = typer.Typer(help="Chat bots: LogoMesh in your team's chat.", no_args_is_help=True)
_INSTALL = "pip install 'logomesh[slack]'"
_INSTALL_DISCORD = "pip install 'logomesh[discord]'"


@app.command("slack")
def slack(
    ctx: typer.Context,
    socket: Annotated[
        bool,
        typer.Option("--socket", help="Connect out over Socket Mode (the default; no public URL)."),
    ] = False,
    http: Annotated[
        str | None,
        typer.Option(
            "--http",
            metavar="HOST:PORT",
            help="Listen for Slack's signed requests on HOST:PORT (path /slack/events).",
        ),
    ] = None,
) -> None:
    """Run the Slack bot (tokens from SLACK_BOT_TOKEN and SLACK_APP_TOKEN or
    SLACK_SIGNING_SECRET; stops cleanly on SIGTERM)."""
    if socket and http is not None:
        fail("Choose one of --socket and --http HOST:PORT, not both.", "command.invalid_arguments")
    try:
        from bots.slack.runner import Listen, run_slack
        from bots.slack.tokens import SlackMode
    except ImportError as exc:
        fail(
            f"The Slack bot needs the Slack SDKs, which are not installed ({exc.name}): {_INSTALL}",
            "config.invalid",
        )
    if http is None:
        listen = Listen(SlackMode.SOCKET)
    else:
        host, port = _host_and_port(http)
        listen = Listen(SlackMode.HTTP, host, port)
    code = _with_settings(
        ctx, lambda loaded: run_slack(loaded.settings, listen, provenance=loaded.provenance)
    )
    raise typer.Exit(code)


@app.command("discord")
def discord_bot(
    ctx: typer.Context,
    http: Annotated[
        str | None,
        typer.Option(
            "--http",
            metavar="HOST:PORT",
            help="HTTP interactions mode: no gateway; listen for Discord's signed requests on "
            "HOST:PORT (path /discord/interactions; needs bots.discord.public_key).",
        ),
    ] = None,
) -> None:
    """Run the Discord bot over the gateway (token from DISCORD_BOT_TOKEN; stops cleanly on
    SIGTERM). Register the /logomesh command first with `logomesh bot discord-sync`."""
    try:
        from bots.discord.runner import HttpListen, run_discord
    except ImportError as exc:
        _discord_missing(exc)
    listen = None if http is None else HttpListen(*_host_and_port(http))
    code = _with_settings(
        ctx, lambda loaded: run_discord(loaded.settings, http=listen, provenance=loaded.provenance)
    )
    raise typer.Exit(code)


@app.command("discord-sync")
def discord_sync(
    ctx: typer.Context,
    guild: Annotated[
        list[str] | None,
        typer.Option(
            "--guild",
            metavar="ID",
            help="A guild (server) id to register the command in at once, for development; "
            "repeat it for more. Without it the command is registered globally (for "
            "release: Discord takes up to an hour to show it).",
        ),
    ] = None,
) -> None:
    """Register the /logomesh command with Discord (token from DISCORD_BOT_TOKEN)."""
    guild_ids = [_guild_id(value) for value in guild or []]
    try:
        from bots.discord.runner import run_sync
    except ImportError as exc:
        _discord_missing(exc)

    def register(loaded: LoadedSettings) -> None:
        for line in run_sync(loaded.settings, guild_ids or None):
            typer.echo(line)

    _with_settings(ctx, register, show_notices=False)


def _with_settings(
    ctx: typer.Context, run: Callable[[LoadedSettings], T], *, show_notices: bool = True
) -> T:
    """``run`` with the settings every bot command loads the same way, after logging is set
    up; a LogoMeshError (bad settings, a missing token) ends the command with its message."""
    _configure_logging()
    from logomesh.config import load_settings
    from logomesh.errors import LogoMeshError

    state = state_of(ctx)
    try:
        loaded = load_settings(state.workspace, state.flags, config_file=state.config_file)
        if show_notices:
            for notice in loaded.notices:
                typer.echo(f"Note: {notice}", err=True)
        return run(loaded)
    except LogoMeshError as exc:
        fail(exc.user_message, exc.code)


def _discord_missing(exc: ImportError) -> NoReturn:
    fail(
        f"The Discord bot needs discord.py, which is not installed ({exc.name}): "
        f"{_INSTALL_DISCORD}",
        "config.invalid",
    )


def _guild_id(value: str) -> int:
    if not value.isdigit() or not 17 <= len(value) <= 20:
        fail(
            f"--guild wants a guild's id, a number of 17 to 20 digits (Discord: Server "
            f"Settings -> Widget -> Server ID, or right-click the server with Developer Mode "
            f"on -> Copy Server ID), not {value!r}.",
            "command.invalid_arguments",
        )
    return int(value)


def _host_and_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        fail(
            f"--http wants HOST:PORT, for example 0.0.0.0:3000 (or 127.0.0.1:3000 behind a "
            f"proxy), not {value!r}.",
            "command.invalid_arguments",
        )
    return host.strip("[]"), int(port)


def _configure_logging() -> None:
    import logging
    import sys

    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    # The bot's own news (listening, connected, stopping) is for whoever runs it; Bolt's and
    # slack_sdk's chatter stays at warnings.
    logging.getLogger("bots").setLevel(logging.INFO)
    logging.getLogger("bots.slack.bolt").setLevel(logging.WARNING)
    logging.getLogger("discord").setLevel(logging.WARNING)
