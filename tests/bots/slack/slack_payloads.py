"""What Slack sends a bot, built the way Slack builds it, for tests that cannot reach Slack.

The same payload dict serves both transports: HTTP mode wants it encoded and signed
(:func:`form_body` for slash commands, :func:`interactive_body` for button clicks,
:func:`event_body` for the Events API, then :func:`signed_headers`), Socket Mode wants it as
an envelope's ``payload`` (``FakeSlack.push("slash_commands", slash_command(...))``).

Public API::

    TEAM_ID, APP_ID, BOT_USER_ID, BOT_ID, CHANNEL_ID, IM_CHANNEL_ID, NO_RESPONSE_URL
    FORM, JSON                                      # the two content types Slack posts
    slash_command(text, *, user_id, ...) -> dict[str, str]
    block_actions(action_id, value, *, user_id, message_ts, ...) -> dict
    app_mention(text, *, user_id, ...) -> dict      # an event_callback
    im_message(text, *, user_id, ...) -> dict       # an event_callback, channel_type "im"
    event_callback(event) -> dict
    url_verification(challenge) -> dict
    form_body(fields) / interactive_body(payload) / event_body(payload) -> str
    signed_headers(secret, body, *, timestamp=None, content_type=None) -> dict[str, str]
    sign(secret, body, timestamp) -> str            # "v0=<hex>"
    fresh_ts() -> str                               # a Slack-looking "seconds.micros" ts

The field names and shapes follow Slack's documented payloads (and the envelopes in
slack_sdk's own Socket Mode tests); only what Bolt reads, or a bot could, is filled in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

TEAM_ID = "T0FAKE"
TEAM_DOMAIN = "fake-team"
APP_ID = "A0FAKE"
BOT_USER_ID = "U0FAKEBOT"
BOT_ID = "B0FAKE"
CHANNEL_ID = "C0FAKE"
IM_CHANNEL_ID = "D0FAKE"
# Port 9 (discard) on loopback refuses connections: a payload built without the fake's
# response URL fails fast on this machine instead of reaching for the real Slack.
NO_RESPONSE_URL = "http://127.0.0.1:9/response/none"
VERIFICATION_TOKEN = "fake-verification-token"  # a deprecated field Slack still sends

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def fresh_ts() -> str:
    """A message timestamp in Slack's ``seconds.microseconds`` form; distinct per call."""
    ns = time.time_ns()
    return f"{ns // 1_000_000_000}.{(ns // 1000) % 1_000_000:06d}"


def slash_command(
    text: str,
    *,
    user_id: str,
    user_name: str = "",
    command: str = "/logomesh",
    channel_id: str = CHANNEL_ID,
    channel_name: str = "general",
    response_url: str = NO_RESPONSE_URL,
    team_id: str = TEAM_ID,
) -> dict[str, str]:
    """The fields of a slash command invocation (form-encoded over HTTP)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{uuid.uuid4().int % 10**10}.{uuid.uuid4().hex[:12]}",
    }


def block_actions(
    action_id: str,
    value: str,
    *,
    user_id: str,
    message_ts: str,
    user_name: str = "",
    channel_id: str = CHANNEL_ID,
    thread_ts: str | None = None,
    blocks: Sequence[Mapping[str, Any]] = (),
    block_id: str = "actions",
    text: str = "",
    label: str | None = None,
    response_url: str = NO_RESPONSE_URL,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """A button click on a message the bot posted (``message_ts`` in ``channel_id``);
    ``label`` is the button's text (default: the action id)."""
    message: dict[str, Any] = {
        "type": "message",
        "ts": message_ts,
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "text": text,
        "blocks": [dict(block) for block in blocks],
    }
    if thread_ts is not None:
        message["thread_ts"] = thread_ts
    name = user_name or user_id.lower()
    return {
        "type": "block_actions",
        "user": {"id": user_id, "username": name, "name": name, "team_id": team_id},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "trigger_id": f"{uuid.uuid4().int % 10**10}.{uuid.uuid4().hex[:12]}",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "general"},
        "message": message,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": label or action_id, "emoji": True},
                "value": value,
                "action_ts": fresh_ts(),
            }
        ],
    }


def event_callback(event: Mapping[str, Any], *, team_id: str = TEAM_ID) -> dict[str, Any]:
    """The Events API wrapper around one event, addressed to the fake's bot user."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event": dict(event),
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def app_mention(
    text: str,
    *,
    user_id: str,
    channel_id: str = CHANNEL_ID,
    ts: str | None = None,
    thread_ts: str | None = None,
    mention_bot: bool = True,
) -> dict[str, Any]:
    """``@bot text`` in a channel; the mention is prefixed the way Slack writes it."""
    stamp = ts or fresh_ts()
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user_id,
        "text": f"<@{BOT_USER_ID}> {text}" if mention_bot else text,
        "ts": stamp,
        "channel": channel_id,
        "event_ts": stamp,
        "team": TEAM_ID,
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return event_callback(event)


def im_message(
    text: str,
    *,
    user_id: str,
    channel_id: str = IM_CHANNEL_ID,
    ts: str | None = None,
    subtype: str | None = None,
    bot_id: str | None = None,
) -> dict[str, Any]:
    """A direct message to the bot (``message.im``); ``subtype``/``bot_id`` make the kinds of
    message a bot must ignore (edits, joins, its own posts)."""
    stamp = ts or fresh_ts()
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel_id,
        "user": user_id,
        "text": text,
        "ts": stamp,
        "event_ts": stamp,
        "channel_type": "im",
        "team": TEAM_ID,
    }
    if subtype is not None:
        event["subtype"] = subtype
    if bot_id is not None:
        event["bot_id"] = bot_id
    return event_callback(event)


def url_verification(challenge: str) -> dict[str, str]:
    """The handshake Slack sends when an Events API request URL is saved."""
    return {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}


def form_body(fields: Mapping[str, str]) -> str:
    """A slash command's HTTP body."""
    return urlencode(dict(fields))


def interactive_body(payload: Mapping[str, Any]) -> str:
    """An interaction's HTTP body: the JSON payload in one ``payload`` form field."""
    return urlencode({"payload": json.dumps(payload)})


def event_body(payload: Mapping[str, Any]) -> str:
    """An Events API HTTP body (JSON)."""
    return json.dumps(payload)


def sign(secret: str, body: str | bytes, timestamp: int | str) -> str:
    """Slack's v0 signature: HMAC-SHA256 of ``v0:{timestamp}:{body}`` with the signing secret."""
    raw = body.encode() if isinstance(body, str) else body
    base = f"v0:{timestamp}:".encode() + raw
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str,
    body: str | bytes,
    *,
    timestamp: int | None = None,
    content_type: str | None = None,
) -> dict[str, str]:
    """The headers Slack sends with ``body``: timestamp, signature and content type (JSON when
    the body is a JSON object, else form). ``timestamp`` defaults to now; pass an old one to
    make a stale request."""
    stamp = int(time.time()) if timestamp is None else timestamp
    raw = body.encode() if isinstance(body, str) else body
    return {
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": sign(secret, raw, stamp),
        "Content-Type": content_type or (JSON if raw.lstrip().startswith(b"{") else FORM),
    }
