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
from dataclasses import dataclass
from typing import Any

import discord
from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from logomesh.bot_settings import DiscordSettings

log = logging.getLogger(__name__)

INTERACTIONS_PATH = "/discord/interactions"
HEALTH_PATH = "/healthz"
SIGNATURE_HEADER = "X-Signature-Ed25519"
TIMESTAMP_HEADER = "X-Signature-Timestamp"
PING = 1
PONG = {"type": 1}


class RequestRefusedError(Exception):
    """A request the bot will not handle: the HTTP ``status`` and a ``reason`` to show."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class SignatureCheck:
    """Checks one request's signature against the application's public key and the window,
    and refuses a signature already accepted (a replay) while its timestamp is in it."""

    def __init__(
        self, public_key_hex: str, window_s: float, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._key = _public_key(public_key_hex)
        self._window_s = window_s
        self._clock = clock
        self._accepted: dict[str, float] = {}  # signature -> when it leaves the window

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
        now = self._clock()
        self._accepted = {s: until for s, until in self._accepted.items() if until > now}
        if signature in self._accepted:
            raise RequestRefusedError(401, "Replayed request: this signature was accepted once.")
        # A timestamp may be a window ahead too: the signature stays acceptable two windows.
        self._accepted[signature] = now + 2 * self._window_s


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

    async def interactions(request: web.Request) -> web.StreamResponse:
        try:
            body = await _read_body(request, limit)
            check.check(request.headers, body)
            payload = _interaction(body)
            if payload["type"] == PING:
                return web.json_response(PONG)
            _dispatch(client, payload)
        except RequestRefusedError as refused:
            log.info("Refused a request to %s: %s", INTERACTIONS_PATH, refused.reason)
            return web.Response(status=refused.status, text=refused.reason + "\n")
        return web.Response(status=202)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, **(health() if health else {})})

    # Our own limit is checked while reading; aiohttp's must not refuse first, wordlessly.
    web_app = web.Application(client_max_size=limit + 1)
    web_app.router.add_post(INTERACTIONS_PATH, interactions)
    web_app.router.add_get(HEALTH_PATH, healthz)
    return web_app


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


async def _read_body(request: web.Request, limit: int) -> bytes:
    too_large = RequestRefusedError(
        413,
        f"Request body larger than {limit} bytes (the bots.discord.max_body_bytes setting): "
        "Discord's interactions are far smaller, so this one is refused unread.",
    )
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


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


@dataclass
class InteractionsServer:
    """A started server: its ``port`` (the one chosen, when asked for port 0)."""

    runner: web.AppRunner
    host: str
    port: int

    async def stop(self) -> None:
        """Stop taking requests; the ones being answered are answered first."""
        await self.runner.cleanup()


async def start_interactions(web_app: web.Application, host: str, port: int) -> InteractionsServer:
    runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    return InteractionsServer(runner, host, int(bound[1]))
