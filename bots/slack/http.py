"""HTTP mode: an aiohttp server Slack POSTs its signed requests to.

``POST /slack/events`` takes slash commands, interactions and events (one Request URL for
all three in the app's settings); ``GET /healthz`` answers a load balancer. Before Bolt sees
a request it passes three gates, each refusal a status and one sentence that says what to
fix: the body's size (``bots.slack.max_body_bytes``, 413, read no further than the limit),
the signature, its age and its novelty (:class:`~bots.slack.signing.SignatureGuard`, 401),
and the body's form (400: a request Slack would never send, such as broken JSON, is refused
here rather than failing inside a listener). Bolt's own verification then checks the
signature again, and its listeners acknowledge within Slack's three seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bots.slack.signing import SignatureGuard
from bots.web import RequestRefusedError, build_web_app, read_body, refusal
from logomesh.bot_settings import SlackSettings

EVENTS_PATH = "/slack/events"


def build_http_app(
    app: AsyncApp,
    settings: SlackSettings,
    signing_secret: str,
    *,
    health: Callable[[], dict[str, Any]] | None = None,
) -> web.Application:
    """The aiohttp application serving ``app``; ``health`` adds figures to /healthz."""
    guard = SignatureGuard(signing_secret, settings.replay_window_s)
    limit = settings.max_body_bytes
    too_large = (
        f"Request body larger than {limit} bytes (the bots.slack.max_body_bytes setting): "
        "Slack's requests are far smaller, so this one is refused unread."
    )

    async def events(request: web.Request) -> web.StreamResponse:
        try:
            body = await read_body(request, limit, too_large)
            guard.check(request.headers, body)
            text = _checked_text(body, request.content_type)
        except RequestRefusedError as refused:
            return refusal(EVENTS_PATH, refused)
        bolt_request = AsyncBoltRequest(
            body=text, query=request.query_string, headers=dict(request.headers)
        )
        return await to_aiohttp_response(await app.async_dispatch(bolt_request))

    return build_web_app(EVENTS_PATH, events, max_body_bytes=limit, health=health)


def _checked_text(body: bytes, content_type: str) -> str:
    """The body as text, if it has a form Slack sends; else a 400 saying what is wrong."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestRefusedError(400, "Malformed request: the body is not UTF-8 text.") from None
    if content_type == "application/json" or text.lstrip().startswith("{"):
        _json_object(text, "the body", "an Events API request is a JSON object with a 'type'")
        return text
    try:
        form = parse_qs(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise RequestRefusedError(
            400, "Malformed request: the body is neither JSON nor a URL-encoded form."
        ) from None
    if "payload" in form:
        _json_object(
            form["payload"][0],
            "the payload= field",
            "an interaction carries a JSON object with a 'type'",
        )
    elif "command" not in form and "ssl_check" not in form:
        raise RequestRefusedError(
            400,
            "Malformed request: expected a slash command (command=...), an interaction "
            "(payload=...) or an event (a JSON object).",
        )
    return text


def _json_object(text: str, what: str, expected: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise RequestRefusedError(400, f"Malformed request: {what} is not JSON ({exc}).") from None
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise RequestRefusedError(400, f"Malformed request: {what} is not what Slack sends: "
                                  f"{expected}.")  # fmt: skip
    return value
