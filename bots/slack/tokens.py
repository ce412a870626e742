"""The Slack app's credentials: read from the environment once, at start, and never shown.

Tokens are not settings (``logomesh/bot_settings.py`` says why): they come from
``SLACK_BOT_TOKEN``, ``SLACK_SIGNING_SECRET`` (HTTP mode) and ``SLACK_APP_TOKEN`` (Socket
Mode). A missing or mistaken one is named together with the page of the Slack app where the
right value is, so the error is the whole fix. The values never reach a log, an audit
record or a ``repr``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from logomesh.errors import ConfigError

APPS_PAGE = "https://api.slack.com/apps"


class SlackMode(StrEnum):
    """How Slack reaches the bot."""

    SOCKET = "socket"  # the bot dials out over a WebSocket: no public URL needed
    HTTP = "http"  # Slack POSTs signed requests to the bot's public URL


@dataclass(frozen=True, slots=True)
class TokenSpec:
    variable: str
    prefix: str | None  # what a right value starts with; None for the signing secret
    where: str  # where in the Slack app's settings the value is


BOT_TOKEN = TokenSpec(
    "SLACK_BOT_TOKEN",
    "xoxb-",
    f"{APPS_PAGE} -> your app -> OAuth & Permissions -> Bot User OAuth Token (xoxb-...); "
    "install the app to the workspace first if it is not shown",
)
SIGNING_SECRET = TokenSpec(
    "SLACK_SIGNING_SECRET",
    None,
    f"{APPS_PAGE} -> your app -> Basic Information -> App Credentials -> Signing Secret",
)
APP_TOKEN = TokenSpec(
    "SLACK_APP_TOKEN",
    "xapp-",
    f"{APPS_PAGE} -> your app -> Basic Information -> App-Level Tokens -> Generate a token "
    "with the connections:write scope (xapp-...)",
)


@dataclass(frozen=True, slots=True)
class SlackTokens:
    """What the bot needs to talk to Slack in one mode; ``repr`` shows none of it."""

    bot_token: str = field(repr=False)
    signing_secret: str = field(default="", repr=False)
    app_token: str = field(default="", repr=False)


def needed_for(mode: SlackMode) -> tuple[TokenSpec, ...]:
    if mode is SlackMode.HTTP:
        return (BOT_TOKEN, SIGNING_SECRET)
    return (BOT_TOKEN, APP_TOKEN)


def read_tokens(environ: Mapping[str, str], mode: SlackMode) -> SlackTokens:
    """The tokens ``mode`` needs from ``environ``; a ConfigError lists every missing or
    mistaken one and where to get it, so one attempt fixes them all."""
    problems = []
    values: dict[str, str] = {}
    for spec in needed_for(mode):
        value = environ.get(spec.variable, "").strip()
        if not value:
            problems.append(f"{spec.variable} is not set. Get it at {spec.where}.")
        elif spec.prefix and not value.startswith(spec.prefix):
            # Only the prefix is shown: the rest of a token is a secret even when mistaken.
            problems.append(
                f"{spec.variable} starts with {value[:5]!r}, not {spec.prefix!r}: it is another "
                f"kind of token. Get the right one at {spec.where}."
            )
        values[spec.variable] = value
    if problems:
        raise ConfigError(
            f"The Slack bot in {mode.value} mode cannot start:\n- " + "\n- ".join(problems)
        )
    return SlackTokens(
        bot_token=values[BOT_TOKEN.variable],
        signing_secret=values.get(SIGNING_SECRET.variable, ""),
        app_token=values.get(APP_TOKEN.variable, ""),
    )
