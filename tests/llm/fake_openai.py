"""A loopback stand-in for an OpenAI-compatible server; real OpenAI cannot be reached from tests.

LogoMesh's LLM registry talks to OpenAI-compatible HTTP APIs. Its tests must never reach a
cloud service, so this module runs a small HTTP server on 127.0.0.1 (standard library only)
that speaks the subset of the OpenAI API the registry uses:

* ``GET  /v1/models``
* ``POST /v1/chat/completions`` (plain, and ``"stream": true`` with or without
  ``stream_options.include_usage``)
* ``POST /v1/completions`` (legacy completions, plain and streaming)

Calls to the two generation endpoints can be scripted to fail in specific ways (see
:class:`Fault`), so retries, fallbacks and the handling of malformed answers can be tested
deterministically::

    with FakeOpenAIServer(reply="hi there") as server:
        server.script(Fault("status", status=429, retry_after="0"), Fault("ok"))
        client = OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        ...

Streams are sent with ``Transfer-Encoding: chunked`` and ``Connection: close``: a chunked body
has an explicit end, so a connection closed mid-stream (``close_mid_stream``) is an error the
client sees (``httpx.RemoteProtocolError``, ``http.client.IncompleteRead``), not a short but
apparently complete answer. Every response closes its connection, so no idle keep-alive
connection outlives the server.
"""

from __future__ import annotations

import json
import re
import socketserver
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Literal, cast, get_args
from urllib.parse import urlsplit

__all__ = ["FakeOpenAIServer", "Fault", "FaultKind"]

FaultKind = Literal[
    "ok",
    "status",
    "slow",
    "malformed_json",
    "missing_choices",
    "close_mid_stream",
    "close_before_headers",
]
_FAULT_KINDS: Final[frozenset[str]] = frozenset(get_args(FaultKind))

CHAT_PATH: Final = "/v1/chat/completions"
COMPLETIONS_PATH: Final = "/v1/completions"
MODELS_PATH: Final = "/v1/models"

#: The body sent for ``malformed_json``: JSON cut off in the middle.
MALFORMED_JSON: Final = '{"id": "x", "choices": ['

# status -> (error type, error code), as the real API reports them.
_ERROR_KINDS: Final[dict[int, tuple[str, str | None]]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "not_found"),
    408: ("timeout", None),
    409: ("conflict", None),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", "bad_gateway"),
    503: ("server_error", "service_unavailable"),
    504: ("server_error", "gateway_timeout"),
}

_POLL_INTERVAL_S: Final = 0.05


@dataclass
class Fault:
    """How the server answers one call to a generation endpoint.

    * ``ok``: a normal answer.
    * ``status``: HTTP ``status`` with ``body`` (default: an OpenAI-style error JSON) and,
      if ``retry_after`` is set, a ``Retry-After`` header.
    * ``slow``: wait ``delay_s`` seconds, then a normal answer (the wait ends early, without an
      answer, when the server shuts down).
    * ``malformed_json``: 200 ``application/json`` whose body is truncated JSON; for a stream,
      one SSE event whose data is that truncated JSON, then ``[DONE]``.
    * ``missing_choices``: 200 with valid JSON lacking ``choices``; for a stream, one SSE event
      whose JSON lacks ``choices``, then ``[DONE]``.
    * ``close_mid_stream``: for a stream, the first chunks (chat: the role chunk and two word
      chunks; legacy completions: two word chunks) and then the connection closes without
      ``[DONE]`` or the end of the chunked body; otherwise the headers with the full
      ``Content-Length``, half of the body, and then the connection closes.
    * ``close_before_headers``: the connection closes without any response.
    """

    kind: FaultKind
    status: int = 200
    retry_after: str | None = None
    delay_s: float = 0.0
    body: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {_FAULT_KINDS}")
        if not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status code, got {self.status}")
        if self.delay_s < 0:
            raise ValueError(f"delay_s must be >= 0, got {self.delay_s}")


_OK: Final = Fault("ok")


def split_reply(text: str) -> list[str]:
    """Split ``text`` into stream pieces, one per word, whose concatenation is ``text``.

    Each piece carries the whitespace before its word (like real tokens: ``"Hello"``,
    ``" world"``); whitespace after the last word joins the last piece.
    """
    pieces: list[str] = re.findall(r"\s*\S+", text)
    rest = text[sum(map(len, pieces)) :]
    if rest:
        if pieces:
            pieces[-1] += rest
        else:
            pieces.append(rest)
    return pieces


