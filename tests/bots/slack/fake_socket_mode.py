"""Slack's Socket Mode end, for the real ``slack_sdk`` Socket Mode client to connect to.

What the protocol asks of Slack's side, as slack_sdk's aiohttp client expects it:
``apps.connections.open`` (called with the app-level token) answers a single-use ``wss``
URL; on connecting, the server sends ``{"type": "hello", ...}``; it then pushes envelopes
``{"envelope_id", "type": "slash_commands" | "events_api" | "interactive", "payload",
"accepts_response_payload"}`` and the client answers each with ``{"envelope_id", "payload"?}``
(the ack, within 3 s); a ``{"type": "disconnect"}`` message makes the client open a new URL
and connection. Pings are answered by aiohttp (the client's keep-alive).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from tests.bots.slack.slack_payloads import APP_ID
from tests.bots.waiting import run_on, wait_until


@dataclass(frozen=True)
class SocketAck:
    """What the client answered to one envelope (``payload`` is a slash command's reply)."""

    envelope_id: str
    payload: dict[str, Any] | None


class FakeSocketMode:
    """The WebSocket side: issues URLs, greets each connection, pushes, records the acks."""

    def __init__(self) -> None:
        self.connections = 0  # connections that got their hello, ever
        self.acks: list[SocketAck] = []
        self.received: list[dict[str, Any]] = []  # every message the clients sent
        self._sockets: list[web.WebSocketResponse] = []
        self._tickets: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._port = 0

    def bind(self, loop: asyncio.AbstractEventLoop, port: int) -> None:
        self._loop, self._port = loop, port

    @property
    def open_connections(self) -> int:
        return len(self._sockets)

    def issue_url(self) -> str:
        """A URL for ``apps.connections.open``; like Slack's, it admits one connection."""
        ticket = uuid.uuid4().hex
        self._tickets.add(ticket)
        return f"ws://127.0.0.1:{self._port}/socket?ticket={ticket}&app_id={APP_ID}"

    async def wait_for_connections(self, count: int = 1, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Until ``count`` connections have been greeted and one is open."""
        await wait_until(
            lambda: self.connections >= count and bool(self._sockets),
            timeout,
            f"Socket Mode connection #{count}",
            lambda: f"{self.connections} connection(s), {len(self._sockets)} open",
        )

    async def push(
        self,
        envelope_type: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
    ) -> str:
        """Send an envelope on the newest connection; return its id, which the ack echoes.
        Only slash commands accept a response payload unless told otherwise."""
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": envelope_type,
            "accepts_response_payload": (
                envelope_type == "slash_commands"
                if accepts_response_payload is None
                else accepts_response_payload
            ),
        }
        if envelope_type == "events_api":
            envelope.update(retry_attempt=retry_attempt, retry_reason="")
        await run_on(self._loop, self._send(envelope))
        return envelope_id

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> SocketAck:  # noqa: ASYNC109
        def ack() -> SocketAck | None:
            return next((a for a in self.acks if a.envelope_id == envelope_id), None)

        await wait_until(
            lambda: ack() is not None,
            timeout,
            f"ack of envelope {envelope_id}",
            lambda: f"acks for {[a.envelope_id for a in self.acks]}",
        )
        found = ack()
        assert found is not None
        return found

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Slack's notice that it will drop the connection; the client reconnects."""
        message = {
            "type": "disconnect",
            "reason": reason,
            "debug_info": {"host": "fake-slack"},
            "connection_info": {"app_id": APP_ID},
        }
        await run_on(self._loop, self._send(message))

    async def close(self) -> None:
        """Drop every connection from the server side, as a Slack restart would."""

        async def close_all() -> None:
            for socket in list(self._sockets):
                await socket.close(code=1001, message=b"fake slack closing")

        if self._loop is not None:
            await run_on(self._loop, close_all())

    async def _send(self, message: dict[str, Any]) -> None:
        if not self._sockets:
            raise AssertionError("no open Socket Mode connection (wait_for_connections first)")
        await self._sockets[-1].send_str(json.dumps(message))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The ``/socket`` endpoint."""
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            return web.Response(status=401, text="unknown or already used ticket")
        self._tickets.discard(ticket)
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self._sockets.append(socket)
        self.connections += 1
        hello = {
            "type": "hello",
            "num_connections": len(self._sockets),
            "debug_info": {"host": "fake-slack", "build_number": 1},
            "connection_info": {"app_id": APP_ID},
        }
        try:
            await socket.send_str(json.dumps(hello))
            async for received in socket:
                if received.type == WSMsgType.TEXT:
                    self._receive(received.data)
        finally:
            self._sockets.remove(socket)
        return socket

    def _receive(self, raw: str) -> None:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            data = {"unparsed": raw}
        if not isinstance(data, dict):
            data = {"unparsed": raw}
        self.received.append(data)
        if "envelope_id" in data:
            payload = data.get("payload")
            self.acks.append(SocketAck(str(data["envelope_id"]), payload))
