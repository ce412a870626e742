"""A loopback stand-in for an Ollama server; a real Ollama cannot be reached from tests.

LogoMesh's ``ollama`` provider drives Ollama's native API through llama-index's ``Ollama``
class, which uses the ``ollama`` Python client over httpx. Tests must not depend on an
Ollama daemon (or a model pulled into it), so this module runs a small HTTP server on
127.0.0.1 (standard library only) that speaks the subset of that API the client uses:

* ``GET  /`` (``Ollama is running``) and ``GET /api/version``
* ``GET  /api/tags`` (the models "pulled") and ``GET /api/ps`` (none loaded)
* ``POST /api/show`` (details and ``model_info``, whose ``<arch>.context_length`` llama-index
  reads when no context window is configured)
* ``POST /api/chat``: streamed as NDJSON (one JSON object a line, the default, as in Ollama)
  or, with ``"stream": false``, one JSON object. The last line of a stream (or the single
  object) has ``"done": true``, ``done_reason``, ``prompt_eval_count``, ``eval_count`` and
  the durations in nanoseconds.

A chat request for a model the server does not have answers 404 with Ollama's own error
(``{"error": "model \\"x\\" not found, try pulling it first"}``), and ``options.num_predict``
cuts the answer short with ``done_reason: "length"``. Calls to ``/api/chat`` can be scripted
to fail in specific ways (see :class:`Fault`)::

    with FakeOllamaServer(reply="hi there") as server:
        server.script(Fault("status", status=500), Fault("ok"))
        client = ollama.Client(host=server.base_url)
        ...

Streams are sent with ``Transfer-Encoding: chunked`` and ``Connection: close``, so a
connection closed mid-stream (``close_mid_stream``) is an error the client sees
(``httpx.RemoteProtocolError``), not a short but apparently complete answer.
"""

from __future__ import annotations

import json
import re
import socketserver
import sys
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Literal, cast, get_args
from urllib.parse import urlsplit

__all__ = ["FakeOllamaServer", "Fault", "FaultKind", "split_reply"]

FaultKind = Literal[
    "ok",
    "status",
    "slow",
    "malformed_json",
    "error_mid_stream",
    "close_mid_stream",
    "close_before_headers",
]
_FAULT_KINDS: Final[frozenset[str]] = frozenset(get_args(FaultKind))

CHAT_PATH: Final = "/api/chat"
SHOW_PATH: Final = "/api/show"
TAGS_PATH: Final = "/api/tags"
PS_PATH: Final = "/api/ps"
VERSION_PATH: Final = "/api/version"

VERSION: Final = "0.0.0-fake"
#: The body sent for ``malformed_json``: JSON cut off in the middle.
MALFORMED_JSON: Final = '{"model": "x", "message": {'
#: The ``error`` line of ``error_mid_stream``, as Ollama sends when its runner dies.
MID_STREAM_ERROR: Final = "llama runner process has terminated: exit status 2"
#: Chunks sent before ``close_mid_stream`` and ``error_mid_stream`` break off.
CHUNKS_BEFORE_FAULT: Final = 2

# Ollama's messages for the statuses it sends (``model`` is filled in where it appears).
_ERROR_MESSAGES: Final[dict[int, str]] = {
    400: "invalid request",
    404: 'model "{model}" not found, try pulling it first',
    500: "llama runner process has terminated: signal: killed",
    503: "server busy, please try again.  maximum pending requests exceeded",
}

_POLL_INTERVAL_S: Final = 0.05
# Durations reported in nanoseconds: plausible, fixed, so records are repeatable.
_LOAD_NS: Final = 1_000_000
_NS_PER_TOKEN: Final = 2_000_000


@dataclass
class Fault:
    """How the server answers one call to ``/api/chat``.

    * ``ok``: a normal answer.
    * ``status``: HTTP ``status`` with ``body`` (default: Ollama's ``{"error": "..."}``).
    * ``slow``: wait ``delay_s`` seconds, then a normal answer (the wait ends early, without an
      answer, when the server shuts down).
    * ``malformed_json``: 200 whose body (or first NDJSON line) is truncated JSON.
    * ``error_mid_stream``: for a stream, the first chunks and then an ``{"error": ...}``
      line (what Ollama sends when generation fails after it started); otherwise 500.
    * ``close_mid_stream``: for a stream, the first chunks and then the connection closes
      without the ``done`` line or the end of the chunked body; otherwise the headers with the
      full ``Content-Length``, half of the body, and then the connection closes.
    * ``close_before_headers``: the connection closes without any response.
    """

    kind: FaultKind
    status: int = 200
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


