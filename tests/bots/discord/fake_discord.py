"""A loopback Discord that the real discord.py 2.7 client talks to, for tests.

Discord cannot be reached from here, so tests stand this server up on 127.0.0.1 and point the
real client at it (:func:`pointed_at`, or ``bots.discord.api_url`` / ``gateway_url`` in the
bot's settings). It speaks Discord's wire protocol: JSON over HTTP with rate-limit headers
and Discord's error bodies, the gateway over WebSocket with zlib-stream compression,
heartbeats and RESUME. So discord.py's own HTTP client, rate-limit buckets, gateway state
machine, interaction responses and webhooks run as they would against Discord, and a test
asserts on what Discord would have shown.

The parts: :mod:`.fake_state` (what the application holds), :mod:`.fake_webhooks` (an
interaction's callback and webhook), :mod:`.fake_rest` (bot-token routes),
:mod:`.discord_limits` (form-body limits), :mod:`.fake_http` (wire details),
:mod:`.fake_gateway` (the WebSocket), :mod:`.fake_people` (what a person does),
:mod:`.discord_payloads` (payloads as discord.py parses them), :mod:`.fake_models` (what is
recorded). The bot's own non-ephemeral messages come back to every session as
MESSAGE_CREATE / UPDATE / DELETE, as on Discord.

Public API::

    APP_ID BOT_USER_ID GUILD_ID CHANNEL_ID DEV_ROLE_ID USER_ID BOT_TOKEN
    PUBLIC_KEY_HEX SIGNING_KEY                 # the application's Ed25519 key pair
    FakeDiscord(bot_token=BOT_TOKEN, *, heartbeat_interval_ms=41250, token_ttl_s=900.0,
                defer_window_s=3.0)
    async with FakeDiscord() as fake: ...      # on the running loop
    with FakeDiscord.running() as fake: ...    # own thread + loop; fake.blocking(coro, timeout=30)
    with pointed_at(fake): ...                 # discord.py's REST base and gateway -> the fake
    async with run_client(fake, client): ...   # login + connect + on_ready, then close
    fake.api_url  fake.gateway_url  fake.base_url
    fake.add_guild(guild_id, name="Team", roles={id: name}, channels=[id])  # default: GUILD_ID
        with @everyone (id == guild id), "developers" DEV_ROLE_ID and #general CHANNEL_ID
    fake.add_user(user_id, username, *, roles=(...), guild_id=GUILD_ID) -> user payload
        (default: alice, USER_ID, a developer)
    # what a person does: a gateway dispatch to every live session (kept for RESUME)
    await fake.slash(subcommand, options=None, *, user=USER_ID, guild_id=GUILD_ID (None: DM),
                     channel_id=CHANNEL_ID, command="logomesh", created_ago_s=0.0)
        -> FakeInteraction
    await fake.autocomplete(subcommand, options, focused, *, user=...) -> FakeInteraction
    await fake.click(message | message_id, custom_id, *, user=...) -> FakeInteraction
    await fake.say(content, *, user=..., channel_id=CHANNEL_ID, guild_id=GUILD_ID (None: DM),
                   mentions_bot=None (True in a guild)) -> FakeMessage
    # the same interactions registered but not sent (HTTP mode POSTs .payload, signed)
    fake.slash_payload(subcommand, options, *, focused=None, user=..., guild_id=..., ...)
    fake.click_payload(message, custom_id, *, user=...)  fake.interaction_payload(kind, data, ...)
    signed_headers(body, timestamp=None, key=SIGNING_KEY)    # for HTTP interactions
    # what the bot did
    fake.calls: list[RestCall]  fake.calls_to(method, route)  fake.mark()
    await fake.wait_for(method, route, where=None, after=0, timeout=10.0) -> RestCall
    await fake.wait_until(condition, timeout=10.0, what="...")
    fake.responses(interaction) -> [callback bodies]  fake.interactions  fake.commands
    fake.messages  fake.message(message_id)  fake.channel_messages(channel_id)  fake.dm_channels
    # faults
    fake.fail_next(method, route, status=429, *, retry_after=0.2, global_=False, times=1,
                   code=None, message=None)
    fake.gate(method, route) -> Gate           # its calls wait, unanswered, until gate.open()
    fake.expire_tokens()                       # webhook calls now 401 50027
    fake.gateway: FakeGateway                  # .connections .open_connections .history
        .identifies .resumes .heartbeats .sessions  await .wait_for_ready(count)
        await .wait_for_resume(count)  .hold_resumes() -> Gate  await .dispatch(event, data)
        await .disconnect(code=4000) .reconnect() .invalidate(resumable)

Routes are named by Discord's documented templates, with or without the method:
``fake.calls_to("POST", "/webhooks/{app}/{token}")``; an unknown template raises naming the
known ones. Every answer carries X-RateLimit-* headers and ``Via`` (discord.py retries a 429
only when ``Via`` shows it came from Discord rather than Cloudflare).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from types import TracebackType
from typing import Any, TypeVar

import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import web

from tests.bots.discord.discord_payloads import (
    APP_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    CHANNEL_ID,
    DEV_ROLE_ID,
    GUILD_ID,
    PUBLIC_KEY_HEX,
    SIGNING_KEY,
    USER_ID,
    signed_headers,
)
from tests.bots.discord.fake_gateway import FakeGateway
from tests.bots.discord.fake_http import Failure, read_body, response
from tests.bots.discord.fake_models import FakeInteraction, FakeMessage, RestCall, RestRequest
from tests.bots.discord.fake_people import People
from tests.bots.discord.fake_state import DiscordError, Route
from tests.bots.gate import Gate
from tests.bots.loopback import LoopbackSite, on_own_loop
from tests.bots.waiting import run_blocking, wait_until

T = TypeVar("T")


class FakeDiscord(People):
    """Discord's REST API and gateway on one loopback port, for one application and bot."""

    def __init__(
        self,
        bot_token: str = BOT_TOKEN,
        *,
        heartbeat_interval_ms: int = 41250,
        token_ttl_s: float = 900.0,
        defer_window_s: float = 3.0,
    ) -> None:
        super().__init__(token_ttl_s=token_ttl_s, defer_window_s=defer_window_s)
        self.bot_token = bot_token
        self.calls: list[RestCall] = []
        self.gateway = FakeGateway(
            bot_token, self.guild_creates, self.member_payloads, heartbeat_interval_ms
        )
        self._failures: dict[str, Failure] = {}
        self._gates: dict[str, Gate] = {}
        self._site = LoopbackSite()

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._site.port

    @property
    def base_url(self) -> str:
        return self._site.base_url

    @property
    def api_url(self) -> str:
        """What ``discord.http.Route.BASE`` and ``bots.discord.api_url`` take."""
        return f"{self.base_url}/api/v10"

    @property
    def gateway_url(self) -> str:  # type: ignore[override]
        """What ``DiscordWebSocket.DEFAULT_GATEWAY`` and ``bots.discord.gateway_url`` take."""
        return self.gateway.url

    async def start(self) -> None:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_route("*", "/api/v10/{path:.*}", self._api)
        app.router.add_get("/gateway/", self.gateway.handle)
        app.router.add_get("/gateway/resume/", self.gateway.handle)
        await self._site.start(app)
        self.gateway.bind(asyncio.get_running_loop(), self.port)

    async def stop(self) -> None:
        for gate in self._gates.values():
            gate.open()  # no call stays held past the test
        await self.gateway.close()
        await self._site.stop()

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @classmethod
    @contextmanager
    def running(cls, bot_token: str = BOT_TOKEN, **options: Any) -> Iterator[FakeDiscord]:
        """The fake on its own thread and loop: for sync tests, a bot in a subprocess, or
        when the code under test owns (or blocks) the test's loop."""
        fake = cls(bot_token, **options)
        with on_own_loop(fake, "fake-discord"):
            yield fake

    def blocking(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coroutine`` (a wait, a person's action) on the fake's loop from a sync test."""
        return run_blocking(self._site.loop, coroutine, timeout)

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        return self._site.loop

    # -- faults -----------------------------------------------------------------------------

    def route(self, method: str, template: str) -> Route:
        """The route ``template`` names (``"/webhooks/{app}/{token}"``, method given apart or
        as a prefix); an unknown one raises naming every known route."""
        if " " in template:
            method, template = template.split(" ", 1)
        for route in self.routes:
            if route.method == method.upper() and route.template == template:
                return route
        known = "\n  ".join(route.name for route in self.routes)
        raise ValueError(f"no route {method} {template} in the fake Discord; known:\n  {known}")

    def fail_next(
        self,
        method: str,
        route: str,
        status: int = 429,
        *,
        retry_after: float = 0.2,
        global_: bool = False,
        times: int = 1,
        code: int | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next ``times`` calls of the route with ``status``: a 429 as Discord's
        rate limiter does (``retry_after`` s, ``global_``), anything else with ``code`` and
        ``message`` (a generic one by default). It replaces a failure still pending there."""
        name = self.route(method, route).name
        self._failures[name] = Failure(status, times, retry_after, global_, code, message)

    def gate(self, method: str, route: str) -> Gate:
        """A shut gate where the route's calls wait, unanswered and unrecorded, till opened."""
        gate = self._gates[self.route(method, route).name] = Gate()
        return gate

    def expire_tokens(self) -> None:
        """Every interaction so far is past its token's 15 minutes."""
        for interaction in self.interactions.values():
            interaction.token_expired = True

    # -- queries ----------------------------------------------------------------------------

    def calls_to(self, method: str, route: str) -> list[RestCall]:
        name = self.route(method, route).name
        return [call for call in self.calls if call.route == name]

    def mark(self) -> int:
        """The position to pass as ``wait_for(after=...)`` to wait for calls made from now."""
        return len(self.calls)

    async def wait_until(
        self,
        condition: Callable[[], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - a failure names what never came
        what: str = "condition",
    ) -> None:
        await wait_until(condition, timeout, what, self._seen)

    async def wait_for(
        self,
        method: str,
        route: str,
        where: Callable[[RestCall], bool] | None = None,
        *,
        after: int = 0,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> RestCall:
        """The first call of the route from position ``after`` that ``where`` accepts
        (failed calls included: check ``.ok``), waiting up to ``timeout`` s for it."""
        name = self.route(method, route).name

        def found() -> RestCall | None:
            matches = (c for c in self.calls[after:] if c.route == name)
            return next((c for c in matches if where is None or where(c)), None)

        await wait_until(lambda: found() is not None, timeout, f"{name} call", self._seen)
        call = found()
        assert call is not None
        return call

    def responses(self, interaction: FakeInteraction | str) -> list[dict[str, Any]]:
        """The callback bodies the bot answered ``interaction`` with (accepted ones)."""
        key = interaction if isinstance(interaction, str) else interaction.id
        return list(self.interactions[key].responses)

    def message(self, message_id: str) -> FakeMessage:
        found = self.find_message(message_id)
        if found is None:
            raise AssertionError(
                f"no message {message_id}; messages: {[m.id for m in self.messages]}"
            )
        return found

    def channel_messages(self, channel_id: str) -> list[FakeMessage]:
        return [m for m in self.messages if m.channel_id == channel_id and not m.deleted]

    def _seen(self) -> str:
        calls = ", ".join(f"{c.route} {c.status}" for c in self.calls[-12:])
        return f"last calls: {calls or 'none'}; gateway: {self.gateway._seen()}"

    # -- the HTTP endpoint ------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        method = request.method
        matched = next(
            ((r, m) for r in self.routes if r.method == method and (m := r.pattern.match(path))),
            None,
        )
        if matched is None:
            body = {"message": "404: Not Found", "code": 0}
            self.calls.append(RestCall(method, path, f"{method} {path}", None, [], 404, body))
            return response(404, body, f"{method} {path}")
        route, match = matched
        gate = self._gates.get(route.name)
        if gate is not None:
            await gate.passing()
        try:
            parsed, files = await read_body(request)
        except ValueError as error:
            parsed, files = None, []
            status, answer = 400, {"message": f"400: Bad Request ({error})", "code": 50109}
        else:
            rest = RestRequest(
                method, path, match.groupdict(), dict(request.query), parsed, files,
                request.headers.get("Authorization"),
            )  # fmt: skip
            status, answer = await self._handle(route, rest)
        self.calls.append(
            RestCall(method, path, route.name, parsed, files, status, answer, dict(request.query))
        )
        answered = response(status, answer, route.name)
        while self.echoes:  # the bot's own messages, to every session, as Discord does
            event, data = self.echoes.pop(0)
            await self.gateway.broadcast(event, data)
        return answered

    async def _handle(self, route: Route, request: RestRequest) -> tuple[int, Any]:
        if route.bot_auth and request.authorization != f"Bot {self.bot_token}":
            return 401, {"message": "401: Unauthorized", "code": 0}
        failure = self._failures.get(route.name)
        if failure is not None and failure.times > 0:
            return failure.answer()
        try:
            return await route.handler(request)
        except DiscordError as error:
            return error.status, error.body()


@contextmanager
def pointed_at(fake: FakeDiscord) -> Iterator[FakeDiscord]:
    """discord.py's REST base (``Route.BASE``, read as each Route is built) and first gateway
    (``DiscordWebSocket.DEFAULT_GATEWAY``) at the fake, restored after."""
    old_base = discord.http.Route.BASE
    old_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield fake
    finally:
        discord.http.Route.BASE = old_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old_gateway


@asynccontextmanager
async def run_client(
    fake: FakeDiscord,
    client: discord.Client,
    token: str = BOT_TOKEN,
    timeout: float = 15.0,  # noqa: ASYNC109 - a failure names what the fake saw instead
) -> AsyncIterator[discord.Client]:
    """``client`` logged in and connected to ``fake`` until ``on_ready``; closed after.
    (``guild_ready_timeout`` on the client decides how long discord.py waits for more
    GUILD_CREATEs before on_ready: give it a small one in tests.)"""
    with pointed_at(fake):
        await client.login(token)
        task = asyncio.create_task(client.connect(reconnect=True), name="discord-client")
        try:
            deadline = time.monotonic() + timeout
            while not client.is_ready():
                if task.done():
                    task.result()  # raises why the client stopped
                    raise AssertionError("the discord.py client stopped before on_ready")
                if time.monotonic() > deadline:
                    raise AssertionError(f"no on_ready within {timeout}s; {fake._seen()}")
                await asyncio.sleep(0.01)
            yield client
        finally:
            await client.close()
            with suppress(discord.ConnectionClosed, asyncio.CancelledError):
                await asyncio.wait_for(task, 10)


__all__ = [
    "APP_ID",
    "BOT_TOKEN",
    "BOT_USER_ID",
    "CHANNEL_ID",
    "DEV_ROLE_ID",
    "GUILD_ID",
    "PUBLIC_KEY_HEX",
    "SIGNING_KEY",
    "USER_ID",
    "FakeDiscord",
    "FakeGateway",
    "FakeInteraction",
    "FakeMessage",
    "RestCall",
    "pointed_at",
    "run_client",
    "signed_headers",
]
