"""Discord's JSON payloads, built as Discord sends them, for the loopback Discord and its tests.

discord.py 2.7 parses what the gateway and the REST API send strictly: an interaction without
``attachment_size_limit`` or ``version``, a member without ``joined_at`` or ``flags``, a guild
role without ``position`` raise ``KeyError`` deep inside its state machine, so every payload
the fake sends is built here, once, with every field discord.py reads (checked against
``discord/types/*.py`` and the ``_from_data`` methods that read them). The ids are Discord
snowflakes: 17-19 digit strings, a millisecond timestamp since Discord's epoch shifted left
by 22 bits, so they sort by creation as Discord's do.

Also here: the application's Ed25519 key pair (``SIGNING_KEY``, ``PUBLIC_KEY_HEX``) and
:func:`signed_headers`, which signs a body for the HTTP interactions endpoint the way Discord
does (timestamp + body, hex signature).
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

DISCORD_EPOCH_MS = 1_420_070_400_000

APP_ID = "1184000000000000001"
BOT_USER_ID = APP_ID  # a bot's user id is its application's id, as on Discord
GUILD_ID = "1184000000000000100"
CHANNEL_ID = "1184000000000000200"
DEV_ROLE_ID = "1184000000000000300"
OWNER_ID = "1184000000000000400"
USER_ID = "1184000000000000500"  # the default person who types commands: alice, a developer
BOT_TOKEN = "fake-bot-token.MTE4NDAwMDAwMDAwMDAwMDAwMQ.loopback"
BOT_NAME = "LogoMesh"
COMMAND_NAME = "logomesh"

# A fixed seed: the public key is stable across runs, so a test may write it into settings.
SIGNING_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC_KEY_HEX = SIGNING_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

# Interaction types, response types and message flags (Discord's numbers).
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
PONG, CHANNEL_MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE_MESSAGE = 1, 4, 5, 6, 7
AUTOCOMPLETE_RESULT, MODAL = 8, 9
EPHEMERAL, LOADING = 64, 128
GUILD_TEXT, DM = 0, 1
ALL_PERMISSIONS = str((1 << 50) - 1)
ATTACHMENT_LIMIT = 10 * 1024 * 1024


class SnowflakeMint:
    """New snowflakes, increasing, for one fake (its messages, interactions, sessions)."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def __call__(self) -> str:
        millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return str((millis << 22) | (next(self._counter) & 0x3FFFFF))


def iso_now() -> str:
    return datetime.now(UTC).isoformat()


def user(user_id: str, username: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": username,
        "global_name": None if bot else username.capitalize(),
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "system": False,
        "public_flags": 0,
        "flags": 0,
    }


def bot_user() -> dict[str, Any]:
    return {**user(BOT_USER_ID, BOT_NAME, bot=True), "verified": True, "mfa_enabled": False}


def member(
    user_payload: dict[str, Any], roles: list[str], *, with_user: bool = True
) -> dict[str, Any]:
    """A guild member; ``with_user=False`` for MESSAGE_CREATE's ``member`` (Discord omits it)."""
    data: dict[str, Any] = {
        "roles": list(roles),
        "joined_at": "2024-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
        "flags": 0,
        "nick": None,
        "pending": False,
        "premium_since": None,
        "avatar": None,
        "communication_disabled_until": None,
    }
    if with_user:
        data["user"] = user_payload
    return data


def role(role_id: str, name: str, position: int) -> dict[str, Any]:
    return {
        "id": role_id,
        "name": name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "position": position,
        "permissions": "1024" if position == 0 else ALL_PERMISSIONS,
        "managed": False,
        "mentionable": True,
        "flags": 0,
        "icon": None,
        "unicode_emoji": None,
    }


def text_channel(channel_id: str, guild_id: str, name: str, position: int = 0) -> dict[str, Any]:
    return {
        "id": channel_id,
        "type": GUILD_TEXT,
        "guild_id": guild_id,
        "name": name,
        "position": position,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
        "topic": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "flags": 0,
    }


def dm_channel(channel_id: str, recipient: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": channel_id,
        "type": DM,
        "last_message_id": None,
        "recipients": [recipient],
        "flags": 0,
    }


def guild_create(
    guild_id: str,
    name: str,
    *,
    roles: list[dict[str, Any]],
    channels: list[dict[str, Any]],
    members: list[dict[str, Any]],
) -> dict[str, Any]:
    """GUILD_CREATE's data: the guild with its roles, channels and (the bot's) members."""
    return {
        "id": guild_id,
        "name": name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "owner_id": OWNER_ID,
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": roles,
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": None,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        "joined_at": "2024-01-01T00:00:00+00:00",
        "large": False,
        "unavailable": False,
        "member_count": len(members),
        "voice_states": [],
        "members": members,
        "channels": channels,
        "threads": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "application_id": None,
    }


