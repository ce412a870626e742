"""The Bolt app: four listeners that acknowledge Slack at once and hand the work over.

Slack waits three seconds for an acknowledgement, then shows the person an error (and
delivers an event again). Each listener therefore calls ``ack()`` first, before anything
that touches the engine, a model, a plugin or the database, then gives the translated
message to :meth:`ChatBot.accept <bots.chat.dispatch.ChatBot.accept>`, which schedules the
work as a task and returns. The same app serves HTTP mode (``bots.slack.http``) and
Socket Mode (``bots.slack.socket``); only how requests arrive differs.

The Web API client is built here once: its base URL is the ``bots.slack.api_url`` setting
(GovSlack, or a loopback Slack in tests), and its retry handlers wait out a 429 for its
``Retry-After``, retry a 500 or 503 and a dropped connection, so no reply is lost to a
passing hiccup of Slack's.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import (
    BackoffRetryIntervalCalculator,
)
from slack_sdk.web.async_client import AsyncWebClient

from bots.chat.approvals import ACTIONS
from bots.chat.message import Arrival
from bots.chat.recent import RecentKeys
from bots.slack.conversation import SlackConversation
from bots.slack.inbound import (
    PayloadError,
    click_from_action,
    is_ephemeral_click,
    is_person_message,
    message_from_command,
    message_from_event,
)
from bots.slack.names import DisplayNames
from bots.slack.tokens import SlackTokens

if TYPE_CHECKING:
    from bots.chat.dispatch import ChatBot
    from logomesh.bot_settings import SlackSettings

log = logging.getLogger(__name__)
BOLT_LOGGER = "bots.slack.bolt"


class _NoTokenSkippedWarning(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and, given our client too (it carries the base URL
    and the retry handlers), warns on every start that the token "will be unused": it is
    the same token, so the warning only alarms whoever runs the bot."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


# The buttons the neutral bot draws (the approval cards' Approve and Decline).
ACTION_IDS = re.compile("^(?:" + "|".join(re.escape(action) for action in ACTIONS) + ")$")


def retry_handlers() -> list[AsyncRetryHandler]:
    """Retries for what passes: 429 (after its Retry-After), 500/503, a lost connection."""
    backoff = BackoffRetryIntervalCalculator(backoff_factor=0.25)
    return [
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        AsyncServerErrorRetryHandler(max_retry_count=2, interval_calculator=backoff),
        AsyncConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=backoff),
    ]


def web_client(settings: SlackSettings, token: str) -> AsyncWebClient:
    """The Web API client at ``settings.api_url``, with the retry handlers."""
    return AsyncWebClient(
        token=token, base_url=settings.api_url, timeout=30, retry_handlers=retry_handlers()
    )


def build_app(
    bot: ChatBot,
    settings: SlackSettings,
    tokens: SlackTokens,
    *,
    client: AsyncWebClient | None = None,
) -> AsyncApp:
    """The app with its listeners; HTTP mode verifies signatures (``tokens.signing_secret``
    set), Socket Mode needs none (the WebSocket is the bot's own)."""
    client = client or web_client(settings, tokens.bot_token)
    app = AsyncApp(
        name="logomesh",
        client=client,
        signing_secret=tokens.signing_secret,
        request_verification_enabled=bool(tokens.signing_secret),
        logger=_bolt_logger(),
    )
    # Slack delivers an event again when its acknowledgement was late; run it once.
    delivered = RecentKeys(2 * settings.replay_window_s)
    names = DisplayNames(client)

    def first_delivery(body: dict[str, Any]) -> bool:
        event_id = body.get("event_id")
        if not isinstance(event_id, str):
            return True
        if delivered.remember(event_id):
            return True
        log.info("Ignoring Slack's repeated delivery of event %s", event_id)
        return False

    @app.command(settings.command)
    async def on_command(ack: AsyncAck, body: dict[str, Any]) -> None:
        try:
            message = message_from_command(body)
        except PayloadError as exc:
            await ack(text=exc.user_message)
            return
        await ack()
        response_url = body.get("response_url")
        conversation = SlackConversation(
            client,
            message.where,
            message.who.user_id,
            response_url=response_url if isinstance(response_url, str) else None,
        )
        bot.accept(message, conversation)

    async def on_event(ack: AsyncAck, body: dict[str, Any], arrival: Arrival) -> None:
        await ack()
        event = body.get("event") or {}
        if arrival is Arrival.DIRECT and not is_person_message(event):
            return
        if not first_delivery(body):
            return
        try:
            message = message_from_event(body, event, arrival)
        except PayloadError as exc:
            log.warning("Ignored a Slack event: %s", exc.user_message)
            return
        name = await names.of(message.who.user_id)  # after the ack: it may ask Slack
        if name is not None:
            message = replace(message, who=replace(message.who, display_name=name))
        bot.accept(message, SlackConversation(client, message.where, message.who.user_id))

    @app.event("app_mention")
    async def on_mention(ack: AsyncAck, body: dict[str, Any]) -> None:
        await on_event(ack, body, Arrival.MENTION)

    @app.event("message")
    async def on_direct_message(ack: AsyncAck, body: dict[str, Any]) -> None:
        await on_event(ack, body, Arrival.DIRECT)

    @app.action(ACTION_IDS)
    async def on_click(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        try:
            click = click_from_action(body, action)
        except PayloadError as exc:
            log.warning("Ignored a Slack button click: %s", exc.user_message)
            return
        response_url = body.get("response_url")
        conversation = SlackConversation(
            client,
            click.where,
            click.who.user_id,
            response_url=response_url
            if is_ephemeral_click(body) and isinstance(response_url, str)
            else None,
        )
        bot.accept_click(click, conversation)

    return app


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger(BOLT_LOGGER)
    if not any(isinstance(f, _NoTokenSkippedWarning) for f in logger.filters):
        logger.addFilter(_NoTokenSkippedWarning())
    return logger