def count_words(value: object) -> int:
    """Whitespace-separated words in a prompt or message content (str, parts or lists)."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, int) and not isinstance(value, bool):
        return 1  # a token id in a legacy ``prompt`` list
    if isinstance(value, list):
        return sum(count_words(item) for item in value)
    if isinstance(value, dict):
        text = value.get("text")
        return count_words(text) if isinstance(text, str) else 0
    return 0


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: FakeOpenAIServer) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (socket.getfqdn), which can be slow.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout, closed socket) is expected in these tests.
        if isinstance(sys.exc_info()[1], ConnectionError) or self.fake.stopping.is_set():
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"
    sys_version = ""

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def fake(self) -> FakeOpenAIServer:
        return cast(_HTTPServer, self.server).fake

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _route(self) -> str:
        path = urlsplit(self.path).path
        return path.rstrip("/") or "/"

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send_bytes(
        self,
        status: int,
        raw: bytes,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(raw)
        self.wfile.flush()

    def _send_json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), headers=headers)

    def _send_error_json(
        self,
        status: int,
        message: str | None = None,
        *,
        body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if body is not None:
            try:
                json.loads(body)
                content_type = "application/json"
            except ValueError:
                content_type = "text/plain; charset=utf-8"
            self._send_bytes(status, body.encode(), content_type=content_type, headers=headers)
            return
        error_type, code = _ERROR_KINDS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None)
        )
        if message is None:
            try:
                phrase = HTTPStatus(status).phrase
            except ValueError:
                phrase = "Error"
            message = f"Scripted error from the fake OpenAI server: {status} {phrase}"
        error = {"message": message, "type": error_type, "param": None, "code": code}
        self._send_json(status, {"error": error}, headers)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()

    def _send_event(self, data: str) -> None:
        raw = f"data: {data}\n\n".encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(raw), raw))
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _abort(self) -> None:
        """Close the connection as it stands (the server closes the socket after return)."""
        self.wfile.flush()
        self.close_connection = True

    # -- endpoints --------------------------------------------------------------------------

    def do_GET(self) -> None:
        self.close_connection = True
        if self._route() == MODELS_PATH:
            model = {"id": self.fake.model, "object": "model", "created": 0, "owned_by": "fake"}
            self._send_json(200, {"object": "list", "data": [model]})
        else:
            self._not_found()

    def do_POST(self) -> None:
        self.close_connection = True
        route = self._route()
        raw = self._read_body()
        if route not in (CHAT_PATH, COMPLETIONS_PATH):
            self._not_found()
            return
        number, fault, payload = self.fake.record(raw, self.headers.get("Authorization"))
        self.fake.entered()
        try:
            self._generate(route == CHAT_PATH, number, fault, payload)
        finally:
            self.fake.left()

    def _not_found(self) -> None:
        self._send_error_json(
            404, f"Unknown request URL: {self.command} {urlsplit(self.path).path}"
        )

    def _generate(
        self, chat: bool, number: int, fault: Fault, payload: dict[str, Any] | None
    ) -> None:
        if fault.kind == "close_before_headers":
            self._abort()
            return
        if fault.kind == "slow" and self.fake.stopping.wait(fault.delay_s):
            self._abort()  # the server is shutting down
            return
        if fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
            self._send_error_json(fault.status, body=fault.body, headers=headers)
            return
        if payload is None:
            self._send_error_json(400, "We could not parse the JSON body of your request.")
            return

        reply = self.fake.reply
        model = payload.get("model")
        model = model if isinstance(model, str) and model else self.fake.model
        if chat:
            messages = payload.get("messages")
            contents = (
                [m.get("content") for m in messages if isinstance(m, dict)]
                if isinstance(messages, list)
                else []
            )
            prompt_tokens = count_words(contents)
        else:
            prompt_tokens = count_words(payload.get("prompt"))
        completion_tokens = len(reply.split())
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        base: dict[str, Any] = {
            "id": f"{'chatcmpl' if chat else 'cmpl'}-fake{number}",
            "created": int(time.time()),
            "model": model,
        }

        if payload.get("stream") is True:
            options = payload.get("stream_options")
            include_usage = isinstance(options, dict) and options.get("include_usage") is True
            self._stream(chat, fault, base, reply, usage, include_usage)
            return

        obj = "chat.completion" if chat else "text_completion"
        if fault.kind == "malformed_json":
            self._send_bytes(200, MALFORMED_JSON.encode())
            return
        if fault.kind == "missing_choices":
            self._send_json(200, {**base, "object": obj, "usage": usage})
            return
        choice: dict[str, Any]
        if chat:
            message = {"role": "assistant", "content": reply, "refusal": None}
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
        else:
            choice = {"text": reply, "index": 0, "logprobs": None, "finish_reason": "stop"}
        completion = {**base, "object": obj, "choices": [choice], "usage": usage}
        if fault.kind == "close_mid_stream":
            raw = json.dumps(completion).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(raw[: len(raw) // 2])
            self._abort()
            return
        self._send_json(200, completion)

    def _stream(
        self,
        chat: bool,
        fault: Fault,
        base: dict[str, Any],
        reply: str,
        usage: dict[str, int],
        include_usage: bool,
    ) -> None:
        obj = "chat.completion.chunk" if chat else "text_completion"
        extra: dict[str, Any] = {"usage": None} if include_usage else {}

        def chunk(choices: list[dict[str, Any]]) -> str:
            return json.dumps({**base, "object": obj, "choices": choices, **extra})

        def choice(text: str, finish_reason: str | None, *, role: bool = False) -> dict[str, Any]:
            if chat:
                delta: dict[str, Any] = {}
                if role:
                    delta["role"] = "assistant"
                if text or role:
                    delta["content"] = text
                return {
                    "index": 0,
                    "delta": delta,
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            return {"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}

        head = [chunk([choice("", None, role=True)])] if chat else []
        words = [chunk([choice(piece, None)]) for piece in split_reply(reply)]
        tail = [chunk([choice("", "stop")])]
        if include_usage:
            tail.append(json.dumps({**base, "object": obj, "choices": [], "usage": usage}))

        self._start_stream()
        if fault.kind == "malformed_json":
            self._send_event(MALFORMED_JSON)
        elif fault.kind == "missing_choices":
            self._send_event(json.dumps({**base, "object": obj, "usage": usage}))
        elif fault.kind == "close_mid_stream":
            for event in [*head, *words[:2]]:
                self._send_event(event)
            self._abort()
            return
        else:
            for event in [*head, *words, *tail]:
                self._send_event(event)
        self._send_event("[DONE]")
        self._end_stream()


class FakeOpenAIServer:
    """An OpenAI-compatible HTTP server on 127.0.0.1 with scripted faults.

    Use it as a context manager; ``base_url`` (``http://127.0.0.1:<port>/v1``) is what an
    OpenAI client takes as its base URL. ``reply`` and ``model`` may be changed at any time.
    """

    def __init__(
        self, reply: str = "Hello from the fake server.", model: str = "fake-model"
    ) -> None:
        self.reply: str = reply
        self.model: str = model
        #: JSON bodies received at generation endpoints, each with the Authorization header
        #: under ``"_authorization"`` (a body that is not a JSON object is kept as ``"_raw"``).
        self.requests: list[dict[str, Any]] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._calls = 0
        self._in_flight = 0
        self._max_in_flight = 0
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> FakeOpenAIServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._httpd is not None:
            raise RuntimeError("the fake OpenAI server is already running")
        self.stopping.clear()
        httpd = _HTTPServer(self)
        thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL_S},
            name=f"fake-openai-{httpd.server_port}",
            daemon=True,
        )
        thread.start()
        self._httpd, self._thread = httpd, thread

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self.stopping.set()  # wakes "slow" requests, which then close without answering
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
        self._httpd = self._thread = None

    # -- addresses --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the fake OpenAI server is not running (use it in a with block)")
        return self._httpd.server_port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting and observation ----------------------------------------------------------

    def script(self, *faults: Fault) -> None:
        """Queue faults for the next generation calls, in order (after any still queued).

        Once the queue is empty, calls answer normally.
        """
        for fault in faults:
            if not isinstance(fault, Fault):
                raise TypeError(f"script() takes Fault objects, got {fault!r}")
        with self._lock:
            self._faults.extend(faults)

    @property
    def pending_faults(self) -> int:
        """How many scripted faults have not been consumed yet."""
        with self._lock:
            return len(self._faults)

    @property
    def calls(self) -> int:
        """Number of requests received at the generation endpoints."""
        with self._lock:
            return self._calls

    @property
    def in_flight(self) -> int:
        """Generation requests being answered right now."""
        with self._lock:
            return self._in_flight

    @property
    def max_in_flight(self) -> int:
        """The most generation requests ever answered at the same time."""
        with self._lock:
            return self._max_in_flight

    def entered(self) -> None:
        """A handler starts answering a generation request (see ``max_in_flight``)."""
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def left(self) -> None:
        """A handler is done with a generation request (answered, failed or aborted)."""
        with self._lock:
            self._in_flight -= 1

    def record(
        self, raw: bytes, authorization: str | None
    ) -> tuple[int, Fault, dict[str, Any] | None]:
        """Count one generation request; return its number, its fault and its JSON body."""
        payload: dict[str, Any] | None
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        payload = parsed if isinstance(parsed, dict) else None
        entry: dict[str, Any] = (
            dict(payload) if payload is not None else {"_raw": raw.decode("utf-8", "replace")}
        )
        entry["_authorization"] = authorization
        with self._lock:
            self._calls += 1
            self.requests.append(entry)
            fault = self._faults.popleft() if self._faults else _OK
            return self._calls, fault, payload
