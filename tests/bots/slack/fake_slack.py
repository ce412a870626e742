"""A loopback Slack that the real slack_sdk and slack_bolt clients talk to, for tests.

Slack cannot be reached from here, so tests stand this server up on 127.0.0.1 and point the
real clients at it (``AsyncWebClient(base_url=fake.api_url)``, the bot's
``bots.slack.api_url``). It speaks what a bot uses of Slack's protocols, checks what Slack
checks (tokens, block limits, single-use Socket Mode URLs) and records everything, so a test
asserts what was posted, updated, uploaded and acknowledged.

Public API::

    FakeSlack(bot_token=BOT_TOKEN, app_token=APP_TOKEN)
    async with FakeSlack() as fake: ...        # on the running loop (fixture ``fake_slack``)
    with FakeSlack.running() as fake: ...      # own thread and loop (``fake_slack_thread``)
    fake.api_url  fake.base_url  fake.response_url(key=None)
    fake.add_user(user_id, name, real_name="")              # known to users.info
    fake.fail_next(method, status=429, times=1, retry_after=1)  # or 500...; replaces one pending
    fake.gate(method) -> Gate                 # its calls wait, unanswered, until gate.open()
    fake.calls: list[ApiCall]  fake.calls_to(method)  fake.mark()
    await fake.wait_for(method, where=None, after=0, timeout=5.0) -> ApiCall
    await fake.wait_until(condition, timeout=5.0, what="...")
    fake.messages  fake.message(channel, ts) -> SlackMessage  fake.thread(channel, ts)
    fake.ephemerals  fake.files -> [UploadedFile]  fake.responses -> [ResponsePost]
    fake.click(message, action_id, user_id=...) -> block_actions payload for that button
    fake.socket_mode: FakeSocketMode
        await .wait_for_connections(count=1)  await .push(type, payload) -> envelope_id
        await .wait_for_ack(envelope_id) -> SocketAck  .acks
        .connections (ever)  .open_connections  .received (all client messages)
        await .disconnect(reason="refresh_requested")  await .close()
    fake.blocking(coroutine, timeout=30.0)     # run any of the above from a sync test

Web API methods (``POST``/``GET /api/<method>``, form, query or JSON; ``Authorization:
Bearer``): auth.test, chat.postMessage, chat.update, chat.delete, chat.postEphemeral,
users.info, files.getUploadURLExternal, files.completeUploadExternal and, with the app token
only, apps.connections.open. A wrong token answers ``invalid_auth``, none ``not_authed``, the
other kind ``not_allowed_token_type``, any other method ``unknown_method``. The upload POST
is recorded as method ``"upload"`` and response_url posts as ``"response_url"``; both can be
failed with ``fail_next``. Payloads to send the bot: :mod:`tests.bots.slack.slack_payloads`.

A bot test, in outline::

    fake_slack.fail_next("chat.update", status=429, retry_after=1)  # optional
    body = payloads.form_body(payloads.slash_command(
        "run git.status", user_id="U1", response_url=fake_slack.response_url()))
    ...POST body with payloads.signed_headers(SECRET, body) to the bot's /slack/events...
    posted = await fake_slack.wait_for("chat.postMessage")
    await fake_slack.wait_until(lambda: "Done" in fake_slack.message(
        posted.args["channel"], posted.response["ts"]).text, what="the result")
    click = fake_slack.click(card, "logomesh.approve", user_id="U2")  # card: a SlackMessage
    ...POST payloads.interactive_body(click), signed, to the bot...
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

from aiohttp import web

from tests.bots.gate import Gate
from tests.bots.loopback import LoopbackSite, on_own_loop
from tests.bots.slack.fake_socket_mode import FakeSocketMode, SocketAck
from tests.bots.slack.fake_workspace import (
    Method,
    SlackError,
    SlackMessage,
    SlackWorkspace,
    UploadedFile,
)
from tests.bots.waiting import run_blocking, wait_until

BOT_TOKEN = "xoxb-fake-bot-token"
APP_TOKEN = "xapp-fake-app-token"
UPLOAD = "upload"
RESPONSE_URL = "response_url"
# Fields Slack accepts as JSON text inside a form or query (slack_sdk sends files so).
JSON_FIELDS = ("blocks", "attachments", "files", "metadata")

T = TypeVar("T")


@dataclass(frozen=True)
class ApiCall:
    """One request the fake received, in arrival order, with what it answered."""

    method: str
    args: dict[str, Any]
    token: str | None
    status: int
    response: dict[str, Any]
    at: float = field(default_factory=time.monotonic)

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok", False))


@dataclass(frozen=True)
class ResponsePost:
    """A post to a response_url (``key`` is the last part of the URL)."""

    key: str
    body: dict[str, Any]


@dataclass
class _Failure:
    status: int
    times: int
    retry_after: int


class FakeSlack(SlackWorkspace):
    """Slack's Web API, file uploads, response URLs and Socket Mode on one loopback port,
    serving one :class:`~tests.bots.slack.fake_workspace.SlackWorkspace`."""

    def __init__(self, bot_token: str = BOT_TOKEN, app_token: str = APP_TOKEN) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.app_token = app_token
        self.calls: list[ApiCall] = []
        self.responses: list[ResponsePost] = []
        self.socket_mode = FakeSocketMode()
        self._failures: dict[str, _Failure] = {}
        self._gates: dict[str, Gate] = {}
        self._site = LoopbackSite()
        self._methods: dict[str, Method] = {
            **self.web_api_methods(),
            "apps.connections.open": lambda args: {"url": self.socket_mode.issue_url()},
        }

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._site.port

    @property
    def base_url(self) -> str:
        return self._site.base_url

    @property
    def api_url(self) -> str:
        """What ``AsyncWebClient(base_url=...)`` and ``bots.slack.api_url`` take."""
        return f"{self.base_url}/api/"

    async def start(self) -> None:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/response/{key}", self._response)
        app.router.add_get("/socket", self.socket_mode.handle)
        await self._site.start(app)
        self.socket_mode.bind(asyncio.get_running_loop(), self.port)

    async def stop(self) -> None:
        for gate in self._gates.values():
            gate.open()  # no call stays held past the test
        await self.socket_mode.close()
        await self._site.stop()

    async def __aenter__(self) -> FakeSlack:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @classmethod
    @contextmanager
    def running(cls, bot_token: str = BOT_TOKEN, app_token: str = APP_TOKEN) -> Iterator[FakeSlack]:
        """The fake on its own thread and loop: for sync tests, or when the code under test
        owns (or blocks) the test's loop."""
        fake = cls(bot_token, app_token)
        with on_own_loop(fake, "fake-slack"):
            yield fake

    def blocking(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coroutine`` (a wait, a push) on the fake's loop from a sync test."""
        return run_blocking(self._site.loop, coroutine, timeout)

    # -- setup and queries ------------------------------------------------------------------

    def fail_next(
        self, method: str, *, status: int = 429, times: int = 1, retry_after: int = 1
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with ``status``: 429 carries
        ``Retry-After: retry_after`` and ``ratelimited``, anything else ``fatal_error``. It
        replaces a failure still pending for ``method``."""
        self._failures[method] = _Failure(status, times, retry_after)

    def gate(self, method: str) -> Gate:
        """A shut gate where calls of ``method`` wait, unanswered and unrecorded, till opened."""
        gate = self._gates[method] = Gate()
        return gate

    def calls_to(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method]

    def mark(self) -> int:
        """The position to pass as ``wait_for(after=...)`` to wait for calls made from now."""
        return len(self.calls)

    async def wait_until(
        self,
        condition: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - a failure names what never came
        what: str = "condition",
    ) -> None:
        await wait_until(condition, timeout, what, self._seen)

    async def wait_for(
        self,
        method: str,
        where: Callable[[ApiCall], bool] | None = None,
        *,
        after: int = 0,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> ApiCall:
        """The first call of ``method`` from position ``after`` that ``where`` accepts
        (failed calls included: check ``.ok``), waiting up to ``timeout`` s for it."""

        def found() -> ApiCall | None:
            matches = (c for c in self.calls[after:] if c.method == method)
            return next((c for c in matches if where is None or where(c)), None)

        await wait_until(lambda: found() is not None, timeout, f"{method} call", self._seen)
        call = found()
        assert call is not None
        return call

    def _seen(self) -> str:
        return "calls so far: " + (", ".join(c.method for c in self.calls) or "none")

    # -- HTTP endpoints ---------------------------------------------------------------------

    def _record(
        self, method: str, args: dict[str, Any], token: str | None, status: int, body: Any
    ) -> None:
        self.calls.append(ApiCall(method, args, token, status, body))

    def _injected(self, method: str) -> web.Response | None:
        failure = self._failures.get(method)
        if failure is None or failure.times <= 0:
            return None
        failure.times -= 1
        if failure.status == 429:
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(failure.retry_after)},
            )
        return web.json_response({"ok": False, "error": "fatal_error"}, status=failure.status)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        header = request.headers.get("Authorization", "")
        try:
            args = await _read_args(request)
        except SlackError as error:
            self._record(method, dict(request.query), None, 200, {"ok": False, "error": error.code})
            return web.json_response({"ok": False, "error": error.code})
        legacy_token = args.pop("token", None)
        gate = self._gates.get(method)
        if gate is not None:
            await gate.passing()
        token = header.removeprefix("Bearer ").strip() if header else legacy_token
        injected = self._injected(method)
        if injected is not None:
            self._record(method, args, token, injected.status, json.loads(injected.text or "{}"))
            return injected
        body: dict[str, Any]
        try:
            handler = self._methods.get(method)
            if handler is None:
                raise SlackError("unknown_method")
            self._check_token(method, token)
            body = {"ok": True, **handler(args)}
        except SlackError as error:
            body = {"ok": False, "error": error.code}
            if error.details:
                body["response_metadata"] = {"messages": list(error.details)}
        self._record(method, args, token, 200, body)
        return web.json_response(body)

    def _check_token(self, method: str, token: str | None) -> None:
        if not token:
            raise SlackError("not_authed")
        wanted = self.app_token if method == "apps.connections.open" else self.bot_token
        if token == wanted:
            return
        if token in (self.app_token, self.bot_token):
            raise SlackError("not_allowed_token_type")
        raise SlackError("invalid_auth")

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        content = await request.read()
        args = {"file_id": file_id, "bytes": len(content)}
        injected = self._injected(UPLOAD)
        if injected is not None:
            self._record(UPLOAD, args, None, injected.status, {})
            return injected
        upload = self.uploads.get(file_id)
        if upload is None:
            self._record(UPLOAD, args, None, 404, {})
            return web.Response(status=404, text="unknown upload URL")
        upload.content = content
        self._record(UPLOAD, args, None, 200, {"ok": True})
        # What Slack's upload host answers; slack_sdk checks only the status.
        return web.Response(text=f"OK - {len(content)}", content_type="text/plain")

    async def _response(self, request: web.Request) -> web.Response:
        key = request.match_info["key"]
        try:
            body = await request.json()
        except json.JSONDecodeError:
            body = {"unparsed": await request.text()}
        injected = self._injected(RESPONSE_URL)
        status = 200 if injected is None else injected.status
        self._record(RESPONSE_URL, {"key": key, **body}, None, status, {"ok": status == 200})
        if injected is not None:
            return injected
        self.responses.append(ResponsePost(key, body))
        return web.Response(text="ok", content_type="text/plain")


async def _read_args(request: web.Request) -> dict[str, Any]:
    """The query and a form, multipart or JSON body as one dict, JSON-text fields decoded
    (slack_sdk sends some methods' arguments in the query string, others in the body)."""
    args: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        try:
            loaded = await request.json()
        except json.JSONDecodeError:
            raise SlackError("invalid_json") from None
        if not isinstance(loaded, dict):
            raise SlackError("invalid_json")
        args.update(loaded)
    elif request.body_exists:
        form = await request.post()
        args.update({key: _form_value(value) for key, value in form.items()})
    for key in JSON_FIELDS:
        if isinstance(args.get(key), str):
            try:
                args[key] = json.loads(args[key])
            except json.JSONDecodeError:
                raise SlackError(f"invalid_{key}_format") from None
    return args


def _form_value(value: str | bytes | bytearray | web.FileField) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return value.decode(errors="replace")
    return value.filename  # a multipart file: its name is what a test can check


__all__ = [
    "APP_TOKEN",
    "BOT_TOKEN",
    "RESPONSE_URL",
    "UPLOAD",
    "ApiCall",
    "FakeSlack",
    "FakeSocketMode",
    "ResponsePost",
    "SlackMessage",
    "SocketAck",
    "UploadedFile",
]
