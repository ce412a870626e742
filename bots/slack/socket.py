"""Socket Mode: the bot dials out to Slack over a WebSocket, so it needs no public URL.

This is the usual choice for an internal tool behind a firewall. Bolt's
``AsyncSocketModeHandler`` (aiohttp) opens the connection with the app-level token
(``apps.connections.open``, through the app's own Web API client and so its base URL),
hands each envelope to the same Bolt app HTTP mode uses, and sends the listener's
acknowledgement back as the envelope's answer. Slack signs nothing here: the connection
itself is the proof, so the signing secret is not needed.
"""

from __future__ import annotations

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bots.slack.tokens import APP_TOKEN
from logomesh.errors import ConfigError


class SocketConnection:
    """A connected Socket Mode session; it reconnects by itself when Slack asks it to."""

    def __init__(self, handler: AsyncSocketModeHandler) -> None:
        self._handler = handler

    async def stop(self) -> None:
        """Close the WebSocket: Slack sends nothing more to this process."""
        await self._handler.client.close()  # type: ignore[no-untyped-call]


async def connect_socket(app: AsyncApp, app_token: str) -> SocketConnection:
    """Connect ``app`` over Socket Mode; a refused app token is a ConfigError saying where
    to get a right one."""
    handler = AsyncSocketModeHandler(app, app_token)
    client = handler.client
    try:
        # The client's own connect() retries a refused token forever; the first URL is
        # asked for here, so a wrong token is an error at start, not a loop in the log.
        client.wss_uri = await client.issue_new_wss_url()
    except SlackApiError as exc:
        await client.close()  # type: ignore[no-untyped-call]
        error = exc.response.get("error", "unknown error") if exc.response else str(exc)
        raise ConfigError(
            f"Slack refused {APP_TOKEN.variable} when opening Socket Mode ({error}). Check that "
            f"Socket Mode is enabled for the app and get a token at {APP_TOKEN.where}."
        ) from None
    await client.connect()  # type: ignore[no-untyped-call]
    return SocketConnection(handler)
