"""HTTP interactions mode: Discord POSTs each interaction, signed, to this aiohttp server.

An application whose "Interactions Endpoint URL" is set gets its slash commands,
autocompletes and clicks as HTTP requests instead of gateway events (no gateway connection
is needed for them). ``POST /discord/interactions`` takes them; ``GET /healthz`` answers a
load balancer. Before discord.py sees a request it passes three gates, each refusal a status
and one sentence saying what to fix: the body's size (``bots.discord.max_body_bytes``, 413,
read no further than the limit), the signature (401: Ed25519 over ``X-Signature-Timestamp``
+ body, checked against the application's public key, ``bots.discord.public_key``), its age
and novelty (401: outside ``bots.discord.replay_window_s``, or seen before), and the body's
form (400). Discord probes the endpoint when it is saved, and later, with bad signatures,
and removes an endpoint that accepts one; it also sends PING (type 1), answered
``{"type": 1}``.

Every other interaction goes to discord.py's own dispatch, and the request is answered 202
with no body: Discord's rule for an interaction received over HTTP whose response is sent
to the callback endpoint instead, which is what discord.py's ``interaction.response.defer()``
and ``send_message()`` do. So the CommandTree, persistent views and ``on_interaction`` work
the same in both modes. No refusal, and no log line, includes a signature.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import discord
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bots.chat.recent import RecentKeys
from bots.web import RequestRefusedError, build_web_app, read_body, refusal
from logomesh.bot_settings import DiscordSettings

log = logging.getLogger(__name__)

INTERACTIONS_PATH = "/discord/interactions"
SIGNATURE_HEADER = "X-Signature-Ed25519"
TIMESTAMP_HEADER = "X-Signature-Timestamp"
PING = 1
PONG = {"type": 1}


class SignatureCheck:
    """Checks one request's signature against the application's public key and the window,
    and refuses a signature already accepted (a replay) while its timestamp is in it."""

    def __init__(
        self, public_key_hex: str, window_s: float, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = _public_key(public_key_hex)
        self._window_s = window_s
        self._clock = clock
        # A timestamp may be a window ahead too: the signature stays acceptable two windows.
        self._accepted = RecentKeys(2 * window_s, clock=clock)

    def check(self, headers: Mapping[str, str], body: bytes) -> None:
        """Return if Discord signed the request, recently and once; else raise."""
        stamp = headers.get(TIMESTAMP_HEADER)
        signature = headers.get(SIGNATURE_HEADER)
        if not stamp or not signature:
            missing = [
                h for h, v in ((SIGNATURE_HEADER, signature), (TIMESTAMP_HEADER, stamp)) if not v
            ]
            raise RequestRefusedError(
                401,
                f"Missing header {' and '.join(missing)}: the bot only accepts interactions "
                "Discord signed with the application's key.",
            )
        try:
            self._key.verify(bytes.fromhex(signature), stamp.encode() + body)
        except (InvalidSignature, ValueError):
            raise RequestRefusedError(
                401,
                "Invalid request signature: it does not match the application's public key "
                "(check bots.discord.public_key against General Information in the Discord "
                "Developer Portal).",
            ) from None
        self._check_age(stamp)
        self._check_new(signature)

    def _check_age(self, stamp: str) -> None:
        try:
            signed_at = int(stamp)
        except ValueError:
            raise RequestRefusedError(
                401, f"{TIMESTAMP_HEADER} must be a Unix time in seconds, not {stamp[:32]!r}."
            ) from None
        age = self._clock() - signed_at
        if abs(age) > self._window_s:
            raise RequestRefusedError(
                401,
                f"Stale request: signed {abs(age):.0f} s {'ago' if age > 0 else 'ahead'}, and "
                f"requests outside {self._window_s:.0f} s (bots.discord.replay_window_s) are "
                "refused (a replay, or this machine's clock is off: synchronise it, e.g. NTP).",
            )

    def _check_new(self, signature: str) -> None:
        if not self._accepted.remember(signature):
            raise RequestRefusedError(401, "Replayed request: this signature was accepted once.")


def _public_key(public_key_hex: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
    except ValueError:
        raise ValueError(
            "bots.discord.public_key must be the application's public key, 64 hex digits "
            "(General Information in the Discord Developer Portal)."
        ) from None


def build_interactions_app(
    client: discord.Client,
    settings: DiscordSettings,
    public_key: str,
    *,
    health: Callable[[], dict[str, Any]] | None = None,
) -> web.Application:
    """The aiohttp application serving ``client`` (logged in; no gateway connection needed);
    ``health`` adds figures to /healthz."""
    check = SignatureCheck(public_key, settings.replay_window_s)
    limit = settings.max_body_bytes
    too_large = (
        f"Request body larger than {limit} bytes (the bots.discord.max_body_bytes setting): "
        "Discord's interactions are far smaller, so this one is refused unread."
    )

    async def interactions(request: web.Request) -> web.StreamResponse:
        try:
            body = await read_body(request, limit, too_large)
            check.check(request.headers, body)
            payload = _interaction(body)
            if payload["type"] == PING:
                return web.json_response(PONG)
            _dispatch(client, payload)
        except RequestRefusedError as refused:
            return refusal(INTERACTIONS_PATH, refused)
        return web.Response(status=202)

    return build_web_app(INTERACTIONS_PATH, interactions, max_body_bytes=limit, health=health)


def _dispatch(client: discord.Client, payload: dict[str, Any]) -> None:
    """Hand the interaction to discord.py as if the gateway had delivered it.

    discord.py has no public entry point for an interaction received over HTTP: the
    gateway's INTERACTION_CREATE parser is the one place that builds the Interaction and
    routes it to the CommandTree, the persistent views and ``on_interaction``. The body
    Discord POSTs is that event's data, so it goes there; the handlers it starts run as
    tasks and answer through the callback endpoint.
    """
    try:
        client._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("Could not read an interaction of type %s: %r", payload.get("type"), exc)
        raise RequestRefusedError(
            400, f"Malformed interaction: a field discord.py needs is missing or wrong ({exc})."
        ) from None


def _interaction(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise RequestRefusedError(
            400, f"Malformed request: the body is not JSON ({exc})."
        ) from None
    if not isinstance(value, dict) or not isinstance(value.get("type"), int):
        raise RequestRefusedError(
            400, "Malformed request: an interaction is a JSON object with an integer 'type'."
        )
    return value
