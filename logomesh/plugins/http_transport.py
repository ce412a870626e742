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
  ``ConnectionError`` once the connection is closed (``close_reason``, a whole sentence,
  says why; None after ``close``).
- The ``Mcp-Session-Id`` of the initialize answer is sent on every later request, with
  ``MCP-Protocol-Version`` once the caller sets ``protocol_version``. A 404 for the session
  (``RemoteSessionExpiredError``, code ``plugin.session_expired``) or a changed session id
  (``PluginProtocolError``, code ``plugin.session_changed``) closes the connection and is
  kept in ``close_error``: one HttpConnection is one session; start a new one to go on.
- An SSE answer may carry the server's requests (answered from ``on_request`` on a thread;
  an ``RpcError`` it raises becomes an error answer) and notifications. If it ends or breaks
  before the answer came, it is resumed with GET and ``Last-Event-ID`` after the server's
  ``retry`` (``resume_attempts`` times in a row without news), else the call fails saying so.
  Once ``notifications/initialized`` is delivered, the GET stream for what the server sends
  unasked is opened (``listen=False``: never; a 405 answer means the server has none).
- A message over ``max_message_bytes`` fails its call; reading stops at the limit.
- Header values (secrets from the environment) never appear in a message, a log line or a
  close reason (``http_failures.Remote.redact``); nor does the session id.
- ``forget`` aborts the call's streamed answer (its socket is shut down) once it has begun;
  ``close`` sends DELETE with the session id (best effort), fails what is pending with
  ``ConnectionError`` and calls ``on_closed(None)``.
