"""Slack's payloads in, the neutral message model out: the only place that reads them.

A slash command, an ``app_mention`` or direct-message event, and a ``block_actions`` click
each become a :class:`~bots.chat.message.ChatMessage` or
:class:`~bots.chat.message.ButtonClick`; nothing past this module knows Slack's field names.
A payload that lacks what it must carry raises :class:`PayloadError` naming the field, and
the listener answers with that instead of failing somewhere later.

Replies go into a thread: a mention or a direct message is answered under it, and a click
under the message that carries the button. A slash command has no thread, so its first
reply starts one (``bots.slack.conversation``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bots.chat.message import Arrival, ButtonClick, ChatMessage, ChatPlace, ChatUser
from logomesh.commands.values import Source

# ``<@U123>`` or ``<@U123|name>`` at the start of a mention's text: the bot's own name.
_LEADING_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>[\s:,]*")


class PayloadError(Exception):
    """A Slack payload without a field it must carry."""

    def __init__(self, kind: str, field: str) -> None:
        super().__init__(f"The {kind} payload has no {field!r}; it is not one Slack sends.")
        self.user_message = str(self)


def _text(payload: Mapping[str, Any], field: str, kind: str) -> str:
    value = payload.get(field)
    if not isinstance(value, str) or not value:
        raise PayloadError(kind, field)
    return value


def _optional(payload: Mapping[str, Any] | None, field: str) -> str | None:
    value = (payload or {}).get(field)
    return value if isinstance(value, str) and value else None


def message_from_command(body: Mapping[str, Any]) -> ChatMessage:
    """``/logomesh run git.status``: the words after the command, read by the grammar."""
    kind = "slash command"
    who = ChatUser(Source.SLACK, _text(body, "user_id", kind), _optional(body, "user_name"))
    where = ChatPlace(_optional(body, "team_id"), _text(body, "channel_id", kind))
    text = body.get("text")
    return ChatMessage(who, where, text if isinstance(text, str) else "", Arrival.SLASH)


def is_person_message(event: Mapping[str, Any]) -> bool:
    """A direct message a person typed: not an edit, a join or another subtype, not a
    bot's (the bot's own replies come back as events too)."""
    return (
        event.get("channel_type") == "im"
        and not event.get("subtype")
        and not event.get("bot_id")
        and isinstance(event.get("user"), str)
    )


def message_from_event(
    body: Mapping[str, Any], event: Mapping[str, Any], arrival: Arrival
) -> ChatMessage:
    """An ``app_mention`` (the bot's name stripped) or a direct message, answered in the
    thread it starts or sits in."""
    kind = "app_mention event" if arrival is Arrival.MENTION else "message event"
    who = ChatUser(Source.SLACK, _text(event, "user", kind))
    ts = _text(event, "ts", kind)
    where = ChatPlace(
        _optional(body, "team_id") or _optional(event, "team"),
        _text(event, "channel", kind),
        _optional(event, "thread_ts") or ts,
    )
    text = event.get("text") if isinstance(event.get("text"), str) else ""
    if arrival is Arrival.MENTION:
        text = _LEADING_MENTION.sub("", str(text), count=1)
    return ChatMessage(who, where, str(text).strip(), arrival)


def click_from_action(body: Mapping[str, Any], action: Mapping[str, Any]) -> ButtonClick:
    """A click on one of the bot's buttons: the action id, its value (a ticket id), and the
    message it sits on, which the decision updates."""
    kind = "block_actions"
    user = body.get("user") or {}
    who = ChatUser(
        Source.SLACK,
        _text(user, "id", f"{kind} user"),
        _optional(user, "username") or _optional(user, "name"),
    )
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = _optional(body.get("channel"), "id") or _optional(container, "channel_id")
    if channel is None:
        raise PayloadError(kind, "channel")
    ref = _optional(container, "message_ts") or _optional(message, "ts")
    where = ChatPlace(
        _optional(body.get("team"), "id") or _optional(user, "team_id"),
        channel,
        _optional(message, "thread_ts") or _optional(container, "thread_ts") or ref,
    )
    return ButtonClick(
        who,
        where,
        _text(action, "action_id", f"{kind} action"),
        _text(action, "value", f"{kind} action"),
        message_ref=ref,
    )


def is_ephemeral_click(body: Mapping[str, Any]) -> bool:
    """A button on a message only the clicker sees: it can be replaced only through the
    click's ``response_url``, not with ``chat.update``."""
    container = body.get("container") or {}
    return bool(container.get("is_ephemeral"))
