"""A base for loopback stand-ins of model servers that tests cannot reach.

Tests of LogoMesh's LLM providers must not depend on a cloud service or on a daemon (and
the model pulled into it), so each provider's tests run a small HTTP server on 127.0.0.1
(standard library only) that speaks the subset of the real server's API the client uses.
This module holds what those stand-ins share; a stand-in (``fake_openai``, ``fake_ollama``)
adds its endpoints and the shape of its answers:

* :class:`LoopbackServer`: the server's lifecycle (a ``ThreadingHTTPServer`` on port 0 of
  127.0.0.1, served from a daemon thread; ``start``/``stop`` or a ``with`` block; a shutdown
  that wakes requests still waiting in a ``slow`` fault), the queue of scripted faults
  (``script()``, ``pending_faults``), and what tests observe: the requests received
  (``requests``, ``calls``) and how many are answered at once (``in_flight``,
  ``max_in_flight``).
* :class:`LoopbackFault` and ``CommonFaultKind``: the checks every stand-in's ``Fault``
  dataclass makes (a known ``kind``, an HTTP ``status``, a ``delay_s`` that is not
  negative), and the fault kinds every stand-in knows.
* :class:`LoopbackHandler`: the request handler's plumbing: quiet logging, routing, bodies,
  JSON answers, a body cut off after its headers, chunked streams, closing a connection
  without an answer, and the faults every stand-in handles the same way before it answers
  (``close_before_headers`` and ``slow``).

Every response closes its connection, so no idle keep-alive connection outlives the server.
Streams are sent with ``Transfer-Encoding: chunked``: a chunked body has an explicit end, so a
connection closed mid-stream is an error the client sees, not a short but apparently
complete answer.
"""

from __future__ import annotations

import json
import re
import socketserver
import sys
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import (
    Any,
    ClassVar,
    Final,
    Generic,
    Literal,
    Self,
    TypeVar,
    cast,
    get_args,
    get_type_hints,
)
from urllib.parse import urlsplit

__all__ = [
    "CommonFaultKind",
    "LoopbackFault",
    "LoopbackHandler",
    "LoopbackServer",
    "json_object",
    "split_reply",
]

HOST: Final = "127.0.0.1"
_POLL_INTERVAL_S: Final = 0.05

#: The fault kinds every stand-in knows; a stand-in's ``FaultKind`` adds its own
#: (``Literal[CommonFaultKind, "error_mid_stream"]``).
CommonFaultKind = Literal[
    "ok",
    "status",
    "slow",
    "malformed_json",
    "close_mid_stream",
    "close_before_headers",
]


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


def json_object(raw: bytes) -> dict[str, Any] | None:
    """``raw`` parsed as a JSON object; None if it is empty, not JSON, or not an object."""
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


class LoopbackFault:
    """Checks for a stand-in's ``Fault`` dataclass, which subclasses this.

    The dataclass declares at least ``kind`` (annotated with the ``Literal`` of the kinds it
    knows, which become ``kinds``), ``status`` and ``delay_s``.
    """

    #: The values ``kind`` may take: the ``Literal`` that annotates it in the subclass.
    kinds: ClassVar[frozenset[str]] = frozenset()
    kind: str
    status: int
    delay_s: float

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.kinds = frozenset(get_args(get_type_hints(cls)["kind"]))

    def __post_init__(self) -> None:
        if self.kind not in self.kinds:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {self.kinds}")
        if not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status code, got {self.status}")
        if self.delay_s < 0:
            raise ValueError(f"delay_s must be >= 0, got {self.delay_s}")


FaultT = TypeVar("FaultT", bound=LoopbackFault)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: LoopbackServer[Any], handler: type[LoopbackHandler]) -> None:
        self.fake = fake
        super().__init__((HOST, 0), handler)

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