"""

from __future__ import annotations

import logging
import queue
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
    rpc_answer,
    rpc_message,
    settle,
)
from logomesh.plugins.http_answers import StreamCursor, read_events, read_json
from logomesh.plugins.http_failures import (
    Remote,
    dropped_without_id,
    gave_up_resuming,
    not_an_answer,
    not_resumed,
    status_error,
)
from logomesh.plugins.http_session import JSON, SSE, HttpSession

logger = logging.getLogger(__name__)

FATAL = frozenset({"plugin.session_expired", "plugin.session_changed"})
LONGEST_RETRY_MS = 60_000  # a server's `retry` is obeyed up to this
LISTEN = "listen"  # the key of the GET stream among the answers being read


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
        self.label = label
        self._remote = Remote.of(label, url, headers, connect_timeout_s)
        self.url = self._remote.url  # as shown: the one given may hold a secret in its query
        self._http = HttpSession(url, headers, self._remote)
        self._max = max_message_bytes
        self._on_request = on_request
        self._on_notification = on_notification
        self._on_closed = on_closed
        self._notice_timeout_s = notice_timeout_s
        self._resume_attempts = resume_attempts
        self._default_retry_ms = default_retry_ms
        self._listen = listen
        self.close_reason: str | None = None
        self.close_error: PluginError | None = None
        self._pending: dict[int, Future[Any]] = {}
        self._next_id = 0
        self._lock = threading.Lock()
        self._order = threading.Condition(self._lock)
        self._queued = self._delivered = 0  # notifications and answers, sent in order
        self._notices: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._closed = False

    def start(self) -> None:
        self._thread(self._notice_loop, "notices")

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def session_id(self) -> str | None:
        return self._http.session_id

    @property
    def protocol_version(self) -> str | None:
        return self._http.protocol_version

    @protocol_version.setter
    def protocol_version(self, version: str | None) -> None:
        self._http.protocol_version = version

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
        message = rpc_message(method, params, request_id)
        self._thread(self._exchange, "call", method, request_id, message, after)
        return request_id, future

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        self._queue_notice(rpc_message(method, params))

    def forget(self, request_id: int) -> None:
        with self._lock:
            self._pending.pop(request_id, None)
        self._http.abort(request_id)

    def _queue_notice(self, message: dict[str, Any]) -> None:
        with self._lock:
            if self._closed:
                return
            self._queued += 1
        self._notices.put(message)

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
        except Exception as exc:
            if not self._closed:
                logger.exception("remote %s: %s failed", self.label, method)
            text = f"{self._remote.who}: {method} failed: {self._remote.detail(exc)}"
            self._fail(request_id, RemoteServerError(text))

    def _post(self, request_id: int, method: str, message: dict[str, Any]) -> None:
        with self._http.open("POST", method, message) as response:
            if response.status_code >= 300:
                raise status_error(response, self._remote, method)
            kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
            if response.status_code == 200 and kind == JSON:
                answer = read_json(response, self._max, self._remote, method)
                if "method" in answer or answer.get("id") not in (request_id, None):
                    raise PluginProtocolError(
                        f"{self._remote.who} answered {method} with a JSON-RPC message that "
                        "is not its response."
                    )
                self._resolve({**answer, "id": request_id})
            elif response.status_code == 200 and kind == SSE:
                self._follow(request_id, method, response)
            else:
                raise not_an_answer(response, self._remote, method)

    def _follow(self, request_id: int, method: str, response: httpx.Response) -> None:
        """Read the SSE answer; resume it with Last-Event-ID while it ends unanswered."""
        cursor = StreamCursor()
        why = self._drain(request_id, response, cursor, method)
        attempts = 0
        while why is not None and self._is_pending(request_id):
            if cursor.last_event_id is None:
                raise dropped_without_id(self._remote, method, why)
            if attempts >= self._resume_attempts:
                raise gave_up_resuming(self._remote, method, why, attempts)
            attempts += 1
            if self._stopping.wait(self._retry_s(cursor)):
                return
            news = cursor.messages
            why = self._resume(request_id, method, cursor, why)
            attempts = 0 if cursor.messages > news else attempts

    def _resume(self, request_id: int, method: str, cursor: StreamCursor, why: str) -> str | None:
        try:
            with self._http.open("GET", method, last_event_id=cursor.last_event_id) as response:
                kind = response.headers.get("content-type", "").partition(";")[0].strip()
                if response.status_code == 404 and self.session_id is not None:
                    raise status_error(response, self._remote, method)  # the session ended
                if response.status_code >= 500:
                    return f"resuming it was answered HTTP {response.status_code}"
                if response.status_code != 200 or kind != SSE:
                    raise not_resumed(response, self._remote, method, why)
                return self._drain(request_id, response, cursor, method)
        except RemoteUnreachableError as exc:  # it may be restarting: try again
            return f"resuming it failed: {exc.user_message}"

    def _drain(
        self, key: int | str, response: httpx.Response, cursor: StreamCursor, method: str
    ) -> str | None:
        """Dispatch a stream's messages; None once ``key``'s answer came (or nobody waits for
        it any more), else why the stream stopped without it."""
        self._http.reading(key, response)
        if isinstance(key, int) and not self._is_pending(key):
            self._http.abort(key)  # forgotten while its answer began
        try:
            for message in read_events(response, self._max, cursor, self._remote, method):
                self._dispatch(message)
                if isinstance(key, int) and not self._is_pending(key):
                    return None
            return "the stream ended"
        except httpx.HTTPError as exc:
            return f"the stream broke: {self._remote.detail(exc)}"
        finally:
            self._http.done_reading(key, response)

    def _retry_s(self, cursor: StreamCursor) -> float:
        retry_ms = cursor.retry_ms if cursor.retry_ms is not None else self._default_retry_ms
        return min(retry_ms, LONGEST_RETRY_MS) / 1000

    # -- notifications, answers and the server's own stream -------------------------------

    def _notice_loop(self) -> None:
        while (message := self._notices.get()) is not None:
            try:
                self._deliver(message)
            except Exception:  # one lost notice must not stop the ones after it
                if not self._closed:
                    logger.exception("remote %s: a notice was not delivered", self.label)
            finally:
                with self._order:
                    self._delivered += 1
                    self._order.notify_all()

    def _deliver(self, message: dict[str, Any]) -> None:
        what = str(message.get("method") or f"the answer to request {message.get('id')!r}")
        try:
            with self._http.open("POST", what, message, timeout=self._notice_timeout_s) as answer:
                if answer.status_code >= 300:
                    raise status_error(answer, self._remote, what)
        except PluginError as exc:
            self._failed_unasked(exc)
            return
        if what == "notifications/initialized" and self._listen:
            self._thread(self._listen_loop, LISTEN)

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
            if self._stopping.wait(self._retry_s(cursor)):
                return

    def _listen_once(self, cursor: StreamCursor) -> str | None:
        what = "its GET stream"
        try:
            with self._http.open("GET", what, last_event_id=cursor.last_event_id) as response:
                sessionless = "mcp-session-id" not in response.request.headers
                if response.status_code == 405 or (response.status_code == 404 and sessionless):
                    return None  # the server sends nothing unasked (some say so with a 404)
                kind = response.headers.get("content-type", "").partition(";")[0].strip()
                if response.status_code != 200 or kind != SSE:
                    raise status_error(response, self._remote, what)
                return self._drain(LISTEN, response, cursor, what)
        except PluginError as exc:
            if isinstance(exc, RemoteUnreachableError):
                return exc.user_message
            self._failed_unasked(exc)
            return None

    def _failed_unasked(self, error: PluginError) -> None:
        """A failure with no call to fail: it closes the connection if fatal, else is logged."""
        if error.code in FATAL:
            self._shut_down(error)
        else:
            logger.warning("%s", error.user_message)

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
        try:
            answer = rpc_answer(request_id, self._on_request(method, params))
        except RpcError as exc:
            answer = rpc_answer(request_id, error=exc)
        except Exception as exc:
            logger.exception("remote %s: handling %s failed", self.label, method)
            answer = rpc_answer(
                request_id, error=RpcError(INTERNAL_ERROR, f"{method} failed: {exc}")
            )
        self._queue_notice(answer)

    def _resolve(self, message: dict[str, Any]) -> None:
        with self._lock:
            future = self._pending.pop(message.get("id"), None)  # type: ignore[arg-type]
        if future is None:
            return  # an answer to a call that was forgotten
        settle(future, message, self._remote.redact)

    def _fail(self, request_id: int, error: Exception) -> None:
        with self._lock:
            future = self._pending.pop(request_id, None)
        if future is not None and not future.done():
            future.set_exception(error)

    def _is_pending(self, request_id: int) -> bool:
        with self._lock:
            return request_id in self._pending

    # -- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        """End the session: DELETE it (best effort), then fail what is pending."""
        self._shut_down(None)

    def _shut_down(self, error: PluginError | None) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self.close_error = error
            self.close_reason = error.user_message if error is not None else None
            pending, self._pending = self._pending, {}
            self._order.notify_all()
        self._stopping.set()
        self._notices.put(None)
        self._http.close(delete=error is None)  # a dead or untrusted session is not ended
        for future in pending.values():
            if not future.done():
                future.set_exception(ConnectionError(self._closed_text()))
        self._on_closed(self.close_reason)

    def _closed_text(self) -> str:
        return self.close_reason or f"the connection to {self._remote.who} is closed"

    def _thread(self, target: Callable[..., None], role: str, *args: Any) -> None:
        def run() -> None:
            try:
                target(*args)
            except Exception:  # after close, the client refuses to send: that is no fault
                if not self._closed:
                    logger.exception("remote %s: its %s thread failed", self.label, role)

        name = f"mcp-http-{self.label}-{role}"
        threading.Thread(target=run, name=name, daemon=True).start()
