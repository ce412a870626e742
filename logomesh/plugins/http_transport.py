"""MCP's Streamable HTTP transport (spec 2025-06-18 and 2025-11-25), client side.

:class:`HttpConnection` has the surface of :class:`~logomesh.plugins.connection.Connection`
(``start``, ``request``, ``notify``, ``forget``, ``closed``, ``close_reason``; the same
``on_request`` / ``on_notification`` / ``on_closed`` callbacks), so the host's MCP logic runs
unchanged over stdio or HTTP. What it guarantees:

- ``request`` and ``notify`` only queue; each message is its own POST, made on a thread of
  its own (httpx, blocking; no event loop), so one slow call never holds up another and any
  caller's loop can use it. Notifications and our answers to the server's requests are
  POSTed one at a time in order, and a request only after every notification queued before
  it was delivered (``notifications/initialized`` reaches the server before ``tools/list``).
- A request's future ends with its result; with :class:`RpcError` (the server's JSON-RPC
  error); with a :class:`~logomesh.errors.PluginError` whose ``user_message`` names the URL
  and the fix (``RemoteUnreachableError``, ``RemoteAuthError``, ``RemoteServerError``,
  ``PluginProtocolError``: only that call failed, the connection stays usable); or with
  ``ConnectionError`` once the connection is closed (``close_reason`` says why).
- The ``Mcp-Session-Id`` of the initialize answer is sent on every later request, with
  ``MCP-Protocol-Version`` once the caller sets ``protocol_version``. A 404 for the session
  (``RemoteSessionExpiredError``, code ``plugin.session_expired``) or a changed session id
  (``PluginProtocolError``, code ``plugin.session_changed``) closes the connection and is
  kept in ``close_error``: one HttpConnection is one session; start a new one to go on.
- An SSE answer may carry the server's requests (answered from ``on_request`` on a thread;
  an ``RpcError`` it raises becomes an error answer) and notifications. If it ends or breaks
  before the answer came, it is resumed with GET and ``Last-Event-ID`` after the server's
  ``retry`` (``resume_attempts`` times in a row without news), else the call fails saying so.
- A message over ``max_message_bytes`` fails its call; reading stops at the limit.
- Header values (secrets from the environment) never appear in a message, a log line or a
  close reason (``http_answers.Remote.redact``); nor does the session id.
- ``forget`` aborts the call's streamed answer (its socket is shut down) once it has begun;
  ``close`` sends DELETE with the session id (best effort), fails what is pending with
  ``ConnectionError`` and calls ``on_closed(None)``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import httpx

from logomesh.errors import (
    PluginError,
    PluginProtocolError,
    RemoteServerError,
    RemoteUnreachableError,
)
from logomesh.plugins.connection import (
    INTERNAL_ERROR,
    NotificationHandler,
    RequestHandler,
    RpcError,
)
from logomesh.plugins.http_answers import (
    Remote,
    StreamCursor,
    body_excerpt,
    read_events,
    read_json,
    status_error,
)

logger = logging.getLogger(__name__)

JSON, SSE = "application/json", "text/event-stream"
FATAL = frozenset({"plugin.session_expired", "plugin.session_changed"})
LONGEST_RETRY_MS = 60_000  # a server's `retry` is obeyed up to this


class HttpConnection:
    def __init__(
        self,
        url: str,
        headers: dict[str, str],
        *,
        label: str,
        max_message_bytes: int,
        on_request: RequestHandler,
        on_notification: NotificationHandler,
        on_closed: Callable[[str | None], None],
        connect_timeout_s: float = 10.0,
        notice_timeout_s: float = 30.0,
        resume_attempts: int = 3,
        default_retry_ms: int = 1000,
        listen: bool = True,
    ) -> None:
        self.url = url
        self.label = label
        self._headers = dict(headers)
        self._remote = Remote.of(label, url, headers)
        self._max = max_message_bytes
        self._on_request = on_request
        self._on_notification = on_notification
        self._on_closed = on_closed
        self._connect_timeout_s = connect_timeout_s
        self._notice_timeout_s = notice_timeout_s
        self._resume_attempts = resume_attempts
        self._default_retry_ms = default_retry_ms
        self._listen = listen
        self.protocol_version: str | None = None  # set by the caller after initialize
        self.session_id: str | None = None
        self.close_reason: str | None = None
        self.close_error: PluginError | None = None
        self._pending: dict[int, Future[Any]] = {}
        self._answers: dict[int | str, httpx.Response] = {}  # streamed answers being read
        self._next_id = 0
        self._lock = threading.Lock()
        self._order = threading.Condition(self._lock)
        self._queued = self._delivered = 0  # notifications and answers, in order
        self._notices: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._closed = False
        self._client = httpx.Client(
            headers=self._headers, timeout=httpx.Timeout(None, connect=connect_timeout_s)
        )

    def start(self) -> None:
        self._thread(self._notice_loop, "notices")

    @property
    def closed(self) -> bool:
        return self._closed

    # -- sending ---------------------------------------------------------------------------

    def request(self, method: str, params: dict[str, Any] | None = None) -> tuple[int, Future[Any]]:
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                future.set_exception(ConnectionError(self._closed_text()))
                return -1, future
            self._next_id += 1
            request_id = self._next_id
            self._pending[request_id] = future
            after = self._queued
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self._thread(self._exchange, "call", method, request_id, message, after)
        return request_id, future

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self._queue_notice(message)

    def forget(self, request_id: int) -> None:
        with self._lock:
            self._pending.pop(request_id, None)
            answer = self._answers.pop(request_id, None)
        if answer is not None:
            _abort(answer)

    def _queue_notice(self, message: dict[str, Any]) -> None:
        with self._lock:
            if self._closed:
                return
            self._queued += 1
        self._notices.put(message)

    def _headers_for(self, verb: str) -> dict[str, str]:
        headers = {"Accept": f"{JSON}, {SSE}" if verb == "POST" else SSE}
        if verb == "POST":
            headers["Content-Type"] = JSON
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
        if self.protocol_version:
            headers["MCP-Protocol-Version"] = self.protocol_version
        return headers

    # -- one request -----------------------------------------------------------------------

    def _exchange(self, method: str, request_id: int, message: dict[str, Any], after: int) -> None:
        with self._order:
            while self._delivered < after and not self._closed:
                self._order.wait()
        if not self._is_pending(request_id):
            return  # forgotten before it was sent
        try:
            self._post(request_id, method, message)
        except PluginError as exc:
            self._fail(request_id, exc)
            if exc.code in FATAL:
                self._shut_down(exc)
        except httpx.HTTPError as exc:
            self._fail(request_id, self._transport_error(exc, method))
        except Exception as exc:
            logger.exception("remote %s: %s failed", self.label, method)
            text = self._remote.redact(str(exc))
            self._fail(request_id, RemoteServerError(f"{self._remote.who}: {method}: {text}"))

    def _post(self, request_id: int, method: str, message: dict[str, Any]) -> None:
        had_session = self.session_id is not None
        with self._client.stream(
            "POST", self.url, headers=self._headers_for("POST"), content=_encode(message)
        ) as response:
            self._check_session(response, method)
            if response.status_code >= 300:
                raise status_error(response, self._remote, method, had_session=had_session)
            kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
            if response.status_code == 200 and kind == JSON:
                self._settle(
                    request_id, method, read_json(response, self._max, self._remote, method)
                )
            elif response.status_code == 200 and kind == SSE:
                self._follow(request_id, method, response)
            else:
                said = body_excerpt(response, self._remote)
                raise PluginProtocolError(
                    f"{self._remote.who} answered {method} with HTTP {response.status_code} and "
                    f"Content-Type {kind or '(none)'}, not application/json or "
                    f"text/event-stream: is the url an MCP endpoint? It said: {said or '(nothing)'}"
                )

    def _settle(self, request_id: int, method: str, message: dict[str, Any]) -> None:
        if "method" in message or message.get("id") not in (request_id, None):
            raise PluginProtocolError(
                f"{self._remote.who} answered {method} with a JSON-RPC message that is not "
                "its response."
            )
        self._resolve({**message, "id": request_id})

    def _follow(self, request_id: int, method: str, response: httpx.Response) -> None:
        """Read the SSE answer; resume it with Last-Event-ID while it ends unanswered."""
        cursor = StreamCursor()
        why = self._drain(request_id, response, cursor, method)
        attempts = 0
        while why is not None and self._is_pending(request_id):
            if cursor.last_event_id is None:
                raise RemoteServerError(
                    f"{self._remote.who} closed the event stream before it answered {method} "
                    f"({why}), and sent no event id to resume from. See the server's logs (it "
                    "may have crashed or restarted); a resumable server (one with an event "
                    "store) would let the call go on."
                )
            if attempts >= self._resume_attempts:
                raise RemoteServerError(
                    f"{self._remote.who} dropped the event stream of {method} ({why}); gave up "
                    f"after {attempts} attempts to resume it with Last-Event-ID."
                )
            attempts += 1
            retry_ms = cursor.retry_ms if cursor.retry_ms is not None else self._default_retry_ms
            if self._stopping.wait(min(retry_ms, LONGEST_RETRY_MS) / 1000):
                return
            news = cursor.messages
            why = self._resume(request_id, method, cursor, why)
            attempts = 0 if cursor.messages > news else attempts

    def _resume(self, request_id: int, method: str, cursor: StreamCursor, why: str) -> str | None:
        headers = {**self._headers_for("GET"), "Last-Event-ID": str(cursor.last_event_id)}
        try:
            with self._client.stream("GET", self.url, headers=headers) as response:
                self._check_session(response, method)
                kind = response.headers.get("content-type", "").partition(";")[0].strip()
                if response.status_code == 404 and self.session_id is not None:
                    raise status_error(response, self._remote, method, had_session=True)
                if response.status_code >= 500:
                    return f"resuming it was answered HTTP {response.status_code}"
                if response.status_code != 200 or kind != SSE:
                    raise RemoteServerError(
                        f"{self._remote.who} dropped the event stream of {method} ({why}) and "
                        "could not resume it: GET with Last-Event-ID was answered HTTP "
                        f"{response.status_code} {response.reason_phrase}."
                    )
                return self._drain(request_id, response, cursor, method)
        except httpx.HTTPError as exc:
            return f"resuming it failed: {self._remote.redact(str(exc)) or type(exc).__name__}"

    def _drain(
        self, key: int | str, response: httpx.Response, cursor: StreamCursor, method: str
    ) -> str | None:
        """Dispatch a stream's messages; None once ``key``'s answer came (or nobody waits for
        it any more), else why the stream stopped without it."""
        with self._lock:
            forgotten = isinstance(key, int) and key not in self._pending
            self._answers[key] = response
        if forgotten:
            _abort(response)
        try:
            for message in read_events(response, self._max, cursor, self._remote, method):
                self._dispatch(message)
                if isinstance(key, int) and not self._is_pending(key):
                    return None
            return "the stream ended"
        except httpx.HTTPError as exc:
            return f"the stream broke: {self._remote.redact(str(exc)) or type(exc).__name__}"
        finally:
            with self._lock:
                if self._answers.get(key) is response:
                    del self._answers[key]

    # -- notifications, answers and the server's own stream -------------------------------

    def _notice_loop(self) -> None:
        while (message := self._notices.get()) is not None:
            try:
                self._deliver(message)
            finally:
                with self._order:
                    self._delivered += 1
                    self._order.notify_all()

    def _deliver(self, message: dict[str, Any]) -> None:
        what = str(message.get("method") or f"the answer to request {message.get('id')!r}")
        timeout = httpx.Timeout(self._notice_timeout_s, connect=self._connect_timeout_s)
        had_session = self.session_id is not None
        try:
            with self._client.stream(
                "POST",
                self.url,
                headers=self._headers_for("POST"),
                content=_encode(message),
                timeout=timeout,
            ) as response:
                self._check_session(response, what)
                if response.status_code >= 300:
                    raise status_error(response, self._remote, what, had_session=had_session)
        except PluginError as exc:
            self._failed_unasked(exc)
            return
        except httpx.HTTPError as exc:
            logger.warning("%s", self._transport_error(exc, what).user_message)
            return
        if what == "notifications/initialized" and self._listen:
            self._thread(self._listen_loop, "listen")

    def _listen_loop(self) -> None:
        """The GET stream for what the server sends unasked; 405 means it has none."""
        cursor = StreamCursor()
        attempts = 0
        while not self._stopping.is_set():
            news = cursor.messages
            why = self._listen_once(cursor)
            if why is None:
                return
            attempts = 0 if cursor.messages > news else attempts + 1
            if attempts > self._resume_attempts:
                logger.warning("%s: stopped listening for its messages (%s)", self._remote.who, why)
                return
            retry_ms = cursor.retry_ms if cursor.retry_ms is not None else self._default_retry_ms
            if self._stopping.wait(min(retry_ms, LONGEST_RETRY_MS) / 1000):
                return

    def _listen_once(self, cursor: StreamCursor) -> str | None:
        headers = self._headers_for("GET")
        if cursor.last_event_id is not None:
            headers["Last-Event-ID"] = cursor.last_event_id
        try:
            with self._client.stream("GET", self.url, headers=headers) as response:
                self._check_session(response, "its GET stream")
                if response.status_code == 405:
                    return None  # the server sends nothing unasked
                kind = response.headers.get("content-type", "").partition(";")[0].strip()
                if response.status_code != 200 or kind != SSE:
                    raise status_error(response, self._remote, "GET", had_session=True)
                return self._drain("listen", response, cursor, "its GET stream")
        except PluginError as exc:
            self._failed_unasked(exc)
            return None
        except httpx.HTTPError as exc:
            return f"the stream broke: {self._remote.redact(str(exc)) or type(exc).__name__}"

    def _failed_unasked(self, error: PluginError) -> None:
        """A failure with no call to fail: it closes the connection if fatal, else is logged."""
        if error.code in FATAL:
            self._shut_down(error)
        else:
            logger.warning("%s", error.user_message)

    def _check_session(self, response: httpx.Response, method: str) -> None:
        sent = response.headers.get("mcp-session-id")
        if sent is None or sent == self.session_id:
            return
        if method == "initialize" and self.session_id is None:
            self.session_id = sent
            return
        raise PluginProtocolError(
            f"{self._remote.who} changed its Mcp-Session-Id in the middle of the session (in "
            f"its answer to {method}); refused as a protocol error, since a session id is "
            "fixed at initialize. The connection is closed; start the server's session again.",
            code="plugin.session_changed",
        )

    # -- receiving -------------------------------------------------------------------------

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" not in message:
            self._resolve(message)
            return
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        if "id" in message:
            self._thread(self._serve, "request", message["id"], str(message["method"]), params)
            return
        try:
            self._on_notification(str(message["method"]), params)
        except Exception:
            logger.exception("remote %s: notification %s failed", self.label, message["method"])

    def _serve(self, request_id: Any, method: str, params: dict[str, Any]) -> None:
        """Answer the server's request (handlers may call back into it), POSTed in order."""
        answer: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
        try:
            answer["result"] = self._on_request(method, params)
        except RpcError as exc:
            answer["error"] = _rpc_error(exc)
        except Exception as exc:
            logger.exception("remote %s: handling %s failed", self.label, method)
            answer["error"] = _rpc_error(RpcError(INTERNAL_ERROR, f"{method} failed: {exc}"))
        self._queue_notice(answer)

    def _resolve(self, message: dict[str, Any]) -> None:
        with self._lock:
            future = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
        if future is None:
            return  # an answer to a call that was forgotten
        error = message.get("error")
        if isinstance(error, dict):
            code = error.get("code", INTERNAL_ERROR)
            text = self._remote.redact(str(error.get("message", "")))
            future.set_exception(RpcError(code if isinstance(code, int) else INTERNAL_ERROR, text))
        else:
            future.set_result(message.get("result"))

    def _fail(self, request_id: int, error: Exception) -> None:
        with self._lock:
            future = self._pending.pop(request_id, None)
        if future is not None and not future.done():
            future.set_exception(error)

    def _is_pending(self, request_id: int) -> bool:
        with self._lock:
            return request_id in self._pending

    def _transport_error(self, exc: httpx.HTTPError, method: str) -> PluginError:
        who, detail = self._remote.who, self._remote.redact(str(exc)) or type(exc).__name__
        if isinstance(exc, httpx.ConnectTimeout):
            return RemoteUnreachableError(
                f"{who} accepted no connection within {self._connect_timeout_s:g} s for "
                f"{method}. Check that it is up and reachable from here (a firewall or proxy "
                "may be dropping the connection)."
            )
        if isinstance(exc, httpx.ConnectError):
            if "refused" in detail.lower():
                detail = "connection refused"
            return RemoteUnreachableError(
                f"{who} is not reachable for {method} ({detail}): is the server running, and "
                "is url under [[plugins.mcp]] right?"
            )
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            return RemoteServerError(f"{who}: url is not an http(s) URL ({detail}).")
        return RemoteServerError(
            f"{who} closed the connection without answering {method} ({detail}); see its logs."
        )

    # -- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        """End the session: DELETE it (best effort), then fail what is pending."""
        session = self.session_id
        if self._shut_down(None, before_failing=lambda: self._delete(session)):
            self._client.close()

    def _delete(self, session: str | None) -> None:
        if session is None:
            return
        with contextlib.suppress(httpx.HTTPError):
            self._client.delete(self.url, headers=self._headers_for("DELETE"), timeout=5.0)

    def _shut_down(
        self, error: PluginError | None, before_failing: Callable[[], None] | None = None
    ) -> bool:
        with self._lock:
            if self._closed:
                return False
            self._closed = True
            self.close_error = error
            self.close_reason = error.user_message if error is not None else None
            pending, self._pending = self._pending, {}
            answers, self._answers = self._answers, {}
            self._order.notify_all()
        self._stopping.set()
        self._notices.put(None)
        for answer in answers.values():
            _abort(answer)
        if before_failing is not None:
            before_failing()
        for future in pending.values():
            if not future.done():
                future.set_exception(ConnectionError(self._closed_text()))
        self._on_closed(self.close_reason)
        return True

    def _closed_text(self) -> str:
        return self.close_reason or f"the connection to {self._remote.who} is closed"

    def _thread(self, target: Callable[..., None], role: str, *args: Any) -> None:
        name = f"mcp-http-{self.label}-{role}"
        threading.Thread(target=target, args=args, name=name, daemon=True).start()


def _encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def _rpc_error(error: RpcError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.data is not None:
        body["data"] = error.data
    return body


def _abort(response: httpx.Response) -> None:
    """Stop a blocking read on another thread: closing the response would not wake it."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
