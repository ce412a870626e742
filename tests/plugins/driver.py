"""A raw MCP-over-stdio peer acting as the host, for testing the plugin helpers byte by byte.

``RawPeer`` starts a plugin as a subprocess and speaks newline-delimited JSON-RPC to it with
no MCP library in between: what it writes is exactly what the plugin reads (``write`` sends
raw bytes, malformed ones included), and every line the plugin writes to stdout is kept as
it came and parsed into ``inbox``. It plays the host's part too: the handshake, requests and
notifications, and answers to the plugin's own requests (``logomesh/call``, sampling).
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

TIMEOUT = 5.0

Message = dict[str, Any]


class RawPeer:
    """The host's side of the pipe: raw JSON lines out, parsed messages in."""

    #: ``clientInfo.version`` in the ``initialize`` request.
    client_version = "test"

    def __init__(self, argv: Sequence[str], *, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.inbox: queue.Queue[Message | None] = queue.Queue()
        self.stdout_lines: list[bytes] = []  # every line, as written
        self.bad_lines: list[bytes] = []  # the ones that are not JSON: always a failure
        self.stderr = b""
        self._next_id = 100
        self._stderr_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_reader.start()
        threading.Thread(target=self._read_stdout, daemon=True).start()

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.stdout_lines.append(line)
            try:
                self.inbox.put(json.loads(line.decode("utf-8")))
            except ValueError:
                self.bad_lines.append(line)  # anything but JSON on stdout is a failure
        self.inbox.put(None)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()

    # -------------------------------------------------------------------------- out

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: Message) -> None:
        self.write(json.dumps(message).encode() + b"\n")

    def send_request(
        self, method: str, params: Message | None = None, *, rid: int | str | None = None
    ) -> int | str:
        """Send a request (with no ``params`` if none are given) and return its id: ``rid``,
        or a fresh one."""
        if rid is None:
            self._next_id += 1
            rid = self._next_id
        message: Message = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return rid

    def notify(self, method: str, params: Message | None = None) -> None:
        message: Message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def reply(self, rid: Any, result: Any) -> None:
        """Answer one of the plugin's requests."""
        self.send({"jsonrpc": "2.0", "id": rid, "result": result})

    def reply_error(self, rid: Any, code: int, message: str) -> None:
        """Refuse one of the plugin's requests with a JSON-RPC error."""
        self.send({"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}})

    # --------------------------------------------------------------------------- in

    def next(self, timeout: float = TIMEOUT) -> Message:
        message = self.inbox.get(timeout=timeout)
        assert message is not None, "the plugin closed stdout"
        return message

    def until(
        self, match: Callable[[Message], bool], timeout: float = TIMEOUT
    ) -> tuple[Message, list[Message]]:
        """The first message that matches and the ones that came before it."""
        before: list[Message] = []
        deadline = time.monotonic() + timeout
        while True:
            message = self.next(max(0.01, deadline - time.monotonic()))
            if match(message):
                return message, before
            before.append(message)

    def expect(self, match: Callable[[Message], bool], timeout: float = TIMEOUT) -> Message:
        """The first message that matches; the ones before it are dropped."""
        message, _ = self.until(match, timeout)
        return message

    def response(self, rid: Any) -> tuple[Message, list[Message]]:
        """The response to request ``rid`` and the messages that came before it."""
        return self.until(lambda m: m.get("id") == rid and "method" not in m)

    def next_is_pong(self) -> bool:
        """Ping, and check that its answer is the very next message."""
        rid = self.send_request("ping")
        return self.next() == {"jsonrpc": "2.0", "id": rid, "result": {}}

    def sync(self) -> list[Message]:
        """Everything the plugin sent before it answers a ping (so nothing else is pending)."""
        _, before = self.response(self.send_request("ping"))
        return before

    # ---------------------------------------------------------------- the session

    def handshake(self, version: str = "2025-11-25") -> Message:
        """``initialize`` (offering ``version``), then ``notifications/initialized``."""
        rid = self.send_request(
            "initialize",
            {
                "protocolVersion": version,
                "capabilities": {"sampling": {}, "experimental": {"logomesh": {"version": 1}}},
                "clientInfo": {"name": "logomesh", "version": self.client_version},
            },
        )
        message, _ = self.response(rid)
        self.notify("notifications/initialized")
        return message

    def close(self) -> int:
        """Close the plugin's stdin and wait for it to exit (killing it after TIMEOUT)."""
        assert self.proc.stdin is not None
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            return self.proc.wait(timeout=TIMEOUT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._stderr_reader.join(TIMEOUT)  # self.stderr is complete from here on
