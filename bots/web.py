"""The aiohttp part every bot's HTTP mode shares: the refusal, the body's limit, the server.

A chat platform that POSTs signed requests to the bot (Slack's Request URL, Discord's
Interactions Endpoint URL) is served the same way: one POST route for the platform, ``GET
/healthz`` for a load balancer, a body read no further than the configured limit, and each
refusal a status with one sentence saying what to fix. What differs per platform (the
signature, the body's form, who dispatches it) stays in ``bots/slack/`` and
``bots/discord/``. This module sits outside ``bots/chat/`` because that layer imports no
aiohttp (tests/bots/test_chat_boundaries.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RequestRefusedError(Exception):
    """A request the bot will not handle: the HTTP ``status`` and a ``reason`` to show."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def refusal(path: str, refused: RequestRefusedError) -> web.Response:
    """The answer to a refused request, logged (a reason never includes a signature)."""
    log.info("Refused a request to %s: %s", path, refused.reason)
    return web.Response(status=refused.status, text=refused.reason + "\n")


async def read_body(request: web.Request, limit: int, too_large: str) -> bytes:
    """The body, or a 413 with the reason ``too_large`` as soon as it passes ``limit`` bytes."""
    refused = RequestRefusedError(413, too_large)
    if request.content_length is not None and request.content_length > limit:
        raise refused
    chunks, size = [], 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise refused
        chunks.append(chunk)
    return b"".join(chunks)


def build_web_app(
    path: str,
    handler: Handler,
    *,
    max_body_bytes: int,
    health: Callable[[], dict[str, Any]] | None = None,
) -> web.Application:
    """An application with ``handler`` at ``POST path`` and /healthz (``health`` adds figures)."""

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, **(health() if health else {})})

    # Our own limit is checked while reading; aiohttp's must not refuse first, wordlessly.
    web_app = web.Application(client_max_size=max_body_bytes + 1)
    web_app.router.add_post(path, handler)
    web_app.router.add_get(HEALTH_PATH, healthz)
    return web_app


@dataclass
class HttpServer:
    """A started server: its ``port`` (the one chosen, when asked for port 0)."""

    runner: web.AppRunner
    host: str
    port: int

    async def stop(self) -> None:
        """Stop taking requests; the ones being answered are answered first."""
        await self.runner.cleanup()


async def start_http(web_app: web.Application, host: str, port: int) -> HttpServer:
    """Serve ``web_app`` on ``host:port`` (port 0: any free one, read back from the server)."""
    runner = web.AppRunner(web_app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    return HttpServer(runner, host, int(bound[1]))
