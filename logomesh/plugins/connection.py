"""JSON-RPC 2.0 over a plugin's stdio, one message per line (MCP's stdio transport).

Why not the official MCP SDK on the host side: its client is built on anyio streams with a
pydantic model per message, which costs more than the whole round-trip budget (1 ms p50)
and a second of import; the protocol subset a host needs is small, and the interop tests
drive official-SDK servers with this client to keep it honest.

A reader thread per plugin reads lines and resolves futures, so calls work from any event
loop (the CLI starts one per command) and from plain threads alike. Anything a plugin sends
that is not a JSON-RPC message, or a message over the size limit, ends the connection with
a reason the host shows; the plugin is then stopped, never trusted to recover.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import IO, Any

logger = logging.getLogger(__name__)

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = (
    -32700,
    -32600,
    -32601,
    -32602,
    -32603,
)
PERMISSION_DENIED, UNKNOWN_TARGET, COMMAND_FAILED = -32001, -32002, -32003


class RpcError(Exception):
    """An error answer, sent to or received from the other side."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


def rpc_message(
    method: str, params: dict[str, Any] | None, request_id: int | None = None
) -> dict[str, Any]:
    """A request (with ``request_id``) or a notification."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if request_id is not None:
        message["id"] = request_id
    if params is not None:
        message["params"] = params
    return message


def rpc_answer(
    request_id: Any, result: Any = None, error: RpcError | None = None
) -> dict[str, Any]:
    """The answer to a request: its result, or its error."""
    if error is None:
        return {"jsonrpc": "2.0", "id": request_id, "result": result}
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.data is not None:
        body["data"] = error.data
    return {"jsonrpc": "2.0", "id": request_id, "error": body}


def settle(future: Future[Any], answer: dict[str, Any], redact: Callable[[str], str] = str) -> None:
    """End ``future`` with what ``answer`` says: its result, or an RpcError."""
    error = answer.get("error")
    if isinstance(error, dict):
        code = error.get("code", INTERNAL_ERROR)
        text = redact(str(error.get("message", "")))
        future.set_exception(RpcError(code if isinstance(code, int) else INTERNAL_ERROR, text))
    else:
        future.set_result(answer.get("result"))


RequestHandler = Callable[[str, dict[str, Any]], Any]
NotificationHandler = Callable[[str, dict[str, Any]], None]


class Connection:
    def __init__(
        self,
        reader: IO[bytes],
        writer: IO[bytes],
        *,
        label: str,
        max_message_bytes: int,
        on_request: RequestHandler,
        on_notification: NotificationHandler,
        on_closed: Callable[[str | None], None],
    ) -> None:
        self._reader = reader
        self._writer = writer
        self.label = label
        self._max = max_message_bytes
        self._on_request = on_request
        self._on_notification = on_notification
        self._on_closed = on_closed
        self._pending: dict[int, Future[Any]] = {}
        self._next_id = 0
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._closed = False
        self.close_reason: str | None = None

    def start(self) -> None:
        threading.Thread(target=self._read_loop, name=f"plugin-{self.label}", daemon=True).start()

    # -- sending ---------------------------------------------------------------------------

    def request(self, method: str, params: dict[str, Any] | None = None) -> tuple[int, Future[Any]]:
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                future.set_exception(ConnectionError(self.close_reason or "closed"))
                return -1, future
            self._next_id += 1
            request_id = self._next_id
            self._pending[request_id] = future
        self._send(rpc_message(method, params, request_id))
        return request_id, future

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        self._send(rpc_message(method, params))

    def _answer(self, request_id: Any, result: Any = None, error: RpcError | None = None) -> None:
        self._send(rpc_answer(request_id, result, error))

    def _send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        try:
            with self._write_lock:
                self._writer.write(data)
                self._writer.flush()
        except (OSError, ValueError) as exc:  # the plugin is gone; the reader reports why
            logger.debug("plugin %s: write failed: %s", self.label, exc)

    # -- receiving -------------------------------------------------------------------------

    def _read_loop(self) -> None:
        reason: str | None = None
        try:
            while True:
                line = self._reader.readline(self._max + 1)
                if not line:
                    break
                if len(line) > self._max and not line.endswith(b"\n"):
                    reason = (
                        f"sent a message over the {self._max:,}-byte limit "
                        "(plugins.max_message_bytes)"
                    )
                    break
                if line.strip():
                    reason = self._dispatch(line)
                    if reason:
                        break
        except (OSError, ValueError) as exc:
            reason = f"its output could not be read ({exc})"
        self._close(reason)

    def _dispatch(self, line: bytes) -> str | None:
        try:
            message = json.loads(line)
        except ValueError:
            return f"wrote something that is not JSON to stdout: {line[:120]!r}"
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            return f"wrote something that is not a JSON-RPC 2.0 message: {line[:120]!r}"
        if "method" in message:
            params = message.get("params") or {}
            if not isinstance(params, dict):
                params = {}
            if "id" in message:
                self._serve(message["id"], str(message["method"]), params)
            else:
                self._notified(str(message["method"]), params)
            return None
        self._resolve(message)
        return None

    def _serve(self, request_id: Any, method: str, params: dict[str, Any]) -> None:
        """Answer a plugin's request in its own thread: handlers may call back into it."""

        def answer() -> None:
            try:
                self._answer(request_id, self._on_request(method, params))
            except RpcError as exc:
                self._answer(request_id, error=exc)
            except Exception as exc:
                logger.exception("plugin %s: handling %s failed", self.label, method)
                self._answer(request_id, error=RpcError(INTERNAL_ERROR, f"{method} failed: {exc}"))

        threading.Thread(target=answer, name=f"plugin-{self.label}-req", daemon=True).start()

    def _notified(self, method: str, params: dict[str, Any]) -> None:
        try:
            self._on_notification(method, params)
        except Exception:
            logger.exception("plugin %s: notification %s failed", self.label, method)

    def _resolve(self, message: dict[str, Any]) -> None:
        with self._lock:
            future = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
        if future is None:
            return  # an answer to a call that was cancelled or timed out
        settle(future, message)

    def forget(self, request_id: int) -> None:
        with self._lock:
            self._pending.pop(request_id, None)

    def _close(self, reason: str | None) -> None:
        with self._lock:
            self._closed = True
            self.close_reason = reason
            pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(ConnectionError(reason or "the plugin exited"))
        self._on_closed(reason)

    @property
    def closed(self) -> bool:
        return self._closed