def ready(session_id: str, resume_gateway_url: str, guild_ids: list[str]) -> dict[str, Any]:
    return {
        "v": 10,
        "user": bot_user(),
        "guilds": [{"id": guild_id, "unavailable": True} for guild_id in guild_ids],
        "session_id": session_id,
        "session_type": "normal",
        "resume_gateway_url": resume_gateway_url,
        "application": {"id": APP_ID, "flags": 0},
        "private_channels": [],
        "relationships": [],
        "presences": [],
        "geo_ordered_rtc_regions": ["local"],
        "guild_join_requests": [],
        "user_settings": {},
        "shard": [0, 1],
        "_trace": ["fake-discord-gateway"],
    }


def application_info() -> dict[str, Any]:
    """``GET /oauth2/applications/@me``: every field discord.py's AppInfo reads."""
    return {
        "id": APP_ID,
        "name": BOT_NAME,
        "icon": None,
        "description": "LogoMesh on a loopback Discord",
        "rpc_origins": [],
        "bot_public": False,
        "bot_require_code_grant": False,
        "bot": bot_user(),
        "owner": user(OWNER_ID, "owner"),
        "team": None,
        "summary": "",
        "verify_key": PUBLIC_KEY_HEX,
        "guild_id": None,
        "primary_sku_id": None,
        "slug": None,
        "cover_image": None,
        "flags": 0,
        "approximate_guild_count": 1,
        "approximate_user_install_count": 0,
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "role_connections_verification_url": None,
        "tags": [],
        "custom_install_url": None,
        "integration_types_config": {},
        "event_webhooks_url": None,
        "event_webhooks_status": 1,
        "event_webhooks_types": [],
    }


def option_type(value: str | int | bool | float) -> int:
    """Discord's option type for a Python value (bool before int: bool is an int)."""
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    return 3


def command_data(
    command_id: str,
    command: str,
    subcommand: str | None,
    options: dict[str, str | int | bool | float],
    *,
    focused: str | None = None,
    guild_id: str | None = None,
) -> dict[str, Any]:
    """A chat-input command's ``data``: ``/command subcommand key:value ...``; ``focused``
    marks the option being typed (an autocomplete interaction)."""
    values: list[dict[str, Any]] = []
    for name, value in options.items():
        entry: dict[str, Any] = {"name": name, "type": option_type(value), "value": value}
        if name == focused:
            entry.update(type=3, value=str(value), focused=True)
        values.append(entry)
    top = [{"name": subcommand, "type": 1, "options": values}] if subcommand else values
    data: dict[str, Any] = {"id": command_id, "name": command, "type": 1, "options": top}
    if guild_id is not None:
        data["guild_id"] = guild_id
    return data


def interaction(
    interaction_id: str,
    token: str,
    kind: int,
    data: dict[str, Any] | None,
    *,
    person: dict[str, Any],
    roles: list[str],
    guild_id: str | None,
    channel: dict[str, Any],
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """INTERACTION_CREATE's data (also the body of an HTTP interaction)."""
    payload: dict[str, Any] = {
        "id": interaction_id,
        "application_id": APP_ID,
        "type": kind,
        "token": token,
        "version": 1,
        "channel_id": channel["id"],
        "channel": channel,
        "app_permissions": ALL_PERMISSIONS,
        "locale": "en-US",
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": ATTACHMENT_LIMIT,
    }
    if data is not None:
        payload["data"] = data
    if guild_id is not None:
        payload.update(
            guild_id=guild_id,
            guild={"id": guild_id, "locale": "en-US", "features": []},
            guild_locale="en-US",
            member={**member(person, roles), "permissions": ALL_PERMISSIONS},
            authorizing_integration_owners={"0": guild_id},
            context=0,
        )
    else:
        payload.update(user=person, authorizing_integration_owners={"0": "0"}, context=1)
    if message is not None:
        payload["message"] = message
    return payload


def ping(interaction_id: str, token: str) -> dict[str, Any]:
    """Discord's validation probe to an HTTP interactions endpoint (answer: ``{"type": 1}``)."""
    return {
        "id": interaction_id,
        "application_id": APP_ID,
        "type": PING,
        "token": token,
        "version": 1,
        "user": user(OWNER_ID, "owner"),
    }


def signed_headers(
    body: bytes, timestamp: str | None = None, key: Ed25519PrivateKey = SIGNING_KEY
) -> dict[str, str]:
    """The headers Discord sends with an HTTP interaction: Ed25519 over timestamp + body."""
    stamp = timestamp if timestamp is not None else str(int(time.time()))
    signature = key.sign(stamp.encode() + body).hex()
    return {
        "X-Signature-Ed25519": signature,
        "X-Signature-Timestamp": stamp,
        "Content-Type": "application/json",
    }
