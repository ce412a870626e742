"""Discord's gateway end, for the real discord.py client's WebSocket to connect to.

What discord.py 2.7's ``DiscordWebSocket`` expects of Discord's side: on connecting
(``?v=10&encoding=json&compress=zlib-stream``) the server sends HELLO (op 10, the heartbeat
interval); the client heartbeats at once and then every interval (op 1, answered with op 11
HEARTBEAT_ACK) and IDENTIFYs (op 2) with its token and intents; the server answers READY
(op 0, ``s`` 1: the session id and the ``resume_gateway_url`` to come back to) and a
GUILD_CREATE per guild, which discord.py waits for before ``on_ready``. Every dispatch after
that carries the next sequence number ``s``. When the connection drops (anything but the
client's own close 1000), the client reconnects to the resume URL and RESUMEs (op 6, its
session and last ``s``): the server replays every event after that ``s`` and dispatches
RESUMED; an unknown session is answered INVALID_SESSION (op 9, false), and the client
IDENTIFYs afresh. A bad token closes the socket with 4004 "Authentication failed.".

With ``compress=zlib-stream`` each frame is one zlib stream per connection, every message
compressed and flushed with Z_SYNC_FLUSH (the suffix discord.py looks for); with
``zstd-stream`` (discord.py picks it when ``zstandard`` is importable) or none, frames are
plain text, which discord.py accepts too.

Events for a session whose connection is down are kept and replayed on RESUME, which is how
a test shows that an interaction sent during a disconnect still reaches the bot.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.bots.discord import discord_payloads as payloads
from tests.bots.gate import Gate
from tests.bots.waiting import run_on, wait_until

HELLO, HEARTBEAT, HEARTBEAT_ACK, IDENTIFY, RESUME = 10, 1, 11, 2, 6
DISPATCH, RECONNECT, INVALID_SESSION, REQUEST_MEMBERS, PRESENCE = 0, 7, 9, 8, 3
GUILD_MESSAGES, DIRECT_MESSAGES, MESSAGE_CONTENT = 1 << 9, 1 << 12, 1 << 15


@dataclass(frozen=True)
class Heartbeat:
    """One op 1 a client sent: on which connection, with which last sequence number."""

    connection: int
    seq: int | None
    at: float = field(default_factory=time.monotonic)


@dataclass
class GatewayConnection:
    """One WebSocket connection, from HELLO to close."""

    index: int
    path: str
    compress: str | None
    session_id: str | None = None
    resumed: bool = False
    heartbeats: int = 0
    close_code: int | None = None
    dropped: bool = False  # closed by the fake (disconnect), not by the client
    socket: web.WebSocketResponse | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _zlib: Any = None

    @property
    def open(self) -> bool:
        return self.socket is not None and not self.socket.closed

    async def send(self, message: dict[str, Any]) -> None:
        """Send in order: one zlib stream per connection must not interleave two frames."""
        async with self.lock:
            await self._send_unlocked(message)

    async def _send_unlocked(self, message: dict[str, Any]) -> None:
        if self.socket is None or self.socket.closed:
            return
        text = json.dumps(message)
        if self.compress == "zlib-stream":
            if self._zlib is None:
                self._zlib = zlib.compressobj()
            data = self._zlib.compress(text.encode()) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
            await self.socket.send_bytes(data)
        else:
            await self.socket.send_str(text)


@dataclass
class GatewaySession:
    """What a RESUME can come back to: the session's events, numbered, and its connection."""

    session_id: str
    intents: int
    events: list[dict[str, Any]] = field(default_factory=list)
    connection: GatewayConnection | None = None
    ended: bool = False  # closed by the client (1000) or invalidated: nothing to resume

    @property
    def seq(self) -> int:
        return len(self.events)