class LoopbackServer(Generic[FaultT]):
    """A stand-in's server on 127.0.0.1: lifecycle, scripted faults, what it received.

    A subclass sets ``label`` (the server's name in messages and its thread's name),
    ``handler`` (its :class:`LoopbackHandler`), ``fault_type`` (its ``Fault`` class) and,
    where the client's base URL has a path, ``base_path``. Its handler calls :meth:`record`
    for each call that takes a fault, and answers it inside :meth:`LoopbackHandler._answering`.
    """

    label: ClassVar[str]
    handler: ClassVar[type[LoopbackHandler]]
    fault_type: ClassVar[type[LoopbackFault]]
    base_path: ClassVar[str] = ""

    def __init__(self) -> None:
        #: JSON bodies of the calls that take faults (a body that is not a JSON object is
        #: kept as ``{"_raw": text}``), with what :meth:`record` was given besides.
        self.requests: list[dict[str, Any]] = []
        #: Set while the server shuts down; ``slow`` faults wait on it.
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._faults: deque[FaultT] = deque()
        self._ok = cast(FaultT, self.fault_type("ok"))
        self._calls = 0
        self._in_flight = 0
        self._max_in_flight = 0
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._httpd is not None:
            raise RuntimeError(f"the fake {self.label} server is already running")
        self.stopping.clear()
        httpd = _HTTPServer(self, self.handler)
        thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL_S},
            name=f"fake-{self.label.lower()}-{httpd.server_port}",
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
            raise RuntimeError(
                f"the fake {self.label} server is not running (use it in a with block)"
            )
        return self._httpd.server_port

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}{self.base_path}"

    # -- scripting and observation ----------------------------------------------------------

    def script(self, *faults: FaultT) -> None:
        """Queue faults for the next calls that take them, in order (after any still queued).

        Once the queue is empty, calls answer normally.
        """
        for fault in faults:
            if not isinstance(fault, self.fault_type):
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
        """Number of calls received that take faults."""
        with self._lock:
            return self._calls

    @property
    def in_flight(self) -> int:
        """Calls being answered right now."""
        with self._lock:
            return self._in_flight

    @property
    def max_in_flight(self) -> int:
        """The most calls ever answered at the same time."""
        with self._lock:
            return self._max_in_flight

    def entered(self) -> None:
        """A handler starts answering a call (see ``max_in_flight``)."""
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def left(self) -> None:
        """A handler is done with a call (answered, failed or aborted)."""
        with self._lock:
            self._in_flight -= 1

    def record(self, raw: bytes, **extra: Any) -> tuple[int, FaultT, dict[str, Any] | None]:
        """Count one call; return its number, its fault and its JSON body.

        The body is kept in ``requests`` with ``extra`` added (``_authorization=...``).
        """
        payload = json_object(raw)
        entry: dict[str, Any] = (
            dict(payload) if payload is not None else {"_raw": raw.decode("utf-8", "replace")}
        )
        entry.update(extra)
        with self._lock:
            self._calls += 1
            self.requests.append(entry)
            fault = self._faults.popleft() if self._faults else self._ok
            return self._calls, fault, payload


class LoopbackHandler(BaseHTTPRequestHandler):
    """The plumbing of a stand-in's request handler; a subclass adds the ``do_*`` methods.

    A subclass sets ``server_version`` and may set ``json_content_type`` (the
    ``Content-Type`` of JSON answers), ``stream_content_type`` and ``stream_headers`` (the
    ``Content-Type`` and further headers of a stream).
    """

    protocol_version = "HTTP/1.1"
    sys_version = ""
    json_content_type: ClassVar[str] = "application/json"
    stream_content_type: ClassVar[str] = "application/octet-stream"
    stream_headers: ClassVar[dict[str, str]] = {}

    @property
    def fake(self) -> LoopbackServer[Any]:
        return cast(_HTTPServer, self.server).fake

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _route(self) -> str:
        path = urlsplit(self.path).path
        return path.rstrip("/") or "/"

    # -- bodies -----------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _json_body(self) -> dict[str, Any] | None:
        return json_object(self._read_body())

    # -- whole answers ----------------------------------------------------------------------

    def _send_head(
        self,
        status: int,
        length: int,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type or self.json_content_type)
        self.send_header("Content-Length", str(length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()

    def _send_bytes(
        self,
        status: int,
        raw: bytes,
        *,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """``raw`` as the whole body (``content_type`` defaults to ``json_content_type``)."""
        self._send_head(status, len(raw), content_type, headers)
        self.wfile.write(raw)
        self.wfile.flush()

    def _send_json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), headers=headers)

    def _send_body(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        """A scripted body, exactly: sent as JSON if it parses, otherwise as plain text."""
        try:
            json.loads(body)
            content_type = self.json_content_type
        except ValueError:
            content_type = "text/plain; charset=utf-8"
        self._send_bytes(status, body.encode(), content_type=content_type, headers=headers)

    def _send_half_json(self, payload: dict[str, Any]) -> None:
        """200 with the full ``Content-Length`` of ``payload``, half of it, then a close."""
        raw = json.dumps(payload).encode()
        self._send_head(200, len(raw))
        self.wfile.write(raw[: len(raw) // 2])
        self._abort()

    @staticmethod
    def _status_text(status: int) -> str:
        """``404 Not Found``; ``599 Error`` for a status code HTTP gives no phrase."""
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        return f"{status} {phrase}"

    def _abort(self) -> None:
        """Close the connection as it stands (the server closes the socket after return)."""
        self.wfile.flush()
        self.close_connection = True

    # -- streams ----------------------------------------------------------------------------

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", self.stream_content_type)
        for name, value in self.stream_headers.items():
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()

    def _send_chunk(self, raw: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(raw), raw))
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # -- faults -----------------------------------------------------------------------------

    @contextmanager
    def _answering(self) -> Iterator[None]:
        """Count the call as in flight while the block answers it."""
        self.fake.entered()
        try:
            yield
        finally:
            self.fake.left()

    def _fails_before_answer(self, fault: LoopbackFault) -> bool:
        """Carry out ``close_before_headers`` and ``slow``; True if nothing more is to be sent.

        ``slow`` waits ``delay_s`` seconds and then lets the call be answered, unless the server
        shuts down first: then the connection closes without an answer.
        """
        if fault.kind == "close_before_headers":
            self._abort()
            return True
        if fault.kind == "slow" and self.fake.stopping.wait(fault.delay_s):
            self._abort()  # the server is shutting down
            return True
        return False