def count_words(messages: object) -> int:
    """Whitespace-separated words in the ``content`` of a list of chat messages."""
    if not isinstance(messages, list):
        return 0
    return sum(
        len(message["content"].split())
        for message in messages
        if isinstance(message, dict) and isinstance(message.get("content"), str)
    )


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _base_name(model: str) -> str:
    """``llama3.2`` for ``llama3.2:latest``: Ollama treats the two as one model."""
    return model.removesuffix(":latest")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: FakeOllamaServer) -> None:
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
    server_version = "FakeOllama/1.0"
    sys_version = ""

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def fake(self) -> FakeOllamaServer:
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
        self, status: int, raw: bytes, *, content_type: str = "application/json; charset=utf-8"
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(raw)
        self.wfile.flush()

    def _send_json(self, status: int, payload: dict[str, Any]) -> None:
        self._send_bytes(status, json.dumps(payload).encode())

    def _send_error_json(
        self, status: int, message: str | None = None, *, body: str | None = None
    ) -> None:
        """An Ollama error: ``{"error": "<message>"}`` (or ``body`` exactly, if given)."""
        if body is not None:
            try:
                json.loads(body)
                content_type = "application/json; charset=utf-8"
            except ValueError:
                content_type = "text/plain; charset=utf-8"
            self._send_bytes(status, body.encode(), content_type=content_type)
            return
        if message is None:
            try:
                phrase = HTTPStatus(status).phrase
            except ValueError:
                phrase = "Error"
            message = f"scripted error from the fake Ollama server: {status} {phrase}"
        self._send_json(status, {"error": message})

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()

    def _send_line(self, line: str) -> None:
        raw = f"{line}\n".encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(raw), raw))
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _abort(self) -> None:
        """Close the connection as it stands (the server closes the socket after return)."""
        self.wfile.flush()
        self.close_connection = True

    def _json_body(self) -> dict[str, Any] | None:
        raw = self._read_body()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None

    # -- endpoints --------------------------------------------------------------------------

    def do_GET(self) -> None:
        self.close_connection = True
        route = self._route()
        if route == "/":
            self._send_bytes(200, b"Ollama is running", content_type="text/plain; charset=utf-8")
        elif route == VERSION_PATH:
            self._send_json(200, {"version": VERSION})
        elif route == TAGS_PATH:
            self._send_json(200, {"models": [self.fake.tag(name) for name in self.fake.models]})
        elif route == PS_PATH:
            self._send_json(200, {"models": []})
        else:
            self._not_found()

    def do_HEAD(self) -> None:
        self.close_connection = True
        if self._route() == "/":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", "17")
            self.send_header("Connection", "close")
            self.end_headers()
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.send_header("Connection", "close")
            self.end_headers()

    def do_POST(self) -> None:
        self.close_connection = True
        route = self._route()
        if route == SHOW_PATH:
            self._show(self._json_body())
        elif route == CHAT_PATH:
            raw = self._read_body()
            number, fault, payload = self.fake.record(raw)
            self._chat(number, fault, payload)
        else:
            self._read_body()
            self._not_found()

    def _not_found(self) -> None:
        # Ollama's router answers unknown paths with a plain-text 404.
        self._send_bytes(404, b"404 page not found", content_type="text/plain")

    def _show(self, payload: dict[str, Any] | None) -> None:
        name = (payload.get("model") or payload.get("name")) if payload else None
        if not isinstance(name, str) or not name:
            self._send_error_json(400, "model is required")
            return
        if not self.fake.has_model(name):
            self._send_error_json(404, f"model '{name}' not found")
            return
        self._send_json(200, self.fake.show(name))

    def _chat(self, number: int, fault: Fault, payload: dict[str, Any] | None) -> None:
        if fault.kind == "close_before_headers":
            self._abort()
            return
        if fault.kind == "slow" and self.fake.stopping.wait(fault.delay_s):
            self._abort()  # the server is shutting down
            return
        model = payload.get("model") if payload is not None else None
        if fault.kind == "status":
            message = _ERROR_MESSAGES.get(fault.status)
            if message is not None:
                message = message.format(model=model if isinstance(model, str) else "")
            self._send_error_json(fault.status, message, body=fault.body)
            return
        if payload is None:
            self._send_error_json(400, "invalid character looking for beginning of value")
            return
        if not isinstance(model, str) or not model:
            self._send_error_json(400, "model is required")
            return
        if not self.fake.has_model(model):
            self._send_error_json(404, _ERROR_MESSAGES[404].format(model=model))
            return

        pieces = split_reply(self.fake.reply)
        done_reason = "stop"
        options = payload.get("options")
        limit = options.get("num_predict") if isinstance(options, dict) else None
        if isinstance(limit, int) and 0 <= limit < len(pieces):
            pieces, done_reason = pieces[:limit], "length"
        prompt_eval_count = self.fake.prompt_eval_count
        if prompt_eval_count is None:
            prompt_eval_count = count_words(payload.get("messages"))
        eval_count = self.fake.eval_count if self.fake.eval_count is not None else len(pieces)
        final: dict[str, Any] = {
            "done": True,
            "done_reason": done_reason,
            "total_duration": _LOAD_NS + (prompt_eval_count + eval_count) * _NS_PER_TOKEN,
            "load_duration": _LOAD_NS,
            "prompt_eval_count": prompt_eval_count,
            "prompt_eval_duration": prompt_eval_count * _NS_PER_TOKEN,
            "eval_count": eval_count,
            "eval_duration": eval_count * _NS_PER_TOKEN,
        }

        if payload.get("stream", True) is not False:  # Ollama streams unless told not to
            self._stream(model, fault, pieces, final)
            return
        if fault.kind == "malformed_json":
            self._send_bytes(200, MALFORMED_JSON.encode())
            return
        if fault.kind == "error_mid_stream":
            self._send_error_json(500, MID_STREAM_ERROR)
            return
        message = {"role": "assistant", "content": "".join(pieces)}
        response = {"model": model, "created_at": _now(), "message": message, **final}
        if fault.kind == "close_mid_stream":
            raw = json.dumps(response).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(raw[: len(raw) // 2])
            self._abort()
            return
        self._send_json(200, response)

    def _stream(self, model: str, fault: Fault, pieces: list[str], final: dict[str, Any]) -> None:
        def line(content: str, extra: dict[str, Any] | None = None) -> str:
            message = {"role": "assistant", "content": content}
            body = {"model": model, "created_at": _now(), "message": message}
            return json.dumps({**body, **(extra or {"done": False})})

        self._start_stream()
        if fault.kind == "malformed_json":
            self._send_line(MALFORMED_JSON)
            self._end_stream()
            return
        if fault.kind in ("close_mid_stream", "error_mid_stream"):
            for piece in pieces[:CHUNKS_BEFORE_FAULT]:
                self._send_line(line(piece))
            if fault.kind == "close_mid_stream":
                self._abort()
                return
            self._send_line(json.dumps({"error": MID_STREAM_ERROR}))
            self._end_stream()
            return
        for piece in pieces:
            self._send_line(line(piece))
        self._send_line(line("", final))
        self._end_stream()


class FakeOllamaServer:
    """An Ollama server on 127.0.0.1 with scripted faults.

    Use it as a context manager; ``base_url`` (``http://127.0.0.1:<port>``) is what the
    ``ollama`` client takes as its host. ``reply``, ``models``, ``prompt_eval_count`` and
    ``eval_count`` may be changed at any time. The token counts reported by a chat default
    to the words of its messages and of its answer; set them to report fixed numbers.
    """

    def __init__(
        self,
        reply: str = "Hello from the fake Ollama server.",
        models: Iterable[str] = ("llama3.2",),
        *,
        context_length: int = 8192,
        prompt_eval_count: int | None = None,
        eval_count: int | None = None,
    ) -> None:
        self.reply: str = reply
        #: Names of the models "pulled" (``name`` and ``name:latest`` are the same model).
        self.models: list[str] = list(models)
        self.context_length: int = context_length
        self.prompt_eval_count: int | None = prompt_eval_count
        self.eval_count: int | None = eval_count
        #: JSON bodies received at ``/api/chat`` (a body that is not a JSON object is kept
        #: as ``{"_raw": text}``).
        self.requests: list[dict[str, Any]] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._calls = 0
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> FakeOllamaServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._httpd is not None:
            raise RuntimeError("the fake Ollama server is already running")
        self.stopping.clear()
        httpd = _HTTPServer(self)
        thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL_S},
            name=f"fake-ollama-{httpd.server_port}",
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
            raise RuntimeError("the fake Ollama server is not running (use it in a with block)")
        return self._httpd.server_port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- models -----------------------------------------------------------------------------

    def has_model(self, name: str) -> bool:
        return _base_name(name) in {_base_name(model) for model in self.models}

    def tag(self, name: str) -> dict[str, Any]:
        """One entry of ``/api/tags``."""
        full = name if ":" in name else f"{name}:latest"
        return {
            "name": full,
            "model": full,
            "modified_at": "2024-01-01T00:00:00Z",
            "size": 2_019_393_189,
            "digest": "0" * 64,
            "details": self._details(),
        }

    def show(self, name: str) -> dict[str, Any]:
        """The ``/api/show`` answer for ``name``."""
        return {
            "license": "",
            "modelfile": f"FROM {name}\n",
            "parameters": 'stop "<|eot_id|>"',
            "template": "{{ .Prompt }}",
            "details": self._details(),
            "model_info": {
                "general.architecture": "llama",
                "general.parameter_count": 3_212_749_888,
                "llama.context_length": self.context_length,
            },
            "capabilities": ["completion"],
            "modified_at": "2024-01-01T00:00:00Z",
        }

    @staticmethod
    def _details() -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": "llama",
            "families": ["llama"],
            "parameter_size": "3.2B",
            "quantization_level": "Q4_K_M",
        }

    # -- scripting and observation ----------------------------------------------------------

    def script(self, *faults: Fault) -> None:
        """Queue faults for the next ``/api/chat`` calls, in order (after any still queued).

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
        """Number of requests received at ``/api/chat``."""
        with self._lock:
            return self._calls

    def record(self, raw: bytes) -> tuple[int, Fault, dict[str, Any] | None]:
        """Count one chat request; return its number, its fault and its JSON body."""
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        payload = parsed if isinstance(parsed, dict) else None
        entry = dict(payload) if payload is not None else {"_raw": raw.decode("utf-8", "replace")}
        with self._lock:
            self._calls += 1
            self.requests.append(entry)
            fault = self._faults.popleft() if self._faults else _OK
            return self._calls, fault, payload
