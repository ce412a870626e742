"""``[bots]``: how the chat adapters (``bots/``) behave, and where they reach their platform.

The engine never imports a chat SDK; it only holds this section, so a bot reads its
settings like every other adapter, layered and validated with the rest (``logomesh config
show``). Tokens and signing secrets are not settings: they come from the environment
(``SLACK_BOT_TOKEN``...), so no configuration file, and no audit record of one, holds them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SlackSettings(_Section):
    """``[bots.slack]``: the Slack bot (``logomesh bot slack``, docs/slack.md)."""

    api_url: str = Field(
        default="https://slack.com/api/",
        description="The Web API's base URL: another for GovSlack (https://slack-gov.com/api/), "
        "or a loopback Slack in tests.",
    )
    command: str = Field(
        default="/logomesh", pattern=r"^/[a-z0-9_-]{1,31}$", description="The slash command."
    )
    replay_window_s: float = Field(
        default=300.0,
        gt=0,
        le=300.0,
        description="HTTP mode: how old a signed request may be; each signature is accepted "
        "once within it (Slack's own window is 5 minutes).",
    )
    max_body_bytes: int = Field(
        default=262_144,
        ge=1024,
        le=10_000_000,
        description="HTTP mode: the largest request body read; a larger one is refused (413).",
    )


class DiscordSettings(_Section):
    """``[bots.discord]``: the Discord bot (``logomesh bot discord``, docs/discord.md)."""

    api_url: str = Field(
        default="https://discord.com/api/v10",
        pattern=r"^https?://",
        description="The REST API's base URL, with its version (a loopback Discord in tests).",
    )
    gateway_url: str = Field(
        default="wss://gateway.discord.gg/",
        pattern=r"^wss?://",
        description="The gateway first connected to (Discord then names where to resume).",
    )
    command: str = Field(
        default="logomesh",
        pattern=r"^[a-z0-9_-]{1,32}$",
        description="The application command's name: /logomesh run, /logomesh do, ...",
    )
    public_key: str | None = Field(
        default=None,
        pattern=r"^[0-9a-fA-F]{64}$",
        description="HTTP interactions mode: the application's public key (General "
        "Information in the Developer Portal), which every request's signature is checked "
        "against.",
    )
    replay_window_s: float = Field(
        default=300.0,
        gt=0,
        le=3600.0,
        description="HTTP interactions mode: how old a signed request's timestamp may be.",
    )
    max_body_bytes: int = Field(
        default=262_144,
        ge=1024,
        le=10_000_000,
        description="HTTP interactions mode: the largest request body read (413 past it).",
    )


class BotSettings(_Section):
    """``[bots]``: what every chat platform shares (``bots/chat/``)."""

    enabled: bool = False
    rate_limit_per_minute: int = Field(
        default=30, ge=1, le=10_000, description="Requests one chat user may make per minute."
    )
    rate_limit_burst: int = Field(
        default=10, ge=1, le=10_000, description="Requests one chat user may make at once."
    )
    progress_interval_s: float = Field(
        default=1.0,
        ge=0.0,
        le=60.0,
        description="The least time between two edits of one progress reply (platforms "
        "rate-limit message edits).",
    )
    shutdown_grace_s: float = Field(
        default=20.0,
        ge=0.0,
        le=600.0,
        description="On SIGTERM, how long commands in flight may finish before they are "
        "cancelled (and recorded as cancelled).",
    )
    slack: SlackSettings = SlackSettings()
    discord: DiscordSettings = DiscordSettings()