class FakeGateway:
    """The WebSocket side: greets, authenticates, numbers and delivers dispatches, resumes."""

    def __init__(
        self,
        token: str,
        guilds: Callable[[], list[dict[str, Any]]],
        members: Callable[[str], list[dict[str, Any]]],
        heartbeat_interval_ms: int = 41250,
    ) -> None:
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.history: list[GatewayConnection] = []  # every connection, in order
        self.identifies: list[dict[str, Any]] = []  # IDENTIFY payloads' ``d``
        self.resumes: list[dict[str, Any]] = []  # RESUME payloads' ``d``
        self.heartbeats: list[Heartbeat] = []
        self.received: list[dict[str, Any]] = []  # every message any client sent
        self.sessions: dict[str, GatewaySession] = {}
        self.resume_gate: Gate | None = None  # hold_resumes(): RESUMEs wait here, unanswered
        self._guilds = guilds
        self._members = members
        self._loop: asyncio.AbstractEventLoop | None = None
        self._port = 0

    def bind(self, loop: asyncio.AbstractEventLoop, port: int) -> None:
        self._loop, self._port = loop, port

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/gateway/"

    @property
    def resume_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/gateway/resume/"

    @property
    def connections(self) -> int:
        """Connections ever opened (each reconnect adds one)."""
        return len(self.history)

    @property
    def open_connections(self) -> int:
        return sum(1 for connection in self.history if connection.open)

    @property
    def ready_count(self) -> int:
        """READYs sent (one per IDENTIFY accepted)."""
        return len(self.identifies)

    def live_sessions(self) -> list[GatewaySession]:
        return [session for session in self.sessions.values() if not session.ended]

    # -- what a test does -------------------------------------------------------------------

    def hold_resumes(self) -> Gate:
        """A shut gate where every RESUME waits, unanswered, till opened: events dispatched
        meanwhile are certainly missed by the client, and replayed when it opens."""
        self.resume_gate = Gate()
        return self.resume_gate

    async def wait_for_ready(self, count: int = 1, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Until ``count`` READYs were sent and a session is connected."""
        await wait_until(
            lambda: (
                self.ready_count >= count
                and any(
                    s.connection is not None and s.connection.open for s in self.live_sessions()
                )
            ),
            timeout,
            f"gateway READY #{count}",
            self._seen,
        )

    async def wait_for_resume(self, count: int = 1, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Until ``count`` RESUMEs were answered (RESUMED sent)."""
        await wait_until(
            lambda: sum(1 for c in self.history if c.resumed) >= count,
            timeout,
            f"gateway RESUME #{count}",
            self._seen,
        )

    async def dispatch(self, event: str, data: dict[str, Any]) -> int:
        """Number ``event`` in every live session and send it where a connection is open
        (kept for RESUME where not); the count of sessions it went to."""
        return await run_on(self._loop, self._dispatch_all(event, data))

    async def broadcast(self, event: str, data: dict[str, Any]) -> int:
        """As :meth:`dispatch`, but no session is no mistake (HTTP mode has no gateway)."""
        return await run_on(self._loop, self._dispatch_all(event, data, required=False))

    async def disconnect(self, code: int = 4000) -> None:
        """Drop every connection from the server side; discord.py reconnects and RESUMEs."""
        await run_on(self._loop, self._close_all(code))

    async def reconnect(self) -> None:
        """Op 7 RECONNECT on every connection: the client closes and RESUMEs."""
        await run_on(self._loop, self._send_all({"op": RECONNECT, "d": None}))

    async def invalidate(self, resumable: bool) -> None:
        """Op 9 INVALID_SESSION: ``False`` ends the sessions (the client IDENTIFYs again)."""

        async def invalidate_all() -> None:
            if not resumable:
                for session in self.live_sessions():
                    session.ended = True
            await self._send_all({"op": INVALID_SESSION, "d": resumable})

        await run_on(self._loop, invalidate_all())

    async def close(self) -> None:
        if self.resume_gate is not None:
            self.resume_gate.open()
        if self._loop is not None:
            await run_on(self._loop, self._close_all(1001))

    # -- delivery ---------------------------------------------------------------------------

    async def _dispatch_all(self, event: str, data: dict[str, Any], required: bool = True) -> int:
        sessions = self.live_sessions()
        if not sessions and required:
            raise AssertionError(
                f"no gateway session to send {event} to (await fake.gateway.wait_for_ready())"
            )
        for session in sessions:
            shaped = _as_intents_allow(event, data, session.intents)
            if shaped is None:
                continue
            message = {"op": DISPATCH, "t": event, "s": session.seq + 1, "d": shaped}
            session.events.append(message)
            if session.connection is not None and session.connection.open:
                await session.connection.send(message)
        return len(sessions)

    async def _send_all(self, message: dict[str, Any]) -> None:
        for connection in list(self.history):
            if connection.open:
                await connection.send(message)

    async def _close_all(self, code: int) -> None:
        for connection in list(self.history):
            if connection.socket is not None and not connection.socket.closed:
                connection.dropped = True
                await connection.socket.close(code=code, message=b"fake discord closing")

    # -- the endpoint -----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``/gateway/`` and ``/gateway/resume/``."""
        if request.query.get("v", "10") != "10" or request.query.get("encoding", "json") != "json":
            return web.Response(status=400, text="this fake speaks gateway v10 with JSON only")
        socket = web.WebSocketResponse(autoping=True, max_msg_size=4 * 1024 * 1024)
        await socket.prepare(request)
        connection = GatewayConnection(
            index=len(self.history), path=request.path, compress=request.query.get("compress")
        )
        connection.socket = socket
        self.history.append(connection)
        try:
            hello = {"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}}
            await connection.send(hello)
            async for received in socket:
                if received.type == WSMsgType.TEXT:
                    await self._receive(connection, received.data)
                elif received.type == WSMsgType.BINARY:
                    await socket.close(code=4002, message=b"Error while decoding payload.")
        finally:
            connection.close_code = socket.close_code
            self._connection_closed(connection)
        return socket

    def _connection_closed(self, connection: GatewayConnection) -> None:
        session = self.sessions.get(connection.session_id or "")
        if session is None or session.connection is not connection:
            return
        session.connection = None
        # A client's clean goodbye (1000) ends its session. discord.py's Client.close sends
        # 4000 in fact (its reader closes first), as after a drop: such a session stays
        # resumable, as it would on Discord, and merely collects events nobody replays.
        if connection.close_code == 1000 and not connection.dropped:
            session.ended = True

    async def _receive(self, connection: GatewayConnection, raw: str) -> None:
        try:
            message = json.loads(raw)
        except json.JSONDecodeError:
            message = None
        if not isinstance(message, dict):
            assert connection.socket is not None
            await connection.socket.close(code=4002, message=b"Error while decoding payload.")
            return
        self.received.append(message)
        op, data = message.get("op"), message.get("d")
        if op == HEARTBEAT:
            connection.heartbeats += 1
            self.heartbeats.append(
                Heartbeat(connection.index, data if isinstance(data, int) else None)
            )
            await connection.send({"op": HEARTBEAT_ACK})
        elif op == IDENTIFY and isinstance(data, dict):
            await self._identify(connection, data)
        elif op == RESUME and isinstance(data, dict):
            if self.resume_gate is not None:
                await self.resume_gate.passing()
            await self._resume(connection, data)
        elif op == REQUEST_MEMBERS and isinstance(data, dict):
            await self._members_chunk(connection, data)
        elif op in (PRESENCE, 4):  # presence and voice state updates need no answer here
            return
        else:
            assert connection.socket is not None
            await connection.socket.close(code=4001, message=b"Unknown opcode.")

    async def _identify(self, connection: GatewayConnection, data: dict[str, Any]) -> None:
        assert connection.socket is not None
        if connection.session_id is not None:
            await connection.socket.close(code=4005, message=b"Already authenticated.")
            return
        if data.get("token") != self.token:
            await connection.socket.close(code=4004, message=b"Authentication failed.")
            return
        self.identifies.append(data)
        session = GatewaySession(uuid.uuid4().hex, int(data.get("intents", 0)))
        self.sessions[session.session_id] = session
        connection.session_id = session.session_id
        guilds = self._guilds()
        guild_ids = [str(guild["id"]) for guild in guilds]
        async with connection.lock:
            session.connection = connection
            first = [("READY", payloads.ready(session.session_id, self.resume_url, guild_ids))]
            for event, body in first + [("GUILD_CREATE", guild) for guild in guilds]:
                message = {"op": DISPATCH, "t": event, "s": session.seq + 1, "d": body}
                session.events.append(message)
                await connection._send_unlocked(message)

    async def _resume(self, connection: GatewayConnection, data: dict[str, Any]) -> None:
        assert connection.socket is not None
        self.resumes.append(data)
        if data.get("token") != self.token:
            await connection.socket.close(code=4004, message=b"Authentication failed.")
            return
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or session.ended:
            await connection.send({"op": INVALID_SESSION, "d": False})
            return
        after = data.get("seq") if isinstance(data.get("seq"), int) else 0
        async with connection.lock:
            # Attached first, so a dispatch from now on queues behind the replay, in order.
            session.connection = connection
            connection.session_id = session.session_id
            for message in session.events[after:]:
                await connection._send_unlocked(message)
            resumed = {"op": DISPATCH, "t": "RESUMED", "s": session.seq + 1, "d": {}}
            session.events.append(resumed)
            await connection._send_unlocked(resumed)
            connection.resumed = True

    async def _members_chunk(self, connection: GatewayConnection, data: dict[str, Any]) -> None:
        guild_id = str(data.get("guild_id"))
        chunk = {
            "guild_id": guild_id,
            "members": self._members(guild_id),
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
            "presences": [],
            "nonce": data.get("nonce"),
        }
        session = self.sessions.get(connection.session_id or "")
        if session is None:
            return
        message = {"op": DISPATCH, "t": "GUILD_MEMBERS_CHUNK", "s": session.seq + 1, "d": chunk}
        session.events.append(message)
        await connection.send(message)

    def _seen(self) -> str:
        return (
            f"{self.connections} connection(s), {self.open_connections} open, "
            f"{len(self.identifies)} IDENTIFY, {len(self.resumes)} RESUME, "
            f"{len(self.heartbeats)} heartbeat(s)"
        )


def _as_intents_allow(event: str, data: dict[str, Any], intents: int) -> dict[str, Any] | None:
    """What a session with ``intents`` receives of ``event``: message events need the
    (direct) messages intent; without MESSAGE_CONTENT a guild message that neither mentions
    the bot nor is the bot's own arrives with its content, embeds, attachments and
    components emptied."""
    if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE"):
        return data
    in_guild = data.get("guild_id") is not None
    if not intents & (GUILD_MESSAGES if in_guild else DIRECT_MESSAGES):
        return None
    mentioned = any(m.get("id") == payloads.BOT_USER_ID for m in data.get("mentions", []))
    own = (data.get("author") or {}).get("id") == payloads.BOT_USER_ID
    if event == "MESSAGE_DELETE" or intents & MESSAGE_CONTENT or not in_guild or mentioned or own:
        return data
    return {**data, "content": "", "embeds": [], "attachments": [], "components": []}
